package connector

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"time"
)

// newBackoff returns the reconnect backoff of the options, at its start.
func (c *Conn) newBackoff() backoff {
	o := c.opts
	return backoff{initial: o.InitialReconnectDelay, max: o.MaxReconnectDelay, mult: o.BackoffMultiplier}
}

// connectPool makes passes over the pool, waiting with backoff and jitter between them, until
// a broker connects, ctx ends or MaxReconnectAttempts passes failed. Dial uses it; the owner
// makes its passes one at a time (connectPass) so that it never waits.
func (c *Conn) connectPool(ctx context.Context, b *backoff) (*link, string, error) {
	for pass := 1; ; pass++ {
		l, addr, err := c.connectPass(ctx)
		if err == nil {
			return l, addr, nil
		}
		c.log.Warn("connector: connect failed", "pass", pass, "err", err)
		if ctx.Err() != nil {
			return nil, "", fmt.Errorf("%w: %w (last: %w)", ErrUnavailable, ctx.Err(), err)
		}
		if o := c.opts; o.MaxReconnectAttempts > 0 && pass >= o.MaxReconnectAttempts {
			return nil, "", fmt.Errorf("%w after %d attempts: %w", ErrUnavailable, pass, err)
		}
		t := time.NewTimer(jitter(b.next(), rand.Float64()))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, "", fmt.Errorf("%w: %w (last: %w)", ErrUnavailable, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// connectPass tries every broker of the pool once, in order. Its error is the last broker's.
func (c *Conn) connectPass(ctx context.Context) (*link, string, error) {
	var last error
	for _, br := range c.opts.Pool {
		l, err := c.connectOne(ctx, br)
		if err == nil {
			return l, br.Addr(), nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, "", last
}

// connectOne opens a TCP (or TLS) connection to br and performs the STOMP
// CONNECT exchange, all within ConnectTimeout and ctx.
func (c *Conn) connectOne(ctx context.Context, br Broker) (*link, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.ConnectTimeout)
	defer cancel()
	addr := br.Addr()
	var (
		nc  net.Conn
		err error
	)
	if br.TLS != nil {
		cfg := br.TLS.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = br.Host
		}
		d := tls.Dialer{Config: cfg}
		nc, err = d.DialContext(ctx, "tcp", addr)
	} else {
		var d net.Dialer
		nc, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	// The handshake's reads and writes end at ctx's deadline; cancelling ctx closes the socket.
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	l, err := c.handshake(ctx, nc, br)
	if !stop() {
		if err == nil {
			l.fail(context.Cause(ctx))
		}
		return nil, fmt.Errorf("connect %s: %w", addr, context.Cause(ctx))
	}
	if err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("connect %s: stomp: %w", addr, err)
	}
	return l, nil
}

// heartbeatGrace multiplies the read timeout (the broker's interval plus
// slack). RabbitMQ only checks every interval whether it sent anything,
// so its heartbeats can be almost two intervals apart; a healthy connection
// would otherwise be dropped. The Ruby client likewise tolerates
// two missed reads (max_hbread_fails).
const heartbeatGrace = 2.0

// heartbeat returns the heart-beat interval to ask for in both directions and
// the slack added to the read timeout (and taken off the send interval): 5s,
// or half the interval when that is shorter.
func heartbeat(d time.Duration) (interval, slack time.Duration) {
	if d <= 0 {
		return 0, 0
	}
	return d, min(heartbeatSlack, d/2)
}

// heartbeatSlack is the most slack heartbeat allows for transmission delays.
const heartbeatSlack = 5 * time.Second

// backoff yields the nominal wait before each pass over the pool after the first.
type backoff struct {
	initial, max time.Duration
	mult         float64
	cur          time.Duration
}

// reset starts the backoff again from its initial wait.
func (b *backoff) reset() { b.cur = 0 }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.initial
	} else {
		b.cur = min(time.Duration(float64(b.cur)*b.mult), b.max)
	}
	return b.cur
}

// jitter spreads d over [d/2, 3d/2) given r in [0, 1).
func jitter(d time.Duration, r float64) time.Duration {
	return d/2 + time.Duration(r*float64(d))
}
