// Package connector speaks STOMP to RabbitMQ the way MCollective 2.12's rabbitmq
// connector does, on top of go-stomp.
//
// A [Conn] connects to the first reachable broker of a pool, reconnects with
// backoff and jitter when the connection drops (broker restart, connection
// killed, heartbeat missed) and then re-establishes every live subscription,
// temp-queue ones included. Handlers run in one goroutine per subscription fed
// by a bounded queue, so a slow handler never stalls the connection: when the
// queue is full the message is dropped, logged and counted.
//
// Typical use:
//
//	c, err := connector.Dial(ctx, connector.Options{Pool: pool, VHost: "/mcollective", Identity: id})
//	sub, err := c.SubscribeTemp(connector.TempReplyName("rpcutil"), onReply)
//	err = c.Send(ctx, connector.BroadcastDest("mcollective", "rpcutil"), body,
//		connector.SendHeaders{ReplyTo: connector.TempQueueDest(connector.TempReplyName("rpcutil")), TTL: 60 * time.Second})
package connector

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/go-stomp/stomp/v3"
)

// Sentinel errors. Errors returned by this package wrap one of them where it applies.
var (
	// ErrUnavailable means no broker of the pool could be reached within the
	// context or within Options.MaxReconnectAttempts.
	ErrUnavailable = errors.New("connector: no broker reachable")
	// ErrDisconnected means the connection is down (reconnecting) and the
	// operation could not wait for it any longer.
	ErrDisconnected = errors.New("connector: disconnected")
	// ErrClosed means the Conn was closed with Close.
	ErrClosed = errors.New("connector: closed")
)

// MCollective's connector defaults, used for zero Options fields.
const (
	DefaultPort                  = 61613
	DefaultVHost                 = "/"
	DefaultInitialReconnectDelay = 10 * time.Millisecond
	DefaultMaxReconnectDelay     = 30 * time.Second
	DefaultBackoffMultiplier     = 2.0
	DefaultConnectTimeout        = 30 * time.Second
	DefaultQueueSize             = 1000
	DefaultMaxBody               = 8 << 20
)

// Broker is one entry of the broker pool (plugin.rabbitmq.pool.N.*).
type Broker struct {
	Host     string
	Port     int // 0 means DefaultPort
	User     string
	Password string
	// TLS, when not nil, makes the connection use TLS with this configuration.
	// An empty ServerName is set to Host.
	TLS *tls.Config
}

// Addr returns host:port of the broker.
func (b Broker) Addr() string {
	port := b.Port
	if port == 0 {
		port = DefaultPort
	}
	return net.JoinHostPort(b.Host, strconv.Itoa(port))
}

// Options configures Dial. The zero value of every field means MCollective's default.
type Options struct {
	// Pool lists the brokers, tried in order on every (re)connect. Required.
	Pool []Broker
	// VHost is sent as the CONNECT host header; RabbitMQ takes it as the vhost. Default "/".
	VHost string
	// Heartbeat is the STOMP heart-beat interval asked for in both directions;
	// 0 turns heartbeats off. The broker negotiates the final values.
	Heartbeat time.Duration
	// Identity is sent as the mc_sender header on every SEND.
	Identity string
	// InitialReconnectDelay, BackoffMultiplier and MaxReconnectDelay shape the
	// wait between passes over the pool (0.01s, x2, 30s by default). Each wait
	// is jittered to between half and one and a half times its nominal value.
	InitialReconnectDelay time.Duration
	MaxReconnectDelay     time.Duration
	BackoffMultiplier     float64
	// MaxReconnectAttempts bounds the passes over the whole pool, for Dial and
	// for every reconnect; 0 or negative means forever (MCollective's 0).
	MaxReconnectAttempts int
	// ConnectTimeout bounds one TCP (and TLS) connect plus the STOMP CONNECT
	// exchange with one broker. Default 30s.
	ConnectTimeout time.Duration
	// Logger receives connection transitions, drops and go-stomp's own
	// messages. Passwords are never logged. Nil discards.
	Logger *slog.Logger
	// QueueSize is the number of messages buffered per subscription in front of
	// its handler. Default 1000.
	QueueSize int
	// MaxBody is the largest message body handed to a handler; larger ones are
	// dropped and logged. Default 8 MiB.
	MaxBody int
	// OnReconnect, if set, is called after every successful reconnect, once all
	// subscriptions are re-established. It runs on the reconnecting goroutine,
	// outside any lock; it must not block for long, nor call Close.
	OnReconnect func()
}

