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
// subscription has an outbox bounded in messages and in bytes, drained by a goroutine of its
// own, so a slow consumer delays only itself. A subscription whose outbox is full loses the
// message, and the loss is logged.
//
// Frames are read by this package's frameReader, which bounds line length, header count and
// frame size before it buffers anything, more tightly until a connection has logged in. A
// connection must send its CONNECT within Options.ConnectTimeout, and Options.MaxConnections
// bounds the connections at once, with a few more kept for loopback peers.
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
	DefaultAddr           = "127.0.0.1:61613"
	DefaultHeartbeat      = 5 * time.Second
	DefaultMaxPending     = 16384
	DefaultMaxConnections = 16384
	DefaultMaxFrameBytes  = 16 << 20
	DefaultOutboxBytes    = 64 << 20
	DefaultConnectTimeout = 10 * time.Second
	// LoopbackReserve is how many connections from loopback addresses are admitted beyond
	// MaxConnections, so that a full broker still takes the local node and operator.
	LoopbackReserve = 32
	// closeWait bounds how long Close waits for connections to wind down.
	closeWait = 10 * time.Second
	// logEvery spaces the log lines about refused connections and frames, rejected
	// logins and dropped messages, which a client can cause at will.
	logEvery = time.Second
)

// Options configures Start. The zero value listens on DefaultAddr and accepts any login.
type Options struct {
	// Addr is the TCP address to listen on: DefaultAddr when empty, "127.0.0.1:0" for a
	// free port (see Broker.Addr).
	Addr string
	// Users maps logins to passwords. Nil accepts any login, which is allowed only when the
	// broker listens on a loopback address. A non-nil map admits only its entries; every
	// login and password in it must be non-empty (an empty login never matches), and a
	// broker on a non-loopback address needs at least one.
	Users map[string]string
	// MaxConnections bounds the client connections at once; loopback peers may open
	// LoopbackReserve more. Beyond it a new connection gets an ERROR frame and is closed.
	// Default DefaultMaxConnections.
	MaxConnections int
	// MaxFrameBytes bounds one frame (command, headers and body) of a logged-in connection;
	// a larger one closes the connection. Before login the bound is 16 KiB. Default
	// DefaultMaxFrameBytes.
	MaxFrameBytes int
	// ConnectTimeout is how long a new connection has to send its CONNECT frame before it
	// is closed. Default DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// OutboxBytes bounds the bytes queued for one subscription; beyond it new messages for
	// that subscription are dropped and logged (one message is always admitted into an
	// empty outbox). Default DefaultOutboxBytes.
	OutboxBytes int
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
	lim  limits              // for logged-in connections
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

	// Log lines a client can cause at will.
	refusedConns, refusedFrames, rejectedLogins throttle
}

// orDefault sets a zero or negative option to its default.
func orDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Start listens on opts.Addr and serves STOMP until Close. It fails when the address is
// taken, when Users has an empty login or password, or when the address is not a loopback
// one and Users has no login. ctx bounds only the start itself.
func Start(ctx context.Context, opts Options) (*Broker, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	orDefault(&opts.Heartbeat, DefaultHeartbeat)
	orDefault(&opts.MaxPending, DefaultMaxPending)
	orDefault(&opts.MaxConnections, DefaultMaxConnections)
	orDefault(&opts.MaxFrameBytes, DefaultMaxFrameBytes)
	orDefault(&opts.OutboxBytes, DefaultOutboxBytes)
	orDefault(&opts.ConnectTimeout, DefaultConnectTimeout)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxFrameBytes < preLogin.frame {
		return nil, fmt.Errorf("broker: MaxFrameBytes %d is less than the %d bytes a CONNECT frame may take", opts.MaxFrameBytes, preLogin.frame)
	}
	for login, pass := range opts.Users {
		if login == "" || pass == "" {
			return nil, errors.New("broker: a login with an empty name or password is never admitted: give every login a name and a password")
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker: listen: %w", err)
	}
	if len(opts.Users) == 0 && !isLoopback(ln.Addr()) {
		_ = ln.Close()
		return nil, fmt.Errorf("broker: %s is not a loopback address: it needs at least one login with a password (set Users)", ln.Addr())
	}
	b := &Broker{
		opts:       opts,
		log:        opts.Logger,
		ln:         ln,
		lim:        postLogin(opts.MaxFrameBytes),
		reqs:       make(chan client.Request),
		routerDone: make(chan struct{}),
		acceptDone: make(chan struct{}),
		conns:      map[*netConn]struct{}{},
		stop:       make(chan struct{}),
	}
	r := &router{b: b, table: NewTable[*client.Subscription](), subs: map[*client.Subscription]*outbox{}}
	go r.run()
	go b.accept()
	b.log.Info("broker: listening", "addr", b.Addr(), "logins", loginMode(opts.Users),
		"max_connections", opts.MaxConnections, "max_frame_bytes", opts.MaxFrameBytes,
		"outbox_bytes", opts.OutboxBytes, "connect_timeout", opts.ConnectTimeout)
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

// accept hands every new connection to go-stomp's per-connection protocol handler, or
// refuses it when the broker has as many as it admits.
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
		limit := b.opts.MaxConnections
		if isLoopback(nc.RemoteAddr()) {
			limit += LoopbackReserve
		}
		if n := len(b.conns); n >= limit {
			b.mu.Unlock()
			b.refuse(nc, n)
			continue
		}
		b.conns[c] = struct{}{}
		c.wg.Add(2) // go-stomp's reader and its processor
		b.connsDone.Add(1)
		b.mu.Unlock()
		// The CONNECT frame must arrive by then; netConn keeps go-stomp from lifting it.
		_ = nc.SetReadDeadline(time.Now().Add(b.opts.ConnectTimeout))
		go func() { c.wg.Wait(); c.forget(); b.connsDone.Done() }()
		b.log.Debug("broker: connection", "remote", nc.RemoteAddr())
		client.NewConn(cfg, c, b.reqs)
	}
}

