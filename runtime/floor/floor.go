// Package floor measures the raw STOMP floor of a broadcast call: one SEND to a topic that
// N subscribers receive, each answering with one SEND to the caller's reply destination,
// straight through go-stomp with no codec, no signature and no pipeline. The subscribers
// share Connections connections, as mcod --simulate's nodes do, so the floor and the
// simulated fleet put the same connection load on the broker.
package floor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-stomp/stomp/v3"
)

// Options configures Start.
type Options struct {
	// Addr is the broker's STOMP address, such as "127.0.0.1:61613".
	Addr string
	// VHost, User and Password are the CONNECT host and login; VHost "" means "/".
	VHost, User, Password string
	// Collective names the broadcast exchange, <Collective>_broadcast, which must exist on
	// RabbitMQ. Replies go through mcollective_reply, as with use_reply_exchange.
	Collective string
	// Nodes is the number of subscribers; Connections the connections they share (0 or more
	// than Nodes: one each).
	Nodes, Connections int
	// BodyBytes is the size of the request and of each reply; 0 means 256.
	BodyBytes int
}

// Floor is a set of subscribers ready for rounds. Close it when done.
type Floor struct {
	opts    Options
	conns   []*stomp.Conn
	client  *stomp.Conn
	replies *stomp.Subscription
	dest    string
	body    []byte
	wg      sync.WaitGroup
	mu      sync.Mutex // serializes Round
}

// readyTimeout bounds Start's wait for every subscriber to answer a round.
const readyTimeout = 2 * time.Minute

// Start connects the subscribers and the caller and returns once every subscriber is
// subscribed (a round has reached them all, within readyTimeout).
func Start(ctx context.Context, o Options) (_ *Floor, err error) {
	if o.Nodes < 1 {
		return nil, errors.New("floor: Nodes must be at least 1")
	}
	if o.Connections <= 0 || o.Connections > o.Nodes {
		o.Connections = o.Nodes
	}
	if o.VHost == "" {
		o.VHost = "/"
	}
	if o.BodyBytes <= 0 {
		o.BodyBytes = 256
	}
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	f := &Floor{opts: o, dest: "/exchange/" + o.Collective + "_broadcast/floor",
		body: make([]byte, o.BodyBytes), conns: make([]*stomp.Conn, o.Connections)}
	defer func() {
		if err != nil {
			_ = f.Close()
		}
	}()
	for k := range f.conns {
		if f.conns[k], err = f.dial(); err != nil {
			return nil, err
		}
	}
	subs := make([]*stomp.Subscription, o.Nodes)
	for i := range subs {
		c := f.conns[i%len(f.conns)]
		if subs[i], err = c.Subscribe(f.dest, stomp.AckAuto); err != nil {
			return nil, fmt.Errorf("floor: subscribe: %w", err)
		}
		f.wg.Add(1)
		go f.answer(c, subs[i])
	}
	if f.client, err = f.dial(); err != nil {
		return nil, err
	}
	replyTo := "/exchange/mcollective_reply/floor-" + hex.EncodeToString(id)
	if f.replies, err = f.client.Subscribe(replyTo, stomp.AckAuto); err != nil {
		return nil, fmt.Errorf("floor: subscribe to replies: %w", err)
	}
	// A subscription on RabbitMQ is bound asynchronously: repeat a round until all answer,
	// waiting longer each time, since a round of 10,000 replies can take seconds.
	deadline := time.Now().Add(readyTimeout)
	for wait := time.Second; ; wait = min(2*wait, 16*time.Second) {
		_, got, err := f.round(ctx, replyTo, wait)
		if err != nil {
			return nil, err
		}
		if got == o.Nodes {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("floor: only %d of %d subscribers answered within %v", got, o.Nodes, readyTimeout)
		}
	}
	return f, nil
}

func (f *Floor) dial() (*stomp.Conn, error) {
	c, err := stomp.Dial("tcp", f.opts.Addr, stomp.ConnOpt.Login(f.opts.User, f.opts.Password),
		stomp.ConnOpt.Host(f.opts.VHost), stomp.ConnOpt.HeartBeat(0, 0), stomp.ConnOpt.Logger(quiet{}))
	if err != nil {
		return nil, fmt.Errorf("floor: connect to %s: %w", f.opts.Addr, err)
	}
	return c, nil
}

// answer replies to every message of sub on c until the subscription ends.
func (f *Floor) answer(c *stomp.Conn, sub *stomp.Subscription) {
	defer f.wg.Done()
	for m := range sub.C {
		if m.Err != nil {
			continue
		}
		if to := m.Header.Get("reply-to"); to != "" {
			_ = c.Send(to, "text/plain", f.body)
		}
	}
}

// Round sends one broadcast and waits for every reply, or for timeout. It returns the time
// from the SEND to the last reply and the number of replies.
func (f *Floor) Round(ctx context.Context, timeout time.Duration) (time.Duration, int, error) {
	return f.round(ctx, f.replies.Destination(), timeout)
}

func (f *Floor) round(ctx context.Context, replyTo string, timeout time.Duration) (time.Duration, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// Drop what a previous round left behind.
	for len(f.replies.C) > 0 {
		<-f.replies.C
	}
	start := time.Now()
	if err := f.client.Send(f.dest, "text/plain", f.body, stomp.SendOpt.Header("reply-to", replyTo)); err != nil {
		return 0, 0, fmt.Errorf("floor: send: %w", err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	got := 0
	for got < f.opts.Nodes {
		select {
		case m, ok := <-f.replies.C:
			if !ok {
				return 0, got, errors.New("floor: the reply subscription ended")
			}
			if m.Err == nil {
				got++
			}
		case <-t.C:
			return time.Since(start), got, nil
		case <-ctx.Done():
			return time.Since(start), got, ctx.Err()
		}
	}
	return time.Since(start), got, nil
}

// Close disconnects everything and waits for the subscribers to stop.
func (f *Floor) Close() error {
	var errs []error
	if f.client != nil {
		errs = append(errs, f.client.Disconnect())
	}
	for _, c := range f.conns {
		if c != nil {
			errs = append(errs, c.Disconnect())
		}
	}
	f.wg.Wait()
	return errors.Join(errs...)
}

// quiet drops go-stomp's log lines (a closed connection logs one per subscription).
type quiet struct{}

func (quiet) Debugf(string, ...any)   {}
func (quiet) Infof(string, ...any)    {}
func (quiet) Warningf(string, ...any) {}
func (quiet) Errorf(string, ...any)   {}
func (quiet) Debug(string)            {}
func (quiet) Info(string)             {}
func (quiet) Warning(string)          {}
func (quiet) Error(string)            {}
