// Package connector speaks STOMP to RabbitMQ the way MCollective 2.12's rabbitmq
// connector does, on top of go-stomp.
//
// A [Conn] connects to the first reachable broker of a pool, reconnects with
// backoff and jitter when the connection drops (broker restart, connection
// killed, heartbeat missed, a subscription refused) and then re-establishes
// every live subscription, temp-queue ones included. The backoff carries over
// from one connection to the next until a connection has stayed up for
// Options.HealthyAfter, so a broker that accepts the login and then refuses a
// subscription is retried at a falling rate, not in a loop. Handlers run in one
// goroutine per subscription fed by a bounded queue, so a slow handler never
// stalls the connection: when the queue is full the message is dropped, logged
// (rate-limited, with counts) and counted.
//
// One goroutine, the owner, holds the connection, its generation and the
// subscriptions; Send, Subscribe, Unsubscribe, Close and the accessors ask it
// over a channel and it never blocks. Each connection has a reader and a writer
// goroutine that stop when the connection does; no wait anywhere is unbounded.
// The STOMP client is this package's own, on go-stomp's frame reader and
// writer: go-stomp's client leaves goroutines waiting forever when a SUBSCRIBE
// races a dying connection.
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
	"log/slog"
	"net"
	"strconv"
	"time"
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
	DefaultSendWait              = 5 * time.Second
	DefaultHealthyAfter          = 30 * time.Second
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
	// Logger receives connection transitions and drops (rate-limited, with
	// counts). Passwords are never logged. Nil discards.
	Logger *slog.Logger
	// QueueSize is the number of messages buffered per subscription in front of
	// its handler. Default 1000.
	QueueSize int
	// MaxBody is the largest message body handed to a handler; larger ones are
	// dropped and logged. Default 8 MiB.
	MaxBody int
	// OnReconnect, if set, is called after every successful reconnect, once all
	// subscriptions are re-established (their SUBSCRIBE frames queued). It runs on
	// a goroutine of its own.
	OnReconnect func()
	// SendWait bounds how long Send waits for a reconnect, whatever its context's
	// deadline: a caller learns within seconds that no broker is there. Default 5s.
	SendWait time.Duration
	// HealthyAfter is how long a connection must stay up before the reconnect
	// backoff starts again from InitialReconnectDelay. Default 30s.
	HealthyAfter time.Duration
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
	if o.SendWait <= 0 {
		o.SendWait = DefaultSendWait
	}
	if o.HealthyAfter <= 0 {
		o.HealthyAfter = DefaultHealthyAfter
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

	ctx    context.Context // cancelled when the owner stops; ends connects in flight
	cancel context.CancelFunc
	reqs   chan func(*state) // run on the owner goroutine, which never blocks in them
	frames chan inbound      // every connection's reader hands its frames to the owner
	done   chan struct{}     // closed when the owner exits

	// Written by the owner before it closes done, read only after done.
	err        error  // ErrClosed, or why reconnecting gave up
	lastBroker string // the broker last connected to
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
		opts:   o,
		log:    o.Logger,
		reqs:   make(chan func(*state)),
		frames: make(chan inbound),
		done:   make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	bo := c.newBackoff()
	l, addr, err := c.connectPool(ctx, &bo)
	if err != nil {
		c.cancel()
		return nil, err
	}
	s := newState(c, bo)
	s.install(l, addr)
	c.log.Info("connector: connected", "broker", addr, "vhost", o.VHost, "version", l.version)
	go s.run()
	return c, nil
}

// do runs f on the owner goroutine and returns once it ran, or false when the
// owner has stopped (see Err). f must not block.
func (c *Conn) do(f func(*state)) bool {
	ran := make(chan struct{})
	select {
	case c.reqs <- func(s *state) { f(s); close(ran) }:
		<-ran
		return true
	case <-c.done:
		return false
	}
}

// stopped returns why the owner stopped; only after done is closed.
func (c *Conn) stopped() error {
	if c.err != nil {
		return c.err
	}
	return ErrClosed
}

// Connected reports whether the Conn currently has a live connection.
func (c *Conn) Connected() bool {
	var up bool
	c.do(func(s *state) { up = s.link != nil })
	return up
}

// Broker returns the address of the broker currently (or last) connected to.
func (c *Conn) Broker() string {
	var b string
	if !c.do(func(s *state) { b = s.broker }) {
		return c.lastBroker
	}
	return b
}

// Lost returns a channel that is closed when the current connection drops or the Conn is
// closed; it is already closed while the Conn is disconnected. Replies to a temp queue (or
// to a reply exchange queue) sent while the connection is down are lost, so a caller
// waiting for replies takes it as the end of that wait. Cause then says why.
func (c *Conn) Lost() <-chan struct{} {
	var ch <-chan struct{}
	if !c.do(func(s *state) { ch = s.down }) {
		closed := make(chan struct{})
		close(closed)
		return closed
	}
	return ch
}

// Cause returns why the last connection dropped: a *BrokerError when the broker
// refused something (a missing exchange, say), the read or write error otherwise;
// nil when no connection has dropped yet.
func (c *Conn) Cause() error {
	var err error
	if !c.do(func(s *state) { err = s.cause }) {
		return c.stopped()
	}
	return err
}

// Done returns a channel closed when the Conn stops for good: after Close, or
// when reconnecting gave up after MaxReconnectAttempts (see Err).
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the Conn stopped: nil while it runs, ErrClosed after Close,
// or an error wrapping ErrUnavailable when reconnecting gave up.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.stopped()
	default:
		return nil
	}
}

// Close disconnects cleanly (DISCONNECT, waiting up to CloseWait for its
// receipt), stops reconnecting and stops every subscription's handler. Handlers
// already running finish on their own. Close is idempotent and returns within
// twice CloseWait.
func (c *Conn) Close() error {
	c.do(func(s *state) { s.close() })
	<-c.done
	return nil
}

// CloseWait bounds how long Close waits for the broker's receipt of DISCONNECT,
// and then again for the connection's goroutines to end: Close returns within
// twice CloseWait.
const CloseWait = time.Second
