package broker

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
)

// flood writes prefix and then filler to addr until the broker closes the connection or
// total bytes have gone, and returns how many bytes were written.
func flood(t *testing.T, addr, prefix string, total int) int {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := io.WriteString(nc, prefix); err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	n := len(prefix)
	for n < total {
		_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		k, err := nc.Write(chunk)
		n += k
		if err != nil {
			return n
		}
	}
	return n
}

// The frames of the attack shapes get the connection closed long before they are
// read: what the client manages to write is the broker's limit plus the sockets' buffers,
// not the 64 MB it tries.
func TestOversizedFramesCloseTheConnection(t *testing.T) {
	b := start(t, Options{Users: map[string]string{"u": "p"}, MaxFrameBytes: 1 << 20})
	const total = 64 << 20
	for _, tc := range []struct{ name, prefix string }{
		{"CONNECT declaring 4 GB", "CONNECT\naccept-version:1.2\ncontent-length:4294967295\n\n"},
		{"100 MB CONNECT header", "CONNECT\naccept-version:1.2\nlogin:"},
		{"unfinished CONNECT body", "CONNECT\naccept-version:1.2\n\n"},
		{"SEND declaring 4 GB after login", "CONNECT\naccept-version:1.2\nlogin:u\npasscode:p\n\n\x00" +
			"SEND\ndestination:/exchange/x/y\ncontent-length:4294967295\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if n := flood(t, b.Addr(), tc.prefix, total); n >= total {
				t.Fatalf("the broker read all %d bytes and kept the connection", n)
			}
		})
	}
}

// A connection that never sends CONNECT is closed at the deadline.
func TestConnectDeadline(t *testing.T) {
	b := start(t, Options{ConnectTimeout: 200 * time.Millisecond})
	nc, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	began := time.Now()
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAll(nc)
	if took := time.Since(began); err != nil || took > 3*time.Second {
		t.Fatalf("idle connection: read ended after %v with %v, want EOF after about 200ms", took, err)
	}
	// A client that logs in in time is not cut off after the deadline.
	c := dial(t, b, "u", "p")
	s := subscribe(t, c, "/exchange/mcollective_broadcast/x")
	time.Sleep(400 * time.Millisecond)
	if err := c.Send(s.Destination(), "text/plain", []byte("late")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, s); string(m.Body) != "late" {
		t.Fatalf("body %q", m.Body)
	}
}

// Beyond MaxConnections a connection is told why and closed; loopback peers have a reserve,
// and a slot frees up when an idle connection reaches the CONNECT deadline.
func TestMaxConnections(t *testing.T) {
	ext := externalIP(t)
	b := start(t, Options{Addr: "0.0.0.0:0", Users: map[string]string{"u": "p"}, MaxConnections: 3, ConnectTimeout: time.Second})
	_, port, _ := net.SplitHostPort(b.Addr())
	remote := net.JoinHostPort(ext, port)
	var idle []net.Conn
	for range 3 {
		nc, err := net.Dial("tcp", remote)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, nc)
		t.Cleanup(func() { _ = nc.Close() })
	}
	waitConns(t, b, 3)
	if msg := refusal(t, remote); !strings.Contains(msg, "too many connections") {
		t.Fatalf("4th connection from %s: got %q, want an ERROR saying too many connections", ext, msg)
	}
	// Loopback still gets in, and works.
	c, err := stomp.Dial("tcp", net.JoinHostPort("127.0.0.1", port), stomp.ConnOpt.Login("u", "p"), stomp.ConnOpt.HeartBeat(0, 0), quiet)
	if err != nil {
		t.Fatalf("loopback login with the broker full for remote peers: %v", err)
	}
	_ = c.Disconnect()
	// The idle ones reach their deadline, and the remote address is admitted again.
	for _, nc := range idle {
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(nc); err != nil {
			t.Fatalf("idle connection not closed at the CONNECT deadline: %v", err)
		}
	}
	waitConns(t, b, 0)
	c, err = stomp.Dial("tcp", remote, stomp.ConnOpt.Login("u", "p"), stomp.ConnOpt.HeartBeat(0, 0), quiet)
	if err != nil {
		t.Fatalf("login after the idle connections were closed: %v", err)
	}
	_ = c.Disconnect()
}

// externalIP returns a non-loopback address of this machine, so that a connection to the
// broker comes from a non-loopback peer.
func externalIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("no interface addresses: %v", err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address to connect from")
	return ""
}

