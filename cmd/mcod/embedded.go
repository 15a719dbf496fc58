package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/mcorun/mcorun/runtime/broker"
	"github.com/mcorun/mcorun/runtime/config"
)

// Credentials for the embedded broker's default pool when the config has none and the
// broker listens on a loopback address.
const (
	embeddedUser     = "mcollective"
	embeddedPassword = "secret"
)

// startEmbedded starts the in-process STOMP broker on listen and returns it with the
// connector settings mcod then uses. A config without plugin.rabbitmq.pool.size gets a
// one-broker pool pointing at the embedded broker; on a loopback address it logs in as
// mcollective/secret unless the config or STOMP_USER and STOMP_PASSWORD say otherwise. The
// broker admits the logins of every pool entry, and every one must have a user and a
// password; on any other address they must be configured, never defaulted.
func startEmbedded(ctx context.Context, cfg *config.Config, listen string, logger *slog.Logger) (*broker.Broker, config.Rabbit, error) {
	limits, err := brokerLimits(cfg)
	if err != nil {
		return nil, config.Rabbit{}, fmt.Errorf("%w: %w", errConfig, err)
	}
	loopback := loopbackListen(listen)
	_, hasPool := cfg.Plugin["rabbitmq.pool.size"]
	if !hasPool {
		// The port is filled in once the broker listens; validate everything else first.
		cfg.Plugin["rabbitmq.pool.size"] = "1"
		cfg.Plugin["rabbitmq.pool.1.host"] = "127.0.0.1"
		if _, ok := cfg.Plugin["rabbitmq.pool.1.user"]; !ok && loopback {
			cfg.Plugin["rabbitmq.pool.1.user"] = embeddedUser
		}
		if _, ok := cfg.Plugin["rabbitmq.pool.1.password"]; !ok && loopback {
			cfg.Plugin["rabbitmq.pool.1.password"] = embeddedPassword
		}
	}
	rabbit, err := cfg.RabbitMQ()
	if err != nil {
		return nil, config.Rabbit{}, fmt.Errorf("%w: %w", errConfig, err)
	}
	users := map[string]string{}
	for i, b := range rabbit.Pool {
		if b.User == "" || b.Password == "" {
			why := "a login needs a user and a password"
			if !loopback {
				why = fmt.Sprintf("--broker-listen %s is not a loopback address, so it needs configured logins", listen)
			}
			return nil, config.Rabbit{}, fmt.Errorf("%w: embedded broker: %s: set plugin.rabbitmq.pool.%d.user and plugin.rabbitmq.pool.%[3]d.password (or STOMP_USER and STOMP_PASSWORD) to non-empty values",
				errConfig, why, i+1)
		}
		users[b.User] = b.Password
	}
	if n, lowered := connectionLimit(limits.MaxConnections, openFileLimit()); lowered {
		logger.Warn("embedded broker: the open-file limit is too low for plugin.mcod.broker.max_connections; admitting fewer connections",
			"max_connections", n, "open_file_limit", openFileLimit(),
			"hint", "raise the limit (ulimit -n, or LimitNOFILE= in the systemd unit) to admit more")
		limits.MaxConnections = n
	}
	limits.Addr = listen
	limits.Users = users
	limits.Logger = logger.With("component", "broker")
	br, err := broker.Start(ctx, limits)
	if err != nil {
		return nil, config.Rabbit{}, fmt.Errorf("embedded broker: %w", err)
	}
	if !hasPool {
		host, port, err := connectAddr(br.Addr())
		if err != nil {
			_ = br.Close()
			return nil, config.Rabbit{}, fmt.Errorf("embedded broker: %w", err)
		}
		rabbit.Pool[0].Host, rabbit.Pool[0].Port = host, port
	}
	logger.Info("embedded broker started", "addr", br.Addr(), "pool", rabbit.Pool[0].String())
	return br, rabbit, nil
}

// brokerLimits reads the embedded broker's plugin.mcod.broker.* settings; unset ones keep
// the broker's defaults.
func brokerLimits(cfg *config.Config) (broker.Options, error) {
	var o broker.Options
	ints := []struct {
		key      string
		dst      *int
		min, max int
	}{
		{"mcod.broker.max_connections", &o.MaxConnections, 1, 1 << 20},
		{"mcod.broker.max_frame_bytes", &o.MaxFrameBytes, 64 << 10, 1 << 30},
		{"mcod.broker.outbox_bytes", &o.OutboxBytes, 64 << 10, 1 << 30},
	}
	for _, k := range ints {
		n, err := cfg.PluginInt(k.key, 0)
		if err != nil {
			return o, err
		}
		if _, set := cfg.Plugin[k.key]; set && (n < k.min || n > k.max) {
			return o, fmt.Errorf("config: %s: plugin.%s: want %d to %d, got %d", cfg.ConfigFile, k.key, k.min, k.max, n)
		}
		*k.dst = n
	}
	secs, err := cfg.PluginFloat("mcod.broker.connect_timeout", 0)
	if err != nil {
		return o, err
	}
	if _, set := cfg.Plugin["mcod.broker.connect_timeout"]; set && (secs <= 0 || secs > 3600) {
		return o, fmt.Errorf("config: %s: plugin.mcod.broker.connect_timeout: want more than 0 and at most 3600 seconds, got %v", cfg.ConfigFile, secs)
	}
	o.ConnectTimeout = time.Duration(secs * float64(time.Second))
	return o, nil
}

// fdHeadroom is the open files kept for the rest of mcod (logs, agents' commands, its own
// broker connection) when the open-file limit bounds the broker's connections.
const fdHeadroom = 256

// connectionLimit lowers the broker's connection limit (0: the broker's default) so that
// the connections, the loopback reserve and fdHeadroom fit within an open-file limit of
// fds (0: unknown). Otherwise the broker runs out of descriptors before its limit and
// refuses everyone, loopback included.
func connectionLimit(limit, fds int) (int, bool) {
	if limit <= 0 {
		limit = broker.DefaultMaxConnections
	}
	if fds <= 0 || limit+broker.LoopbackReserve+fdHeadroom <= fds {
		return limit, false
	}
	return max(1, fds-broker.LoopbackReserve-fdHeadroom), true
}

// loopbackListen reports whether a listen address is on loopback only. A host name other
// than localhost, or no host at all, counts as not loopback.
func loopbackListen(listen string) bool {
	h, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// connectAddr turns the broker's listen address into one to connect to: an unspecified
// address (0.0.0.0, ::) becomes loopback.
func connectAddr(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: %w", addr, err)
	}
	if ip := net.ParseIP(h); ip == nil || ip.IsUnspecified() {
		h = "127.0.0.1"
	}
	return h, port, nil
}