func (o Options) withDefaults() Options {
	if o.VHost == "" {
		o.VHost = DefaultVHost
	}
	if o.InitialReconnectDelay <= 0 {
		o.InitialReconnectDelay = DefaultInitialReconnectDelay
	}
	if o.MaxReconnectDelay <= 0 {
		o.MaxReconnectDelay = DefaultMaxReconnectDelay
	}
	if o.BackoffMultiplier < 1 {
		o.BackoffMultiplier = DefaultBackoffMultiplier
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Conn is a STOMP connection to one broker of a pool that survives broker
// failures. It is safe for concurrent use.
type Conn struct {
	opts Options
	log  *slog.Logger

	ctx    context.Context // cancelled by Close; stops reconnecting
	cancel context.CancelFunc
	lost   chan struct{}  // capacity 1: wakes the supervisor after markLost
	done   chan struct{}  // closed when the supervisor exits
	wg     sync.WaitGroup // watchers and drains; Add only under mu while !closed

	mu      sync.Mutex
	sc      *stomp.Conn   // current connection; nil while disconnected
	gen     uint64        // incremented for every new connection
	broker  string        // address of the current or last broker
	lostErr error         // why connection gen dropped
	up      chan struct{} // closed while connected, replaced when the connection drops
	down    chan struct{} // closed when connection gen drops or the Conn closes
	subs    map[*Subscription]struct{}
	// unsubs are the go-stomp UNSUBSCRIBEs still waiting for their receipt (see
	// Subscription.Unsubscribe); Close lets them finish before it disconnects.
	unsubs map[chan struct{}]struct{}
	closed bool
	err    error // set when reconnecting gave up
}

// Dial connects to the first reachable broker of opts.Pool, trying them in
// order with backoff between passes, and returns a Conn that reconnects by
// itself until Close. It fails with an error wrapping ErrUnavailable when no
// broker is reachable within ctx or within opts.MaxReconnectAttempts passes.
func Dial(ctx context.Context, opts Options) (*Conn, error) {
	if len(opts.Pool) == 0 {
		return nil, errors.New("dial: empty broker pool")
	}
	o := opts.withDefaults()
	c := &Conn{
		opts: o,
		log:  o.Logger,
		lost: make(chan struct{}, 1),
		done: make(chan struct{}),
		up:   make(chan struct{}),
		subs: make(map[*Subscription]struct{}),
	}
	sc, addr, err := c.connectPool(ctx)
	if err != nil {
		return nil, err
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.install(sc, addr)
	c.log.Info("connector: connected", "broker", addr, "vhost", o.VHost, "version", sc.Version())
	go c.run()
	return c, nil
}

// Connected reports whether the Conn currently has a live connection.
func (c *Conn) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sc != nil
}

// Broker returns the address of the broker currently (or last) connected to.
func (c *Conn) Broker() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.broker
}

// Lost returns a channel that is closed when the current connection drops or the Conn is
// closed; it is already closed while the Conn is disconnected. Replies to a temp queue (or
// to a reply exchange queue) sent while the connection is down are lost, so a caller
// waiting for replies takes it as the end of that wait.
func (c *Conn) Lost() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sc == nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return c.down
}

// Done returns a channel closed when the Conn stops for good: after Close, or
// when reconnecting gave up after MaxReconnectAttempts (see Err).
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the Conn stopped: nil while it runs, ErrClosed after Close,
// or an error wrapping ErrUnavailable when reconnecting gave up.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if c.closed {
		return ErrClosed
	}
	return nil
}

// Close disconnects cleanly (DISCONNECT with a receipt), stops reconnecting
// and stops every subscription's handler. Handlers already running finish on
// their own. Close is idempotent.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.done
		return nil
	}
	c.closed = true
	unsubs := make([]chan struct{}, 0, len(c.unsubs))
	for ch := range c.unsubs {
		unsubs = append(unsubs, ch)
	}
	c.mu.Unlock()
	// An UNSUBSCRIBE whose connection goes away under it makes go-stomp close the
	// subscription's channel while its reader may still be sending on it (a data race in
	// go-stomp). Its receipt normally comes back within milliseconds, so Close lets the
	// ones in flight finish first, for a bounded time.
	grace := time.NewTimer(unsubscribeGrace)
	for _, ch := range unsubs {
		select {
		case <-ch:
		case <-grace.C:
		}
	}
	grace.Stop()
	c.mu.Lock()
	sc := c.sc
	if sc != nil {
		close(c.down)
	}
	c.sc = nil
	subs := c.snapshotLocked()
	clear(c.subs)
	c.mu.Unlock()

	c.cancel()
	var err error
	if sc != nil {
		if err = sc.Disconnect(); err != nil {
			_ = sc.MustDisconnect()
		}
	}
	for _, s := range subs {
		s.stopDelivery()
	}
	<-c.done
	c.wg.Wait() // go-stomp has torn every subscription down
	c.log.Info("connector: closed")
	if err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// unsubscribeGrace bounds how long Close waits for UNSUBSCRIBEs in flight.
const unsubscribeGrace = time.Second

