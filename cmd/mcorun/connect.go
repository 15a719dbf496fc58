package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/ddl"
)

// fleet is what the verbs need from runtime/client; tests supply a fake.
type fleet interface {
	Ping(ctx context.Context, opts client.DiscoverOptions) ([]pingReply, error)
	Discover(ctx context.Context, opts client.DiscoverOptions) ([]string, error)
	Call(ctx context.Context, agent, action string, args map[string]any, opts client.CallOptions) (*client.Results, error)
	DDL(agent string) (*ddl.Agent, error)
}

// pingReply is one node's answer to a discovery ping.
type pingReply struct {
	Sender  string
	Elapsed time.Duration
}

// connectFunc opens a fleet client; the returned func closes it.
type connectFunc func(ctx context.Context, cfg *config.Config, log *slog.Logger) (fleet, func(), error)

// connectBroker dials the broker pool the config names and returns a runtime/client on it.
func connectBroker(ctx context.Context, cfg *config.Config, log *slog.Logger) (fleet, func(), error) {
	rabbit, err := cfg.RabbitMQ()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", errConfig, cfg.ConfigFile, err)
	}
	opts, err := connector.OptionsFromConfig(rabbit, cfg.Identity, log)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", errConfig, cfg.ConfigFile, err)
	}
	conn, err := connector.Dial(ctx, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to the broker: %w", err)
	}
	c, err := client.FromConfig(cfg, conn, log)
	if err != nil {
		_ = conn.Close()
		return nil, nil, fmt.Errorf("%w: %s: %w", errConfig, cfg.ConfigFile, err)
	}
	closeFn := func() {
		c.Close()
		_ = conn.Close()
	}
	return clientFleet{c}, closeFn, nil
}

// clientFleet adapts *client.Client to fleet.
type clientFleet struct{ c *client.Client }

func (f clientFleet) Ping(ctx context.Context, opts client.DiscoverOptions) ([]pingReply, error) {
	rs, err := f.c.Ping(ctx, opts)
	out := make([]pingReply, len(rs))
	for i, r := range rs {
		out[i] = pingReply{Sender: r.Sender, Elapsed: r.Elapsed}
	}
	return out, err
}

func (f clientFleet) Discover(ctx context.Context, opts client.DiscoverOptions) ([]string, error) {
	return f.c.Discover(ctx, opts)
}

func (f clientFleet) Call(ctx context.Context, agent, action string, args map[string]any, opts client.CallOptions) (*client.Results, error) {
	return f.c.Call(ctx, agent, action, args, opts)
}

func (f clientFleet) DDL(agent string) (*ddl.Agent, error) { return f.c.DDL(agent) }

// newLogger logs warnings and errors to stderr, or everything with verbose.
func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
