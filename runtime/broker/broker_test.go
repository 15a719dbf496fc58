package broker

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
)

// quiet keeps go-stomp's client from logging every subscription a closed connection ends.
var quiet = stomp.ConnOpt.Logger(stompLogger{slog.New(slog.DiscardHandler)})

func start(t *testing.T, opts Options) *Broker {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	b, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

func dial(t *testing.T, b *Broker, login, pass string) *stomp.Conn {
	t.Helper()
	c, err := stomp.Dial("tcp", b.Addr(), stomp.ConnOpt.Login(login, pass), stomp.ConnOpt.HeartBeat(0, 0), quiet)
	if err != nil {
		t.Fatalf("dial %s: %v", b.Addr(), err)
	}
	t.Cleanup(func() { _ = c.MustDisconnect() })
	return c
}

func subscribe(t *testing.T, c *stomp.Conn, dest string) *stomp.Subscription {
	t.Helper()
	s, err := c.Subscribe(dest, stomp.AckAuto)
	if err != nil {
		t.Fatalf("subscribe %s: %v", dest, err)
	}
	return s
}

// flush makes sure every frame c sent before has been handled by the broker: a receipt
// comes back only after the frames before it were read.
func flush(t *testing.T, c *stomp.Conn) {
	t.Helper()
	if err := c.Send("/exchange/nowhere/x", "text/plain", nil, stomp.SendOpt.Receipt); err != nil {
		t.Fatalf("send with receipt: %v", err)
	}
}

func receive(t *testing.T, s *stomp.Subscription) *stomp.Message {
	t.Helper()
	select {
	case m := <-s.C:
		if m.Err != nil {
			t.Fatalf("%s: %v", s.Destination(), m.Err)
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no message within 5s", s.Destination())
	}
	return nil
}

func TestLogin(t *testing.T) {
	b := start(t, Options{Users: map[string]string{"mcollective": "secret"}})
	for _, tc := range []struct {
		name, login, pass string
		ok                bool
	}{
		{"good", "mcollective", "secret", true},
		{"bad password", "mcollective", "wrong", false},
		{"unknown login", "someone", "secret", false},
		{"no login", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := []func(*stomp.Conn) error{stomp.ConnOpt.HeartBeat(0, 0), quiet}
			if tc.login != "" {
				opts = append(opts, stomp.ConnOpt.Login(tc.login, tc.pass))
			}
			c, err := stomp.Dial("tcp", b.Addr(), opts...)
			if err == nil {
				_ = c.Disconnect()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("dial as %q: err %v, want ok=%v", tc.login, err, tc.ok)
			}
		})
	}
}

func TestStartRefusesOpenListenerWithoutUsers(t *testing.T) {
	_, err := Start(context.Background(), Options{Addr: "0.0.0.0:0"})
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Fatalf("Start on 0.0.0.0 without users: err %v", err)
	}
	b := start(t, Options{Addr: "0.0.0.0:0", Users: map[string]string{"u": "p"}})
	if !strings.HasPrefix(b.Addr(), "[::]:") && !strings.HasPrefix(b.Addr(), "0.0.0.0:") {
		t.Errorf("Addr = %q", b.Addr())
	}
}

