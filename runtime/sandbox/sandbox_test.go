package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/message"
)

func TestEmbeddedFleetMatchesTestdata(t *testing.T) {
	want, err := os.ReadFile("../../testdata/fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(defaultFleet, want) {
		t.Fatal("runtime/sandbox/fleet.yaml differs from testdata/fleet.yaml: copy testdata/fleet.yaml over it")
	}
}

func TestDefaultFleet(t *testing.T) {
	f := DefaultFleet()
	if f.Size() != 20 {
		t.Fatalf("Size = %d, want 20", f.Size())
	}
	nodes, err := f.Nodes(0)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]int{}
	for _, n := range nodes {
		roles[n.Facts["role"].(string)]++
	}
	if roles["web"] != 8 || roles["app"] != 8 || roles["db"] != 4 {
		t.Errorf("roles = %v", roles)
	}
	web1 := nodes[slices.IndexFunc(nodes, func(n Node) bool { return n.Identity == "web01.dc1.example.net" })]
	want := map[string]any{"role": "web", "rack": "r1", "fqdn": "web01.dc1.example.net", "hostname": "web01",
		"processorcount": "4", "operatingsystemmajrelease": "12"}
	for k, v := range want {
		if web1.Facts[k] != v {
			t.Errorf("web01 fact %s = %#v, want %#v", k, web1.Facts[k], v)
		}
	}
	if !slices.Contains(web1.Classes, "web::nginx") {
		t.Errorf("web01 classes = %v", web1.Classes)
	}
}