func waitConns(t *testing.T, b *Broker, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.mu.Lock()
		n := len(b.conns)
		b.mu.Unlock()
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d", n, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// refusal connects to addr and returns the message of the ERROR frame it gets.
func refusal(t *testing.T, addr string) string {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(bufio.NewReader(nc))
	if err != nil && !errors.Is(err, net.ErrClosed) {
		t.Logf("read: %v", err)
	}
	return string(b)
}

// A subscriber that never reads holds at most OutboxBytes in its outbox (plus go-stomp's
// 16-frame write queue and the sockets' buffers): the rest is dropped, not queued.
func TestOutboxBoundedInBytes(t *testing.T) {
	const size, sent = 256 << 10, 120
	b := start(t, Options{OutboxBytes: 1 << 20, MaxFrameBytes: 1 << 20})
	const dest = "/exchange/mcollective_broadcast/x"
	// A raw client with a small receive buffer, which subscribes and then reads nothing
	// until the end.
	nc, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.(*net.TCPConn).SetReadBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(nc, "CONNECT\naccept-version:1.2\nlogin:slow\npasscode:x\n\n\x00"+
		"SUBSCRIBE\nid:1\ndestination:"+dest+"\nreceipt:r1\n\n\x00"); err != nil {
		t.Fatal(err)
	}
	in := newFrameReader(nc, postLogin(2<<20))
	for _, want := range []string{"CONNECTED", "RECEIPT"} {
		f, err := in.Read()
		if err != nil || f == nil || f.Command != want {
			t.Fatalf("got %v, %v; want %s", f, err, want)
		}
	}
	sender := dial(t, b, "sender", "x")
	body := bytes.Repeat([]byte("z"), size)
	for range sent {
		if err := sender.Send(dest, "text/plain", body); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, sender)
	time.Sleep(200 * time.Millisecond) // let the outbox hand over what it can
	got := 0
	for {
		_ = nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		f, err := in.Read()
		if err != nil {
			break
		}
		if f != nil && f.Command == "MESSAGE" {
			got++
		}
	}
	if got == 0 || got > sent/2 {
		t.Fatalf("the stalled subscriber got %d of %d messages of %d KiB; want some, and at most %d", got, sent, size>>10, sent/2)
	}
	t.Logf("stalled subscriber got %d of %d", got, sent)
}

// Until a connection's CONNECT carries an admitted login, the broker reads nothing after it;
// once admitted, frames beyond the pre-login limit are read.
func TestNothingReadAfterARefusedLogin(t *testing.T) {
	b := &Broker{opts: Options{Users: map[string]string{"u": "p"}}, log: slog.New(slog.DiscardHandler), lim: postLogin(1 << 20)}
	big := "SEND\ndestination:/x\ncontent-length:100000\n\n" + strings.Repeat("b", 100000) + "\x00"
	for _, tc := range []struct {
		name, connect string
		admitted      bool
	}{
		{"wrong password", "CONNECT\naccept-version:1.2\nlogin:u\npasscode:nope\n\n\x00", false},
		{"no login", "CONNECT\naccept-version:1.2\n\n\x00", false},
		{"SEND first", "SEND\ndestination:/x\n\nhi\x00", false},
		{"admitted", "CONNECT\naccept-version:1.2\nlogin:u\npasscode:p\n\n\x00", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			c := newNetConn(b, server)
			c.wg.Add(2)
			wrote := make(chan int, 1)
			go func() {
				n, _ := io.WriteString(client, tc.connect+big)
				wrote <- n
			}()
			first := readFrame(t, c)
			if !strings.HasPrefix(first, tc.connect[:4]) {
				t.Fatalf("first frame %q", first)
			}
			if !tc.admitted {
				if _, err := c.Read(make([]byte, 1)); !errors.Is(err, errNotLoggedIn) {
					t.Fatalf("second read: %v, want %v", err, errNotLoggedIn)
				}
				select {
				case n := <-wrote:
					t.Fatalf("the broker read all %d bytes", n)
				case <-time.After(50 * time.Millisecond):
				}
				return
			}
			if second := readFrame(t, c); !strings.HasPrefix(second, "SEND") || len(second) < 100000 {
				t.Fatalf("second frame: %d bytes %.40q, want the 100 kB SEND", len(second), second)
			}
		})
	}
}

// readFrame reads what netConn hands go-stomp for one frame.
func readFrame(t *testing.T, c *netConn) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			t.Fatalf("read: %v after %q", err, out)
		}
		if c.pending.Len() == 0 {
			return string(out)
		}
	}
}

// A refused frame is logged with its reason; more within a second are counted, not logged.
func TestRefusedFrameIsLoggedWithItsReason(t *testing.T) {
	logs := newLogFile(t)
	b := start(t, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	for range 3 {
		flood(t, b.Addr(), "CONNECT\naccept-version:1.2\ncontent-length:4294967295\n\n", 1<<20)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.text(t), "content-length 4294967295 is more than the 16384 bytes") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// Three refusals well within a second or two: one line, two if the machine is slow.
	if n := strings.Count(logs.text(t), "broker: connection closed: frame refused"); n < 1 || n > 2 {
		t.Fatalf("%d refusal lines for 3 refusals, want 1 with the reason:\n%s", n, logs.text(t))
	}
}

func TestThrottle(t *testing.T) {
	var th throttle
	if ok, held := th.allow(); !ok || held != 0 {
		t.Fatalf("first: %v %d", ok, held)
	}
	for range 3 {
		if ok, _ := th.allow(); ok {
			t.Fatal("a second line within logEvery was let through")
		}
	}
	th.last = th.last.Add(-logEvery)
	if ok, held := th.allow(); !ok || held != 3 {
		t.Fatalf("after logEvery: %v %d, want true and 3 held back", ok, held)
	}
}

// logFile is a log destination the broker's goroutines may write to at once.
type logFile struct{ *os.File }

func newLogFile(t *testing.T) logFile {
	f, err := os.Create(filepath.Join(t.TempDir(), "broker.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return logFile{f}
}

func (l logFile) text(t *testing.T) string {
	b, err := os.ReadFile(l.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