func TestBroadcastFansOut(t *testing.T) {
	b := start(t, Options{})
	const dest = "/exchange/mcollective_broadcast/rpcutil"
	var subs []*stomp.Subscription
	for i := range 3 {
		c := dial(t, b, fmt.Sprintf("node%d", i), "x")
		subs = append(subs, subscribe(t, c, dest))
		// An unrelated subscription on the same connection sees nothing.
		subscribe(t, c, "/exchange/mcollective_broadcast/discovery")
		flush(t, c)
	}
	sender := dial(t, b, "client", "x")
	for i := range 10 {
		if err := sender.Send(dest, "text/plain", []byte(fmt.Sprint(i)), stomp.SendOpt.Header("reply-to", "/exchange/mcollective_reply/c_1_1")); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range subs {
		for want := range 10 {
			m := receive(t, s)
			if string(m.Body) != fmt.Sprint(want) || m.Header.Get("reply-to") != "/exchange/mcollective_reply/c_1_1" || m.Destination != dest {
				t.Fatalf("subscriber %d message %d: body %q, headers %v", i, want, m.Body, m.Header)
			}
		}
	}
}

func TestReplyExchangeRoundTrip(t *testing.T) {
	b := start(t, Options{})
	node := dial(t, b, "node", "x")
	reqs := subscribe(t, node, "/exchange/mcollective_directed/node1")
	flush(t, node)

	cl := dial(t, b, "client", "x")
	const replyTo = "/exchange/mcollective_reply/client_42_1"
	replies := subscribe(t, cl, replyTo)
	body := []byte("request\x00with a NUL")
	if err := cl.Send("/exchange/mcollective_directed/node1", "text/plain; charset=UTF-8", body,
		stomp.SendOpt.Header("reply-to", replyTo), stomp.SendOpt.Header("expiration", "70000")); err != nil {
		t.Fatal(err)
	}
	req := receive(t, reqs)
	if string(req.Body) != string(body) {
		t.Fatalf("request body %q", req.Body)
	}
	if err := node.Send(req.Header.Get("reply-to"), "text/plain", []byte("pong")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, replies); string(m.Body) != "pong" {
		t.Fatalf("reply body %q", m.Body)
	}

	// After UNSUBSCRIBE nothing more arrives there.
	if err := replies.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	again := subscribe(t, cl, replyTo+"x")
	flush(t, cl)
	if err := node.Send(replyTo, "text/plain", []byte("late")); err != nil {
		t.Fatal(err)
	}
	if err := node.Send(replyTo+"x", "text/plain", []byte("marker")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, again); string(m.Body) != "marker" {
		t.Fatalf("got %q, want the marker", m.Body)
	}
}

func TestSlowSubscriberDelaysOnlyItself(t *testing.T) {
	b := start(t, Options{})
	const dest = "/exchange/mcollective_broadcast/x"
	slow := dial(t, b, "slow", "x")
	stalled := subscribe(t, slow, dest) // never read until the end
	flush(t, slow)
	fast := dial(t, b, "fast", "x")
	fs := subscribe(t, fast, dest)
	flush(t, fast)
	sender := dial(t, b, "sender", "x")
	const n = 500
	payload := []byte(strings.Repeat("x", 4096))
	for range n {
		if err := sender.Send(dest, "text/plain", payload); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		receive(t, fs)
	}
	for range n {
		receive(t, stalled)
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	b, err := Start(context.Background(), Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	var conns []*stomp.Conn
	for i := range 5 {
		c, err := stomp.Dial("tcp", b.Addr(), stomp.ConnOpt.HeartBeat(0, 0), quiet)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		s, err := c.Subscribe(fmt.Sprintf("/exchange/mcollective_directed/n%d", i), stomp.AckAuto)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Send(s.Destination(), "text/plain", []byte("hi")); err != nil {
			t.Fatal(err)
		}
	}
	// An unauthenticated, half-open connection too.
	if c, err := stomp.Dial("tcp", b.Addr(), stomp.ConnOpt.HeartBeat(0, 0), quiet); err == nil {
		conns = append(conns, c)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, c := range conns {
		_ = c.MustDisconnect()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
	if _, err := stomp.Dial("tcp", b.Addr(), stomp.ConnOpt.HeartBeat(0, 0), quiet); err == nil {
		t.Fatal("dial after Close succeeded")
	}
}

// A pool entry with a host but no user or password gave the broker the login table
// {"": ""}: on 0.0.0.0, a CONNECT with no login then got CONNECTED.
func TestOpenListenerNeverAdmitsAnEmptyLogin(t *testing.T) {
	for _, users := range []map[string]string{
		{"": ""},
		{"": "secret"},
		{"mcollective": ""},
		{},
	} {
		b, err := Start(context.Background(), Options{Addr: "0.0.0.0:0", Users: users})
		if err == nil {
			c, derr := stomp.Dial("tcp", b.Addr(), stomp.ConnOpt.HeartBeat(0, 0), quiet)
			if derr == nil {
				_ = c.Disconnect()
				t.Errorf("users %q on %s: a CONNECT with no login got CONNECTED", users, b.Addr())
			}
			_ = b.Close()
			t.Errorf("users %q: Start on 0.0.0.0 succeeded, want it refused", users)
			continue
		}
		if !strings.Contains(err.Error(), "login") {
			t.Errorf("users %q: Start refused with %q, which does not say what to set", users, err)
		}
	}
}

func TestAuthenticateNeverMatchesAnEmptyLogin(t *testing.T) {
	b := &Broker{opts: Options{Users: map[string]string{"": ""}}, log: slog.New(slog.DiscardHandler)}
	if (stompConfig{b}).Authenticate("", "") {
		t.Fatal("the empty login matched the table {\"\": \"\"}")
	}
}
