package connector

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"

	"github.com/go-stomp/stomp/v3"
)

// connectPool tries every broker of the pool in order, then waits with
// backoff and jitter before the next pass, until one connects, ctx ends or
// MaxReconnectAttempts passes failed.
func (c *Conn) connectPool(ctx context.Context) (*stomp.Conn, string, error) {
	o := c.opts
	b := backoff{initial: o.InitialReconnectDelay, max: o.MaxReconnectDelay, mult: o.BackoffMultiplier}
	var last error
	for pass := 1; ; pass++ {
		for _, br := range o.Pool {
			sc, err := c.connectOne(ctx, br)
			if err == nil {
				return sc, br.Addr(), nil
			}
			last = err
			c.log.Warn("connector: connect failed", "broker", br.Addr(), "pass", pass, "err", err)
			if ctx.Err() != nil {
				return nil, "", fmt.Errorf("%w: %w (last: %w)", ErrUnavailable, ctx.Err(), last)
			}
		}
		if o.MaxReconnectAttempts > 0 && pass >= o.MaxReconnectAttempts {
			return nil, "", fmt.Errorf("%w after %d attempts: %w", ErrUnavailable, pass, last)
		}
		t := time.NewTimer(jitter(b.next(), rand.Float64()))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, "", fmt.Errorf("%w: %w (last: %w)", ErrUnavailable, ctx.Err(), last)
		case <-t.C:
		}
	}
}

// connectOne opens a TCP (or TLS) connection to br and performs the STOMP
// CONNECT exchange, all within ConnectTimeout and ctx.
func (c *Conn) connectOne(ctx context.Context, br Broker) (*stomp.Conn, error) {
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
	// go-stomp bounds only the CONNECTED read by ctx's deadline; the write
	// deadline and the close on cancellation are ours.
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetWriteDeadline(dl)
	}
	sc, err := stomp.ConnectWithContext(ctx, nc, c.stompOptions(br)...)
	if !stop() {
		if err == nil {
			_ = sc.MustDisconnect()
		}
		return nil, fmt.Errorf("connect %s: %w", addr, context.Cause(ctx))
	}
	if err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("connect %s: stomp: %w", addr, err)
	}
	_ = nc.SetWriteDeadline(time.Time{})
	return sc, nil
}

// stompOptions builds the CONNECT options for br.
func (c *Conn) stompOptions(br Broker) []func(*stomp.Conn) error {
	o := c.opts
	opts := []func(*stomp.Conn) error{
		stomp.ConnOpt.Host(o.VHost),
		stomp.ConnOpt.Logger(stompLogger{c.log}),
		stomp.ConnOpt.DisconnectReceiptTimeout(5 * time.Second),
		stomp.ConnOpt.UnsubscribeReceiptTimeout(5 * time.Second),
	}
	if br.User != "" || br.Password != "" {
		opts = append(opts, stomp.ConnOpt.Login(br.User, br.Password))
	}
	// go-stomp asks for one-minute heartbeats unless told otherwise.
	hb, slack := heartbeat(o.Heartbeat)
	opts = append(opts, stomp.ConnOpt.HeartBeat(hb, hb))
	if slack > 0 {
		opts = append(opts, stomp.ConnOpt.HeartBeatError(slack),
			stomp.ConnOpt.HeartBeatGracePeriodMultiplier(heartbeatGrace))
	}
	return opts
}

// heartbeatGrace multiplies go-stomp's read timeout (the broker's interval
// plus slack). RabbitMQ only checks every interval whether it sent anything,
// so its heartbeats can be almost two intervals apart; go-stomp would
// otherwise drop a healthy connection. The Ruby client likewise tolerates
// two missed reads (max_hbread_fails).
const heartbeatGrace = 2.0

// heartbeat returns the heart-beat interval to ask for in both directions and
// the slack go-stomp adds to its read timeout (and takes off its send
// interval): its 5s default, or half the interval when that is shorter.
func heartbeat(d time.Duration) (interval, slack time.Duration) {
	if d <= 0 {
		return 0, 0
	}
	return d, min(stomp.DefaultHeartBeatError, d/2)
}

// backoff yields the nominal wait before each pass over the pool after the first.
type backoff struct {
	initial, max time.Duration
	mult         float64
	cur          time.Duration
}

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

// stompLogger sends go-stomp's log lines to slog. go-stomp logs every
// subscription torn down by a lost connection at info level; those become
// debug, since the connector logs the loss itself.
type stompLogger struct{ l *slog.Logger }

func (s stompLogger) Debugf(f string, v ...any)   { s.l.Debug("stomp: " + fmt.Sprintf(f, v...)) }
func (s stompLogger) Infof(f string, v ...any)    { s.l.Debug("stomp: " + fmt.Sprintf(f, v...)) }
func (s stompLogger) Warningf(f string, v ...any) { s.l.Warn("stomp: " + fmt.Sprintf(f, v...)) }
func (s stompLogger) Errorf(f string, v ...any)   { s.l.Error("stomp: " + fmt.Sprintf(f, v...)) }
func (s stompLogger) Debug(m string)              { s.l.Debug("stomp: " + m) }
func (s stompLogger) Info(m string)               { s.l.Debug("stomp: " + m) }
func (s stompLogger) Warning(m string)            { s.l.Warn("stomp: " + m) }
func (s stompLogger) Error(m string)              { s.l.Error("stomp: " + m) }
