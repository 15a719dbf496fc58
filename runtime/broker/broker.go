// Package broker is an embedded STOMP broker for single-machine use and tests: mcod
// --embedded-broker, and the in-process sandbox fleets.
//
// It serves the destinations MCollective's rabbitmq connector uses when
// plugin.rabbitmq.use_reply_exchange is set: /exchange/<c>_broadcast/<agent>,
// /exchange/<c>_directed/<identity> and /exchange/mcollective_reply/<id>. Every destination
// is a topic with exact-match routing: a message goes to every subscription on exactly
// that destination at the time it arrives, and is dropped when there is none. That is what
// RabbitMQ's exclusive auto-delete queues bound to a topic or direct exchange do for
// MCollective, since agent names and identities contain no routing wildcards. There are no
// queues, no temp-queues (/temp-queue/...) and no transactions across restarts; clients
// must speak STOMP 1.1 or 1.2 (stock mco: heartbeat_interval = 30 and stomp_1_0_fallback =
// false).
//
// The per-connection protocol (CONNECT and its login check, heart-beats, SUBSCRIBE, SEND,
// receipts, ERROR frames) is go-stomp's server/client package. Routing is this package's
// own: one goroutine owns the subscription table and never blocks on a client, and each
// subscription has a bounded outbox drained by a goroutine of its own, so a slow consumer
// delays only itself. A subscription whose outbox is full loses the message, and the loss
// is logged.
package broker

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
	"github.com/go-stomp/stomp/v3/server/client"
)

// Defaults for zero Options fields.
const (
	DefaultAddr       = "127.0.0.1:61613"
	DefaultHeartbeat  = 5 * time.Second
	DefaultMaxPending = 16384
	// closeWait bounds how long Close waits for connections to wind down.
	closeWait = 10 * time.Second
)

// Options configures Start. The zero value listens on DefaultAddr and accepts any login.
type Options struct {
	// Addr is the TCP address to listen on: DefaultAddr when empty, "127.0.0.1:0" for a
	// free port (see Broker.Addr).
	Addr string
	// Users maps logins to passwords. Nil accepts any login, which is allowed only when the
	// broker listens on a loopback address; a non-nil map admits only its entries (an empty
	// map admits nobody).
	Users map[string]string
	// Heartbeat is the shortest STOMP heart-beat interval the broker agrees to in either
	// direction; a client asking for a shorter non-zero one gets this. A client asking for
	// none gets none. Default DefaultHeartbeat.
	Heartbeat time.Duration
	// MaxPending bounds the messages queued for one subscription; beyond it new messages
	// for that subscription are dropped and logged. Default DefaultMaxPending.
	MaxPending int
	// Logger receives connection and drop events; nil discards. Passwords are never logged.
	Logger *slog.Logger
}

// Broker is a running embedded STOMP broker. Stop it with Close.
type Broker struct {
	opts Options
	log  *slog.Logger
	ln   net.Listener
	reqs chan client.Request // unbuffered: a request is handed over only when the router takes it

	routerDone chan struct{}
	acceptDone chan struct{}
	connsDone  sync.WaitGroup // one per accepted connection, until its goroutines have ended

	mu      sync.Mutex
	conns   map[*netConn]struct{}
	closing bool
	stop    chan struct{} // closed by Close: the router exits once no connection is left

	closeOnce sync.Once
	closeErr  error
}

// Start listens on opts.Addr and serves STOMP until Close. It fails when the address is
// taken, or when it is not a loopback address and opts.Users is nil. ctx bounds only the
// start itself.
func Start(ctx context.Context, opts Options) (*Broker, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker: listen: %w", err)
	}
	if opts.Users == nil && !isLoopback(ln.Addr()) {
		_ = ln.Close()
		return nil, fmt.Errorf("broker: %s is not a loopback address: logins are required (set Users)", ln.Addr())
	}
	b := &Broker{
		opts:       opts,
		log:        opts.Logger,
		ln:         ln,
		reqs:       make(chan client.Request),
		routerDone: make(chan struct{}),
		acceptDone: make(chan struct{}),
		conns:      map[*netConn]struct{}{},
		stop:       make(chan struct{}),
	}
	r := &router{b: b, table: NewTable[*client.Subscription](), subs: map[*client.Subscription]*outbox{}}
	go r.run()
	go b.accept()
	b.log.Info("broker: listening", "addr", b.Addr(), "logins", loginMode(opts.Users))
	return b, nil
}

// Addr returns the address the broker listens on, such as "127.0.0.1:40313".
func (b *Broker) Addr() string { return b.ln.Addr().String() }

// Close stops accepting connections, closes every client connection and waits until every
// goroutine of the broker has ended. It is idempotent.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() { b.closeErr = b.shutdown() })
	return b.closeErr
}

