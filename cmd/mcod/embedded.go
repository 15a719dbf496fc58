package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/mcorun/mcorun/runtime/broker"
	"github.com/mcorun/mcorun/runtime/config"
)

// Credentials for the embedded broker's default pool when the config has none.
const (
	embeddedUser     = "mcollective"
	embeddedPassword = "secret"
)

// startEmbedded starts the in-process STOMP broker on listen and returns it with the
// connector settings mcod then uses. A config without plugin.rabbitmq.pool.size gets a
// one-broker pool pointing at the embedded broker, logging in as mcollective/secret unless
// STOMP_USER and STOMP_PASSWORD say otherwise. The broker admits the logins of every pool
// entry.
func startEmbedded(ctx context.Context, cfg *config.Config, listen string, logger *slog.Logger) (*broker.Broker, config.Rabbit, error) {
	_, hasPool := cfg.Plugin["rabbitmq.pool.size"]
	if !hasPool {
		// The port is filled in once the broker listens; validate everything else first.
		cfg.Plugin["rabbitmq.pool.size"] = "1"
		cfg.Plugin["rabbitmq.pool.1.host"] = "127.0.0.1"
		if _, ok := cfg.Plugin["rabbitmq.pool.1.user"]; !ok {
			cfg.Plugin["rabbitmq.pool.1.user"] = embeddedUser
		}
		if _, ok := cfg.Plugin["rabbitmq.pool.1.password"]; !ok {
			cfg.Plugin["rabbitmq.pool.1.password"] = embeddedPassword
		}
	}
	rabbit, err := cfg.RabbitMQ()
	if err != nil {
		return nil, config.Rabbit{}, fmt.Errorf("%w: %w", errConfig, err)
	}
	users := map[string]string{}
	for _, b := range rabbit.Pool {
		users[b.User] = b.Password
	}
	br, err := broker.Start(ctx, broker.Options{
		Addr:   listen,
		Users:  users,
		Logger: logger.With("component", "broker"),
	})
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
