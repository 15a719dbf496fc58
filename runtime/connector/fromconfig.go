package connector

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/mcorun/mcorun/runtime/config"
)

// OptionsFromConfig builds connector options from a config's plugin.rabbitmq.* settings.
// A broker with ssl = 1 gets a verified TLS configuration from its CA, certificate and key
// files; there is no unverified mode.
func OptionsFromConfig(r config.Rabbit, identity string, log *slog.Logger) (Options, error) {
	o := Options{
		VHost:                 r.VHost,
		Heartbeat:             r.HeartbeatInterval,
		Identity:              identity,
		InitialReconnectDelay: r.InitialReconnectDelay,
		MaxReconnectDelay:     r.MaxReconnectDelay,
		BackoffMultiplier:     r.BackOffMultiplier,
		MaxReconnectAttempts:  r.MaxReconnectAttempts,
		ConnectTimeout:        r.ConnectTimeout,
		MaxBody:               r.MaxBody,
		Logger:                log,
	}
	for i, b := range r.Pool {
		cb := Broker{Host: b.Host, Port: b.Port, User: b.User, Password: b.Password}
		if b.SSL {
			tc, err := tlsConfig(b)
			if err != nil {
				return Options{}, fmt.Errorf("connector: plugin.rabbitmq.pool.%d.ssl: %w", i+1, err)
			}
			cb.TLS = tc
		}
		o.Pool = append(o.Pool, cb)
	}
	return o, nil
}

func tlsConfig(b config.Broker) (*tls.Config, error) {
	pool := x509.NewCertPool()
	for _, f := range strings.Split(b.SSLCA, ",") {
		pem, err := os.ReadFile(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca: %s holds no PEM certificate", f)
		}
	}
	cert, err := tls.LoadX509KeyPair(b.SSLCert, b.SSLKey)
	if err != nil {
		return nil, fmt.Errorf("cert and key: %w", err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: b.Host, MinVersion: tls.VersionTLS12}, nil
}