// unsubscribing registers an UNSUBSCRIBE in flight; the caller closes the channel when it
// is done, which also forgets it.
func (c *Conn) unsubscribing() chan struct{} {
	ch := make(chan struct{})
	c.mu.Lock()
	if c.unsubs == nil {
		c.unsubs = map[chan struct{}]struct{}{}
	}
	c.unsubs[ch] = struct{}{}
	c.mu.Unlock()
	go func() {
		<-ch
		c.mu.Lock()
		delete(c.unsubs, ch)
		c.mu.Unlock()
	}()
	return ch
}

// track counts one more goroutine for Close to wait for; false after Close.
func (c *Conn) track() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	return true
}

func (c *Conn) snapshotLocked() []*Subscription {
	subs := make([]*Subscription, 0, len(c.subs))
	for s := range c.subs {
		subs = append(subs, s)
	}
	return subs
}

// install makes sc the current connection and starts watching it. It returns
// the new generation and the subscriptions to re-establish, or ok=false when
// the Conn was closed meanwhile (sc is then disconnected).
func (c *Conn) install(sc *stomp.Conn, addr string) (gen uint64, subs []*Subscription, ok bool) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = sc.Disconnect()
		return 0, nil, false
	}
	c.gen++
	gen = c.gen
	c.sc = sc
	c.broker = addr
	c.lostErr = nil
	c.down = make(chan struct{})
	close(c.up)
	subs = c.snapshotLocked()
	c.wg.Add(1)
	c.mu.Unlock()
	c.watch(sc, gen)
	return gen, subs, true
}

// watchDest keys the internal subscription that only exists to learn when
// go-stomp tears a connection down: go-stomp reports a lost connection
// (read error, heartbeat timeout, ERROR frame) to every subscription channel.
// It carries a reply-to header, so no SUBSCRIBE frame is ever sent for it.
const watchDest = "/temp-queue/.connector-watch"

// watch runs after c.wg.Add(1).
func (c *Conn) watch(sc *stomp.Conn, gen uint64) {
	ws, err := sc.Subscribe(watchDest, stomp.AckAuto, stomp.SubscribeOpt.Header(stomp.ReplyToHeader, watchDest))
	if err != nil {
		c.wg.Done()
		c.markLost(gen, err)
		return
	}
	go func() {
		defer c.wg.Done()
		var cause error
		for m := range ws.C {
			if m.Err != nil && cause == nil {
				cause = m.Err
			}
		}
		if cause == nil {
			cause = errors.New("connection closed")
		}
		c.markLost(gen, cause)
	}()
}

// markLost records that connection gen dropped and wakes the supervisor. It
// is a no-op for a connection that is no longer current.
func (c *Conn) markLost(gen uint64, cause error) {
	c.mu.Lock()
	if gen != c.gen || c.sc == nil {
		c.mu.Unlock()
		return
	}
	sc := c.sc
	c.sc = nil
	c.lostErr = cause
	c.up = make(chan struct{})
	close(c.down)
	c.mu.Unlock()
	// go-stomp's Send can hold the connection's lock for its send timeout
	// when the connection died under it; do not wait for that here.
	go func() { _ = sc.MustDisconnect() }()
	select {
	case c.lost <- struct{}{}:
	default:
	}
}

// run is the supervisor: the only goroutine that replaces a lost connection.
func (c *Conn) run() {
	defer close(c.done)
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.lost:
		}
		if c.ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		broker, cause := c.broker, c.lostErr
		c.mu.Unlock()
		c.log.Warn("connector: connection lost, reconnecting", "broker", broker, "err", cause)

		sc, addr, err := c.connectPool(c.ctx)
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			c.mu.Lock()
			c.err = fmt.Errorf("reconnect: %w", err)
			c.mu.Unlock()
			c.log.Error("connector: giving up reconnecting", "err", err)
			return
		}
		gen, subs, ok := c.install(sc, addr)
		if !ok {
			return
		}
		for _, s := range subs {
			if err := s.attach(sc, gen); err != nil {
				c.log.Warn("connector: resubscribe failed", "destination", s.dest, "err", err)
			}
		}
		c.log.Info("connector: reconnected", "broker", addr, "subscriptions", len(subs))
		if c.opts.OnReconnect != nil {
			c.opts.OnReconnect()
		}
	}
}

// current returns the live connection, waiting for a reconnect bounded by
// ctx, or by ConnectTimeout when ctx has no deadline.
func (c *Conn) current(ctx context.Context) (*stomp.Conn, uint64, error) {
	for {
		c.mu.Lock()
		sc, gen, up, closed, err := c.sc, c.gen, c.up, c.closed, c.err
		c.mu.Unlock()
		switch {
		case closed:
			return nil, 0, ErrClosed
		case err != nil:
			return nil, 0, err
		case sc != nil:
			return sc, gen, nil
		}
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, c.opts.ConnectTimeout)
			defer cancel()
		}
		select {
		case <-up:
		case <-c.done:
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("%w: %w", ErrDisconnected, ctx.Err())
		}
	}
}
