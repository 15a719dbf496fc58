package client

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mcorun/mcorun/agents"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/security"
	"github.com/mcorun/mcorun/runtime/server"
	"github.com/mcorun/mcorun/runtime/testenv"
)

const testPSK = "clienttestpsk"

// testSecurity returns the psk provider the test nodes and clients share.
func testSecurity(t testing.TB) security.Provider {
	t.Helper()
	cfg := config.Defaults("test")
	cfg.Plugin["psk"] = testPSK
	cfg.LookupEnv = func(string) (string, bool) { return "", false }
	p, err := security.NewPSK(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// dial connects to the test RabbitMQ.
func dial(t testing.TB, addr, identity string) *connector.Conn {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := connector.Dial(ctx, connector.Options{
		Pool:  []connector.Broker{{Host: host, Port: p, User: "mcollective", Password: "secret"}},
		VHost: testenv.VHost, Identity: identity, MaxReconnectAttempts: 3,
	})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

type mapFacts map[string]any

func (m mapFacts) Facts() map[string]any { return m }
func (m mapFacts) Fact(name string) (any, bool) {
	v, ok := m[name]
	return v, ok
}

type classList []string

func (c classList) List() []string { return c }

// nodeSpec is one in-process node.
type nodeSpec struct {
	identity string
	facts    map[string]any
	classes  []string
}

// standardNodes is the default test fleet: three web nodes, two db nodes and one app node.
var standardNodes = []nodeSpec{
	{"app1", map[string]any{"role": "app", "rack": "r1", "index": "1"}, []string{"base", "app::java"}},
	{"db1", map[string]any{"role": "db", "rack": "r1", "index": "2"}, []string{"base", "db::pg"}},
	{"db2", map[string]any{"role": "db", "rack": "r2", "index": "3"}, []string{"base", "db::pg"}},
	{"web1", map[string]any{"role": "web", "rack": "r1", "index": "4"}, []string{"base", "web::nginx"}},
	{"web2", map[string]any{"role": "web", "rack": "r2", "index": "5"}, []string{"base", "web::nginx"}},
	{"web3", map[string]any{"role": "web", "rack": "r2", "index": "6"}, []string{"base", "web::nginx"}},
}

// fleet is a set of in-process mcod nodes, each on its own broker connection, serving a
// private collective of the real RabbitMQ.
type fleet struct {
	addr       string
	collective string
	sec        security.Provider
	mu         sync.Mutex
	nodes      map[string]*server.Server
}

// newFleet starts the nodes and returns once a discovery sees all of them.
func newFleet(t testing.TB, specs []nodeSpec) *fleet {
	t.Helper()
	f := &fleet{
		addr:       testenv.RequireRabbitMQ(t),
		collective: testenv.Collective(t),
		sec:        testSecurity(t),
		nodes:      map[string]*server.Server{},
	}
	ids := make([]string, 0, len(specs))
	for _, s := range specs {
		conn := dial(t, f.addr, s.identity)
		srv, err := server.New(server.Options{
			Identity: s.identity, Collectives: []string{f.collective}, DirectAddressing: true,
			Security: f.sec, Facts: mapFacts(s.facts), Classes: classList(s.classes), Plugins: agents.Standard,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(conn); err != nil {
			t.Fatal(err)
		}
		f.nodes[s.identity] = srv
		t.Cleanup(func() { f.stop(s.identity) })
		ids = append(ids, s.identity)
	}
	f.waitAll(t, f.client(t, nil), ids)
	return f
}

// waitAll waits until one discovery sees every node of ids: subscriptions settle
// asynchronously on the broker.
func (f *fleet) waitAll(t testing.TB, c *Client, ids []string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err := c.Discover(context.Background(), DiscoverOptions{Expect: ids, Timeout: 3 * time.Second})
		if err == nil && len(got) >= len(ids) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes never all answered discovery: got %v, err %v, want %v", got, err, ids)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop shuts one node down; it no longer answers anything.
func (f *fleet) stop(identity string) {
	f.mu.Lock()
	srv := f.nodes[identity]
	delete(f.nodes, identity)
	f.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
}

// client returns a Client on its own connection, on the fleet's collective.
func (f *fleet) client(t testing.TB, mod func(*Options)) *Client {
	t.Helper()
	return f.clientOn(t, dial(t, f.addr, "testclient"), mod)
}

func (f *fleet) clientOn(t testing.TB, tr Transport, mod func(*Options)) *Client {
	t.Helper()
	// These clients check what discovery and calls find on real brokers and nodes, and the
	// quiet-window rule there; the default first-discovery rule (the whole timeout) is
	// TestDiscoveryCache's, and would add the timeout to every test here.
	o := Options{Identity: "testclient", MainCollective: f.collective, Collectives: []string{f.collective}, Security: f.sec,
		FirstDiscovery: FirstDiscoveryQuiet}
	if mod != nil {
		mod(&o)
	}
	c, err := New(tr, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// sent is one SEND seen by a recorder.
type sent struct {
	dest string
	req  *message.Request
}

// recorder is a Transport that passes everything to a real connection and records every
// SEND, decoded.
type recorder struct {
	Transport
	mu    sync.Mutex
	sends []sent
}

func (r *recorder) Send(ctx context.Context, dest string, body []byte, h connector.SendHeaders) error {
	req, err := message.DecodeRequest(body)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.sends = append(r.sends, sent{dest, req})
	r.mu.Unlock()
	return r.Transport.Send(ctx, dest, body, h)
}

// take returns and forgets the recorded sends.
func (r *recorder) take() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sends
	r.sends = nil
	return s
}