func TestFleetExpansion(t *testing.T) {
	f, err := ParseFleet([]byte(`
templates:
  - identity: web{n}
    count: 4
    facts: {role: web, name: "{identity}-{n}"}
    vary: {rack: [a, b]}
  - identity: db{n}
    pad: 1
    count: 2
    facts: {role: db}
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n    int
		want []string
	}{
		{1, []string{"web01"}},
		{3, []string{"web01", "db1", "web02"}},
		{6, []string{"web01", "db1", "web02", "web03", "db2", "web04"}},
		{9, []string{"web01", "db1", "web02", "web03", "db2", "web04", "web05", "db3", "web06"}},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			nodes, err := f.Nodes(tc.n)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range nodes {
				got = append(got, n.Identity)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Nodes(%d) = %v, want %v", tc.n, got, tc.want)
			}
		})
	}
	nodes, _ := f.Nodes(12)
	w6 := nodes[slices.IndexFunc(nodes, func(n Node) bool { return n.Identity == "web06" })]
	if w6.Facts["rack"] != "b" || w6.Facts["name"] != "web06-06" {
		t.Errorf("web06 facts = %v", w6.Facts)
	}
}

func TestParseFleetErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"empty", "templates: []", "no templates"},
		{"no {n}", "templates: [{identity: web, count: 1}]", "has no {n}"},
		{"zero count", "templates: [{identity: 'w{n}', count: 0}]", "count must be at least 1"},
		{"bad identity", "templates: [{identity: 'w {n}', count: 1}]", "may only contain"},
		{"unknown key", "templates: [{identity: 'w{n}', count: 1, fact: {}}]", `fleet t.yaml: line 1: unknown key "fact" in a template (keys: identity, count, pad, facts,`},
		{"empty vary", "templates: [{identity: 'w{n}', count: 1, vary: {rack: []}}]", "vary.rack is empty"},
		{"duplicates", "templates: [{identity: 'w{n}', count: 1}, {identity: 'w{n}', count: 1}]", "occurs twice"},
		{"wrong kind", "templates: [{identity: 'w{n}', count: many}]", `fleet t.yaml: line 1: "many" is a string, want a whole number`},
		{"wrong kind of block", "templates: [{identity: 'w{n}', count: 1, classes: web}]", `line 1: "web" is a string, want a list`},
		{"unknown service key", "templates: [{identity: 'w{n}', count: 1, services: {nginx: {sate: running}}}]", `unknown key "sate" in a service (keys: state,`},
		{"empty file", "", "fleet t.yaml: the file is empty: want a templates: list"},
		{"external not a directory", "templates: [{identity: 'w{n}', count: 1, external: /no-such-libdir}]", "external: /no-such-libdir is not a directory: want a libdir holding mcollective/agent/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFleet([]byte(tc.yaml), "t.yaml")
			if err == nil {
				_, err = f.Nodes(0)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if s := err.Error(); strings.Contains(s, "sandbox") || strings.Contains(s, "in type") {
				t.Errorf("err = %v: a package or Go type name", err)
			}
		})
	}
}

func startSandbox(tb testing.TB, n int) *Sandbox {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Nodes: n})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// newClient connects a raw requester with the sandbox's client settings.
func newClient(tb testing.TB, s *Sandbox) *requester {
	tb.Helper()
	cfg := s.ClientConfig()
	rmq, err := cfg.RabbitMQ()
	if err != nil {
		tb.Fatal(err)
	}
	if !rmq.UseReplyExchange || cfg.Identity != ClientIdentity || cfg.Plugin["psk"] != PSK {
		tb.Fatalf("client config: %+v", cfg)
	}
	// a sandbox's broker port is new every time: a discovery cache would only leave files
	if on, err := cfg.PluginBool("mcorun.discovery_cache", true); on || err != nil {
		tb.Fatalf("the sandbox's client keeps a discovery cache (%v)", err)
	}
	opts, err := connector.OptionsFromConfig(rmq, cfg.Identity, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	conn, err := connector.Dial(ctx, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	sec, err := newPSK(cfg.Identity)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := newRequester(ctx, conn, sec, cfg.Identity, s.collective, s.log)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// collect waits for want replies, or for wait to pass, and returns the senders seen.
func collect(ch <-chan *message.Reply, want int, wait time.Duration) ([]string, []*message.Reply) {
	var senders []string
	var reps []*message.Reply
	t := time.NewTimer(wait)
	defer t.Stop()
	for len(reps) < want {
		select {
		case r := <-ch:
			senders = append(senders, r.SenderID)
			reps = append(reps, r)
		case <-t.C:
			slices.Sort(senders)
			return senders, reps
		}
	}
	slices.Sort(senders)
	return senders, reps
}

func TestSandboxDiscovery(t *testing.T) {
	s := startSandbox(t, 20)
	if got := s.Identities(); len(got) != 20 || !slices.IsSorted(got) {
		t.Fatalf("Identities = %v", got)
	}
	c := newClient(t, s)
	ctx := context.Background()

	ch, done, err := c.send(ctx, connector.BroadcastDest("mcollective", "discovery"), "discovery", discoveryPing(), message.Filter{}, 40)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	senders, reps := collect(ch, 20, 10*time.Second)
	if !slices.Equal(senders, s.Identities()) {
		t.Fatalf("pong senders = %v, want %v", senders, s.Identities())
	}
	for _, r := range reps {
		if v, err := message.DecodeBody(r.Body); err != nil || v != "pong" {
			t.Fatalf("%s replied %v (%v), want pong", r.SenderID, v, err)
		}
	}
	// No node answers twice.
	if extra, _ := collect(ch, 1, 200*time.Millisecond); len(extra) > 0 {
		t.Fatalf("extra replies from %v", extra)
	}

	t.Run("fact and class filter", func(t *testing.T) {
		f := message.Filter{Fact: []message.FactFilter{{Fact: "role", Operator: "==", Value: "web"}}, CFClass: []string{"web::nginx"}}
		ch, done, err := c.send(ctx, connector.BroadcastDest("mcollective", "discovery"), "discovery", discoveryPing(), f, 40)
		if err != nil {
			t.Fatal(err)
		}
		defer done()
		senders, _ := collect(ch, 20, time.Second)
		if len(senders) != 8 || !strings.HasPrefix(senders[0], "web") || !strings.HasPrefix(senders[7], "web") {
			t.Fatalf("role=web senders = %v", senders)
		}
	})

	t.Run("rpcutil get_fact directed", func(t *testing.T) {
		body, err := (&message.RPCRequest{Agent: "rpcutil", Action: "get_fact", Caller: "uid=0",
			Data: map[string]any{"fact": "rack"}, ProcessResults: true}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		ch, done, err := c.send(ctx, connector.DirectedDest("mcollective", "db02.dc2.example.net"), "rpcutil", body, message.Filter{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer done()
		_, reps := collect(ch, 1, 5*time.Second)
		if len(reps) != 1 {
			t.Fatal("no reply from db02")
		}
		v, err := message.DecodeBody(reps[0].Body)
		if err != nil {
			t.Fatal(err)
		}
		rr, err := message.DecodeRPCReply(v)
		if err != nil {
			t.Fatal(err)
		}
		if rr.StatusCode != message.OK || rr.Data["value"] != "r8" {
			t.Fatalf("get_fact rack on db02: %+v", rr)
		}
	})
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := ours()
	s, err := Start(context.Background(), Options{Nodes: 10})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, s)
	ch, done, err := c.send(context.Background(), connector.BroadcastDest("mcollective", "discovery"), "discovery", discoveryPing(), message.Filter{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := collect(ch, 10, 10*time.Second); len(got) != 10 {
		t.Fatalf("%d pongs, want 10", len(got))
	}
	done()
	_ = c.conn.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for ours() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := ours(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// ours counts the running goroutines, less those go-stomp's Subscription.Unsubscribe leaves
// behind when it misses the wake-up of its receipt wait (waitWithTimeout's cond.Wait: it
// broadcasts outside the lock, so a closing connection can wake nobody). That leak is the
// dependency's, one goroutine per missed wake-up; the connector's single-owner rewrite is to
// stop unsubscribing from a connection it is about to close. Every other goroutine counts.
func ours() int {
	buf := make([]byte, 1<<22)
	stacks := strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n")
	n := 0
	for _, st := range stacks {
		if strings.TrimSpace(st) != "" && !strings.Contains(st, "go-stomp/stomp/v3.waitWithTimeout.func1") {
			n++
		}
	}
	return n
}
