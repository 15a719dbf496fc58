package connector

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/testenv"
)

const (
	vhost      = "/mcollective"
	collective = "mcollective"
	waitFor    = 10 * time.Second
)

// uniq returns prefix plus a random suffix, so tests never share destinations.
func uniq(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// broker returns the real RabbitMQ as a pool entry, or skips the test.
func broker(t *testing.T) Broker {
	t.Helper()
	addr := testenv.RequireRabbitMQ(t)
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return Broker{Host: host, Port: p, User: "mcollective", Password: "secret"}
}

// testLogger writes the package's log lines to the test log.
// Lines logged after the test ended (by goroutines still winding down) are dropped.
func testLogger(t *testing.T) *slog.Logger {
	w := &tlogWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tlogWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *tlogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// dial connects with opts, filling in the vhost, a logger and an identity,
// and closes the Conn when the test ends.
func dial(t *testing.T, opts Options) *Conn {
	t.Helper()
	if opts.VHost == "" {
		opts.VHost = vhost
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	if opts.Identity == "" {
		opts.Identity = uniq("test-")
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, err := Dial(ctx, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// collect returns a Handler that forwards messages to the returned channel.
func collect() (Handler, chan Message) {
	ch := make(chan Message, 1000)
	return func(m Message) { ch <- m }, ch
}

// sendUntil sends body to dest every 100ms until a message arrives on got,
// and returns it. Subscriptions on another connection bind asynchronously,
// so the first sends may find no queue yet.
func sendUntil(t *testing.T, c *Conn, dest string, body []byte, h SendHeaders, got <-chan Message) Message {
	t.Helper()
	deadline := time.After(waitFor)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		err := c.Send(ctx, dest, body, h)
		cancel()
		if err != nil {
			t.Fatalf("Send %s: %v", dest, err)
		}
		select {
		case m := <-got:
			return m
		case <-tick.C:
		case <-deadline:
			t.Fatalf("no message on %s within %v", dest, waitFor)
		}
	}
}

// waitChan waits for a value on ch, failing the test after waitFor.
func waitChan[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// proxy forwards TCP connections to the broker. It can freeze the
// connections it carries (no byte passes, nothing closes), and it names them
// as RabbitMQ's management API does.
type proxy struct {
	ln     net.Listener
	target string
	quit   chan struct{} // closed by close: frozen pipes then let go
	mu     sync.Mutex
	pipes  []*pipe
	all    []*pipe
	closed bool
}

type pipe struct {
	down, up net.Conn
	frozen   chan struct{}
	quit     <-chan struct{}
	once     sync.Once
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, quit: make(chan struct{})}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) broker(b Broker) Broker {
	b.Host = "127.0.0.1"
	b.Port = p.ln.Addr().(*net.TCPAddr).Port
	return b
}

func (p *proxy) serve() {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			down.Close()
			continue
		}
		pp := &pipe{down: down, up: up, frozen: make(chan struct{}), quit: p.quit}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			down.Close()
			up.Close()
			return
		}
		p.pipes = append(p.pipes, pp)
		p.all = append(p.all, pp)
		p.mu.Unlock()
		go pp.copy(up, down)
		go pp.copy(down, up)
	}
}

func (pp *pipe) copy(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-pp.frozen:
			<-pp.quit // drop the bytes and keep both sides open
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// freeze stops every current connection from passing bytes, without closing
// the client's side. New connections pass normally.
func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pp := range p.pipes {
		pp.once.Do(func() { close(pp.frozen) })
	}
	p.pipes = nil
}

// names returns the broker-side names of the current connections.
func (p *proxy) names() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ns []string
	for _, pp := range p.pipes {
		ns = append(ns, pp.up.LocalAddr().String()+" -> "+pp.up.RemoteAddr().String())
	}
	return ns
}

// close stops the proxy and closes every connection it carried. Idempotent.
func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	close(p.quit)
	for _, pp := range p.all {
		pp.down.Close()
		pp.up.Close()
	}
	p.pipes = nil
}

// killConnection closes the named connection through RabbitMQ's management
// API, retrying while the broker does not know it yet.
func killConnection(t *testing.T, name string) {
	t.Helper()
	base := os.Getenv(testenv.MgmtURLEnv)
	if base == "" {
		base = testenv.DefaultMgmtURL
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", testenv.MgmtURLEnv, err)
	}
	user := u.User.Username()
	pass, _ := u.User.Password()
	u.User = nil
	mgmtURL := strings.TrimSuffix(u.String(), "/")
	deadline := time.Now().Add(waitFor)
	for {
		req, err := http.NewRequest(http.MethodDelete, mgmtURL+"/api/connections/"+url.PathEscape(name), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(user, pass)
		req.Header.Set("X-Reason", "connector test")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			testenv.SkipOrFail(t, "rabbitmq management API not reachable at %s: %v", mgmtURL, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode/100 == 2:
			return
		case resp.StatusCode == http.StatusNotFound && time.Now().Before(deadline):
			time.Sleep(200 * time.Millisecond)
		default:
			t.Fatalf("DELETE connection %q: %s %s", name, resp.Status, body)
		}
	}
}

// reconnects counts OnReconnect calls on a channel.
func reconnects() (func(), chan struct{}) {
	ch := make(chan struct{}, 10)
	return func() { ch <- struct{}{} }, ch
}
