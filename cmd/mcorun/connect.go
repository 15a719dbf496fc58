package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/discovery"
)

// fleet is what the verbs need from runtime/client; tests supply a fake.
type fleet interface {
	Ping(ctx context.Context, opts client.DiscoverOptions) ([]pingReply, error)
	Discover(ctx context.Context, opts client.DiscoverOptions) ([]string, error)
	Call(ctx context.Context, agent, action string, args map[string]any, opts client.CallOptions) (*client.Results, error)
	DDL(agent string) (*ddl.Agent, error)
	Plan(agent, action string, args map[string]any, opts client.CallOptions) (*client.Plan, error)
}

// pingReply is one node's answer to a discovery ping.
type pingReply struct {
	Sender  string
	Elapsed time.Duration
}

// connectFunc opens a fleet client; the returned func closes it.
type connectFunc func(ctx context.Context, cfg *config.Config, log *slog.Logger) (fleet, func(), error)

// defaultDialTimeout bounds the first connection to the broker pool when the config sets no
// plugin.rabbitmq.max_reconnect_attempts.
const defaultDialTimeout = 10 * time.Second

// connectBroker returns a connectFunc that dials the broker pool the config names and returns
// a runtime/client on it, giving up after dialTimeout when the config would retry forever.
// cacheDir holds the discovery cache (docs/discovery.md); "" keeps none.
func connectBroker(dialTimeout time.Duration, cacheDir string) connectFunc {
	return func(ctx context.Context, cfg *config.Config, log *slog.Logger) (fleet, func(), error) {
		return dialBroker(ctx, cfg, log, dialTimeout, cacheDir)
	}
}

func dialBroker(ctx context.Context, cfg *config.Config, log *slog.Logger, dialTimeout time.Duration, cacheDir string) (fleet, func(), error) {
	rabbit, err := cfg.RabbitMQ()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", errConfig, cfg.ConfigFile, err)
	}
	opts, err := connector.OptionsFromConfig(rabbit, cfg.Identity, log)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", errConfig, cfg.ConfigFile, err)
	}
	if opts.QueueSize, err = replyQueue(cfg); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", errConfig, cfg.ConfigFile, err)
	}
	copts, err := client.OptionsFromConfig(cfg, log)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", errConfig, cfg.ConfigFile, err)
	}
	if copts.DiscoveryCache, err = discoveryCache(cfg, rabbit, cacheDir); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", errConfig, cfg.ConfigFile, err)
	}
	dctx, cancel := ctx, context.CancelFunc(func() {})
	if opts.MaxReconnectAttempts <= 0 {
		// The config says "retry forever", right for a daemon; a one-shot client gives up.
		dctx, cancel = context.WithTimeout(ctx, dialTimeout)
	}
	conn, err := connector.Dial(dctx, opts)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("interrupted while connecting to the broker: %w", ctx.Err())
		}
		return nil, nil, brokerUnreachable(cfg, opts, err)
	}
	c, err := client.New(conn, copts)
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

// discoveryCache is the client's discovery cache in dir, one per broker pool, unless
// plugin.mcorun.discovery_cache is off or dir is "".
func discoveryCache(cfg *config.Config, rabbit config.Rabbit, dir string) (client.DiscoveryCache, error) {
	on, err := cfg.PluginBool("mcorun.discovery_cache", true)
	if err != nil || !on || dir == "" {
		return nil, err
	}
	addrs := make([]string, len(rabbit.Pool))
	for i, b := range rabbit.Pool {
		addrs[i] = net.JoinHostPort(b.Host, strconv.Itoa(b.Port))
	}
	return discovery.Cache{Dir: dir, Scope: strings.Join(addrs, ",")}, nil
}

// defaultReplyQueue is how many replies the client buffers between the broker connection
// and their decoding: a whole fleet's burst of discovery replies. The connector's own default
// (1,000) dropped replies at 10,000 nodes, where they arrive faster than they are decoded.
const defaultReplyQueue = 16384

// replyQueue reads plugin.mcorun.reply_queue, the client's reply buffer.
func replyQueue(cfg *config.Config) (int, error) {
	const key = "mcorun.reply_queue"
	n, err := cfg.PluginInt(key, defaultReplyQueue)
	if err != nil {
		return 0, err
	}
	if n < 1000 || n > 1<<22 {
		return 0, fmt.Errorf("plugin.%s: want 1000 to %d replies, got %d", key, 1<<22, n)
	}
	return n, nil
}

// brokerUnreachable explains a failed first connection and says what to check.
func brokerUnreachable(cfg *config.Config, opts connector.Options, err error) error {
	addrs := make([]string, len(opts.Pool))
	for i, b := range opts.Pool {
		addrs[i] = b.Addr()
	}
	last := err
	if m, ok := err.(interface{ Unwrap() []error }); ok && errors.Is(err, connector.ErrUnavailable) {
		// The connector wraps ErrUnavailable, the context's error and the last broker's
		// error, in that order; the last one says what went wrong.
		if errs := m.Unwrap(); len(errs) > 0 {
			last = errs[len(errs)-1]
		}
	}
	return fmt.Errorf("cannot reach the broker (%s): %v\n"+
		"Check plugin.rabbitmq.pool.N.host, .port, .user and .password in %s, and that RabbitMQ runs with its\n"+
		"STOMP plugin listening there (rabbitmq-plugins enable rabbitmq_stomp). To try mcorun without a broker,\n"+
		"use --sandbox N", strings.Join(addrs, ", "), last, cfg.ConfigFile)
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

func (f clientFleet) Plan(agent, action string, args map[string]any, opts client.CallOptions) (*client.Plan, error) {
	return f.c.Plan(agent, action, args, opts)
}

// newLogger logs warnings and errors to stderr, or everything with verbose, in mcorun's own
// line format (lineHandler).
func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(newLineHandler(w, level))
}