func (b *Broker) shutdown() error {
	b.mu.Lock()
	b.closing = true
	conns := make([]*netConn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	b.mu.Unlock()
	err := b.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	<-b.acceptDone
	for _, c := range conns {
		_ = c.Conn.Close()
	}
	close(b.stop)

	done := make(chan struct{})
	go func() { b.connsDone.Wait(); <-b.routerDone; close(done) }()
	select {
	case <-done:
	case <-time.After(closeWait):
		b.mu.Lock()
		n := len(b.conns)
		b.mu.Unlock()
		return fmt.Errorf("broker: close: %d connections did not finish within %v", n, closeWait)
	}
	b.log.Info("broker: closed", "addr", b.Addr())
	if err != nil {
		return fmt.Errorf("broker: close: %w", err)
	}
	return nil
}

// accept hands every new connection to go-stomp's per-connection protocol handler.
func (b *Broker) accept() {
	defer close(b.acceptDone)
	cfg := stompConfig{b}
	var backoff time.Duration
	for {
		nc, err := b.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait a little and carry on.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			b.log.Warn("broker: accept failed", "err", err, "retry", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := newNetConn(b, nc)
		b.mu.Lock()
		if b.closing {
			b.mu.Unlock()
			_ = nc.Close()
			continue
		}
		b.conns[c] = struct{}{}
		c.wg.Add(2) // go-stomp's reader and its processor
		b.connsDone.Add(1)
		b.mu.Unlock()
		go func() { c.wg.Wait(); c.forget(); b.connsDone.Done() }()
		b.log.Debug("broker: connection", "remote", nc.RemoteAddr())
		client.NewConn(cfg, c, b.reqs)
	}
}

// netConn is an accepted connection as go-stomp sees it. It reports when go-stomp's reader
// has seen the connection fail and when its processor has closed it: the last thing each of
// those goroutines does. Its Read side is a frame-level shim (see receipts).
type netConn struct {
	net.Conn
	b                  *Broker
	wg                 sync.WaitGroup
	readDone, procDone sync.Once

	in      *frame.Reader // frames from the client
	out     *frame.Writer // re-encoded into pending
	pending bytes.Buffer
}

func newNetConn(b *Broker, nc net.Conn) *netConn {
	c := &netConn{Conn: nc, b: b, in: frame.NewReader(nc)}
	c.out = frame.NewWriter(&c.pending)
	return c
}

// Read hands go-stomp the client's byte stream one whole frame at a time, after receipts
// has had its say.
func (c *netConn) Read(p []byte) (int, error) {
	for c.pending.Len() == 0 {
		f, err := c.in.Read()
		if err == nil {
			err = c.receipts(f)
		}
		if err != nil {
			c.readDone.Do(c.wg.Done)
			return 0, err
		}
	}
	return c.pending.Read(p)
}

// receiptDest is where the broker sends the frames that ask go-stomp for a receipt on the
// client's behalf; messages sent there go nowhere.
const receiptDest = "/broker/receipt"

// receipts passes f on. go-stomp's handler never answers a receipt header on SUBSCRIBE or
// UNSUBSCRIBE, and go-stomp's client waits for one on every UNSUBSCRIBE. So such a frame
// goes on without the header, followed by an empty SEND to receiptDest carrying it: the
// handler answers that with the RECEIPT once the frame before it has been handled.
func (c *netConn) receipts(f *frame.Frame) error {
	if f == nil {
		return c.out.Write(nil) // a heart-beat
	}
	receipt, ask := "", false
	if f.Command == frame.SUBSCRIBE || f.Command == frame.UNSUBSCRIBE {
		receipt, ask = f.Header.Contains(frame.Receipt)
		f.Header.Del(frame.Receipt)
	}
	if err := c.out.Write(f); err != nil {
		return err
	}
	if !ask {
		return nil
	}
	return c.out.Write(frame.New(frame.SEND, frame.Destination, receiptDest, frame.Receipt, receipt))
}

// Close is called by go-stomp's processor as it exits.
func (c *netConn) Close() error {
	err := c.Conn.Close()
	c.procDone.Do(c.wg.Done)
	return err
}

func (c *netConn) forget() {
	c.b.mu.Lock()
	delete(c.b.conns, c)
	c.b.mu.Unlock()
}

// stompConfig is what go-stomp's per-connection handler asks of the broker.
type stompConfig struct{ b *Broker }

func (s stompConfig) HeartBeat() time.Duration { return s.b.opts.Heartbeat }
func (s stompConfig) Logger() stomp.Logger     { return stompLogger{s.b.log} }

// Authenticate checks a CONNECT frame's login and passcode against Options.Users.
func (s stompConfig) Authenticate(login, passcode string) bool {
	users := s.b.opts.Users
	if users == nil {
		return true
	}
	want, ok := users[login]
	if ok && subtle.ConstantTimeCompare([]byte(want), []byte(passcode)) == 1 {
		return true
	}
	s.b.log.Warn("broker: login rejected", "login", login)
	return false
}

// stompLogger sends go-stomp's log lines to slog. It reports every closed connection as an
// error; those become info.
type stompLogger struct{ l *slog.Logger }

func (s stompLogger) Debugf(f string, v ...any)   { s.l.Debug("broker: stomp: " + fmt.Sprintf(f, v...)) }
func (s stompLogger) Infof(f string, v ...any)    { s.l.Debug("broker: stomp: " + fmt.Sprintf(f, v...)) }
func (s stompLogger) Warningf(f string, v ...any) { s.l.Warn("broker: stomp: " + fmt.Sprintf(f, v...)) }
func (s stompLogger) Errorf(f string, v ...any)   { s.l.Info("broker: stomp: " + fmt.Sprintf(f, v...)) }
func (s stompLogger) Debug(m string)              { s.l.Debug("broker: stomp: " + m) }
func (s stompLogger) Info(m string)               { s.l.Debug("broker: stomp: " + m) }
func (s stompLogger) Warning(m string)            { s.l.Warn("broker: stomp: " + m) }
func (s stompLogger) Error(m string)              { s.l.Info("broker: stomp: " + m) }

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

func loginMode(users map[string]string) string {
	if users == nil {
		return "any"
	}
	return fmt.Sprintf("%d users", len(users))
}