// tooMany is the ERROR frame a connection beyond the limit gets before it is closed.
var tooMany = []byte("ERROR\nmessage:broker: too many connections, try again later\n\n\x00")

func (b *Broker) refuse(nc net.Conn, open int) {
	_ = nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = nc.Write(tooMany)
	_ = nc.Close()
	if ok, held := b.refusedConns.allow(); ok {
		b.log.Warn("broker: connection refused: too many connections", "remote", nc.RemoteAddr(),
			"open", open, "max_connections", b.opts.MaxConnections, "also_refused", held)
	}
}

// throttle lets one kind of log line through at most once per logEvery, and counts the
// events it held back in between.
type throttle struct {
	mu   sync.Mutex
	last time.Time
	held int
}

// allow reports whether to log now, and how many events were held back since the last
// line.
func (t *throttle) allow() (bool, int) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.last.IsZero() && now.Sub(t.last) < logEvery {
		t.held++
		return false, 0
	}
	held := t.held
	t.last, t.held = now, 0
	return true, held
}

// netConn is an accepted connection as go-stomp sees it. It reports when go-stomp's reader
// has seen the connection fail and when its processor has closed it: the last thing each of
// those goroutines does. Its Read side is a frame-level shim (see receipts) over the
// broker's own frameReader, which holds a connection to the pre-login limits until its
// CONNECT frame carries a login the broker admits.
type netConn struct {
	net.Conn
	b                  *Broker
	wg                 sync.WaitGroup
	readDone, procDone sync.Once

	// The rest belongs to go-stomp's reader goroutine, the only caller of Read and
	// SetReadDeadline.
	in       *frameReader  // frames from the client
	out      *frame.Writer // re-encoded into pending
	pending  bytes.Buffer
	greeted  bool // the first frame has been read
	loggedIn bool // ... and it was a CONNECT with an admitted login
}

func newNetConn(b *Broker, nc net.Conn) *netConn {
	c := &netConn{Conn: nc, b: b, in: newFrameReader(nc, preLogin)}
	c.out = frame.NewWriter(&c.pending)
	return c
}

// errNotLoggedIn ends the reading of a connection whose first frame was not a CONNECT with
// an admitted login, once go-stomp has that frame (and refuses it).
var errNotLoggedIn = errors.New("no login admitted")

// Read hands go-stomp the client's byte stream one whole frame at a time, after receipts
// has had its say.
func (c *netConn) Read(p []byte) (int, error) {
	for c.pending.Len() == 0 {
		if c.pending.Cap() > bodyChunk {
			c.pending = bytes.Buffer{} // do not keep a large frame's buffer
		}
		var f *frame.Frame
		err := errNotLoggedIn
		if !c.greeted || c.loggedIn {
			f, err = c.in.Read()
		}
		if err == nil && f != nil && !c.greeted {
			c.greet(f)
		}
		if err == nil {
			err = c.receipts(f)
		}
		if err != nil {
			if errors.Is(err, errLimit) {
				c.logRefusal(err)
			}
			c.readDone.Do(c.wg.Done)
			return 0, err
		}
	}
	return c.pending.Read(p)
}

func (c *netConn) logRefusal(err error) {
	if ok, held := c.b.refusedFrames.allow(); ok {
		c.b.log.Warn("broker: connection closed: "+err.Error(), "remote", c.RemoteAddr(),
			"logged_in", c.loggedIn, "also_refused", held)
	}
}

// greet looks at a connection's first frame. A CONNECT (or STOMP) whose login the broker
// admits lifts the pre-login limits and the CONNECT deadline; anything else is passed on
// for go-stomp to refuse, and nothing more is read.
func (c *netConn) greet(f *frame.Frame) {
	c.greeted = true
	if f.Command != frame.CONNECT && f.Command != frame.STOMP {
		return
	}
	if !c.b.admits(f.Header.Get(frame.Login), f.Header.Get(frame.Passcode)) {
		return
	}
	c.loggedIn = true
	c.in.lim = c.b.lim
}

// SetReadDeadline is go-stomp's heart-beat timeout. Before login the CONNECT deadline
// stands instead.
func (c *netConn) SetReadDeadline(t time.Time) error {
	if !c.loggedIn {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
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
	if s.b.admits(login, passcode) {
		return true
	}
	if ok, held := s.b.rejectedLogins.allow(); ok {
		s.b.log.Warn("broker: login rejected", "login", login, "also_rejected", held)
	}
	return false
}

// admits reports whether Options.Users lets login in with passcode. An empty login never
// matches a table.
func (b *Broker) admits(login, passcode string) bool {
	users := b.opts.Users
	if users == nil {
		return true
	}
	want, ok := users[login]
	return ok && login != "" && subtle.ConstantTimeCompare([]byte(want), []byte(passcode)) == 1
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
