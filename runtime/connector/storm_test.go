package connector

import (
	"context"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lines is a slog.Handler that keeps every record as one text line, for tests that read the
// log while the connector's goroutines write it.
type lines struct {
	mu  sync.Mutex
	all []string
}

func (l *lines) Enabled(context.Context, slog.Level) bool { return true }
func (l *lines) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *lines) WithGroup(string) slog.Handler            { return l }

func (l *lines) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, line)
	return nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n") + "\n"
}

// TestRefusedSubscribeBacksOff subscribes to an exchange that does not exist: RabbitMQ answers
// the SUBSCRIBE with an ERROR and closes the connection, every time. The connector must back
// off between those reconnects instead of reconnecting at once, say which exchange is missing
// and how to declare it, and leave no goroutine behind once closed.
func TestRefusedSubscribeBacksOff(t *testing.T) {
	b := broker(t)
	before := runtime.NumGoroutine()
	var logs lines
	var n atomic.Int64
	missing := uniq("nosuch") // a collective whose exchanges nobody declared
	c := dial(t, Options{Pool: []Broker{b}, Logger: slog.New(&logs),
		OnReconnect: func() { n.Add(1) }})
	if _, err := c.Subscribe(BroadcastDest(missing, "rpcutil"), func(Message) {}); err != nil {
		t.Fatal(err)
	}
	const window = 3 * time.Second
	time.Sleep(window / 3)
	early := runtime.NumGoroutine()
	time.Sleep(window - window/3)
	got := n.Load()
	// Each connection has a reader and a writer; nothing else may pile up reconnect after
	// reconnect (go-stomp's client left a readLoop and a drain goroutine behind).
	if late := runtime.NumGoroutine(); late > early+4 {
		t.Errorf("%d goroutines after 1s of refused subscriptions, %d after 3s: they pile up", early, late)
	}
	t.Logf("%d reconnects in %v", got, window)
	// Backoff from 10ms doubling: 10+20+...+1280ms passes 3s after about 8 reconnects
	// (jitter spreads each wait over half to one and a half times its nominal value).
	if got > 12 {
		t.Errorf("%d reconnects in %v with a refused subscription, want at most 12 (backoff)", got, window)
	}
	out := logs.String()
	t.Logf("log:\n%s", firstLines(out, 8))
	for _, want := range []string{missing + "_broadcast", "rabbitmqadmin", "declare exchange"} {
		if !strings.Contains(out, want) {
			t.Errorf("log does not name %q:\n%s", want, firstLines(out, 20))
		}
	}
	if lines := strings.Count(out, "\n"); lines > 40 {
		t.Errorf("%d log lines in %v, want them rate-limited:\n%s", lines, window, firstLines(out, 20))
	}
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Logf("Close: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before, %d after Close:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
