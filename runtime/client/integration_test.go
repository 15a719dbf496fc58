package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/testenv"
)

func TestDiscoverFleet(t *testing.T) {
	f := newFleet(t, standardNodes)
	c := f.client(t, nil)
	for _, tc := range []struct {
		name string
		opts DiscoverOptions
		want []string
	}{
		{"all", DiscoverOptions{}, []string{"app1", "db1", "db2", "web1", "web2", "web3"}},
		{"class", DiscoverOptions{Filter: message.Filter{CFClass: []string{"web::nginx"}}}, []string{"web1", "web2", "web3"}},
		{"class regex", DiscoverOptions{Filter: message.Filter{CFClass: []string{"/^db::/"}}}, []string{"db1", "db2"}},
		{"fact", DiscoverOptions{Filter: message.Filter{Fact: []message.FactFilter{{Fact: "role", Value: "db", Operator: "=="}}}}, []string{"db1", "db2"}},
		{"fact numeric", DiscoverOptions{Filter: message.Filter{Fact: []message.FactFilter{{Fact: "index", Value: "4", Operator: ">="}}}}, []string{"web1", "web2", "web3"}},
		{"identities ored", DiscoverOptions{Filter: message.Filter{Identity: []string{"app1", "/^db2$/"}}}, []string{"app1", "db2"}},
		{"fact and class", DiscoverOptions{Filter: message.Filter{CFClass: []string{"base"}, Fact: []message.FactFilter{{Fact: "rack", Value: "r2", Operator: "=="}}}}, []string{"db2", "web2", "web3"}},
		{"agent", DiscoverOptions{Filter: message.Filter{Agent: []string{"rpcutil"}}}, []string{"app1", "db1", "db2", "web1", "web2", "web3"}},
		{"compound", DiscoverOptions{Filter: message.Filter{Compound: [][]message.CompoundItem{{
			{Kind: message.Statement, Value: "role=web"}, {Kind: message.And}, {Kind: message.Not}, {Kind: message.Statement, Value: "rack=r1"},
		}}}}, []string{"web2", "web3"}},
		{"none", DiscoverOptions{Filter: message.Filter{CFClass: []string{"nosuch"}}}, []string{}},
		{"limit first", DiscoverOptions{Limit: "2"}, []string{"app1", "db1"}},
		{"limit percent", DiscoverOptions{Filter: message.Filter{CFClass: []string{"web::nginx"}}, Limit: "50%"}, []string{"web1", "web2"}},
		{"given nodes", DiscoverOptions{Nodes: []string{"web2", "ghost", "web2"}}, []string{"ghost", "web2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			got, err := c.Discover(context.Background(), tc.opts)
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Fatalf("Discover = %v, want %v", got, tc.want)
			}
			switch {
			case len(tc.opts.Nodes) > 0:
			case len(tc.want) == 0 && took < DefaultDiscoveryTimeout:
				t.Fatalf("discovery with no reply took %v; it waits the whole %v, as mco does", took, DefaultDiscoveryTimeout)
			case len(tc.want) > 0 && took >= DefaultDiscoveryTimeout:
				t.Fatalf("discovery took %v, not less than the %v bound", took, DefaultDiscoveryTimeout)
			}
			t.Logf("%d nodes in %v", len(got), took)
		})
	}
}

func TestDiscoverLimitSeed(t *testing.T) {
	f := newFleet(t, standardNodes)
	c := f.client(t, nil)
	ctx := context.Background()
	a, err := c.Discover(ctx, DiscoverOptions{Limit: "3", LimitSeed: 7})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Discover(ctx, DiscoverOptions{Limit: "3", LimitSeed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 3 || !slices.Equal(a, b) || !slices.IsSorted(a) {
		t.Fatalf("seeded limit: %v then %v, want the same 3 sorted nodes", a, b)
	}
}

func TestPing(t *testing.T) {
	f := newFleet(t, standardNodes)
	c := f.client(t, nil)
	got, err := c.Ping(context.Background(), DiscoverOptions{Filter: message.Filter{CFClass: []string{"db::pg"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Sender != "db1" || got[1].Sender != "db2" || got[0].Elapsed <= 0 {
		t.Fatalf("Ping = %+v, want db1 and db2 with times", got)
	}
	start := time.Now()
	got, err = c.Ping(context.Background(), DiscoverOptions{Nodes: []string{"web3", "app1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Sender != "app1" || got[1].Sender != "web3" {
		t.Fatalf("Ping(nodes) = %+v, want app1 and web3", got)
	}
	if took := time.Since(start); took >= DefaultMinWait {
		t.Fatalf("directed ping of known nodes took %v; it should stop once both answered", took)
	}
}

func TestCall(t *testing.T) {
	f := newFleet(t, standardNodes)
	rec := &recorder{Transport: dial(t, f.addr, "testclient")}
	c := f.clientOn(t, rec, nil)
	broad := f.clientOn(t, rec, func(o *Options) { o.DirectAddressingThreshold = 2 })
	noDirect := f.clientOn(t, rec, func(o *Options) { o.NoDirectAddressing = true })
	all := []string{"app1", "db1", "db2", "web1", "web2", "web3"}
	for _, tc := range []struct {
		name    string
		c       *Client
		action  string
		args    map[string]any
		opts    CallOptions
		ok      []string
		missing []string
		// requests sent after discovery: count, directed, filter reset to the agent
		sends    int
		directed bool
		reset    bool
	}{
		{name: "all directed", c: c, action: "ping", ok: all, sends: 6, directed: true},
		{name: "all broadcast", c: broad, action: "ping", ok: all, sends: 1},
		{name: "no direct addressing", c: noDirect, action: "ping", ok: all, sends: 1},
		{name: "filtered", c: c, action: "get_fact", args: map[string]any{"fact": "role"},
			opts: CallOptions{Filter: message.Filter{CFClass: []string{"web::nginx"}}}, ok: []string{"web1", "web2", "web3"}, sends: 3, directed: true},
		{name: "filtered broadcast", c: broad, action: "ping",
			opts: CallOptions{Filter: message.Filter{Fact: []message.FactFilter{{Fact: "role", Value: "db", Operator: "=="}}}}, ok: []string{"db1", "db2"}, sends: 2, directed: true},
		{name: "given nodes", c: c, action: "ping", opts: CallOptions{Nodes: []string{"web1", "db1"}}, ok: []string{"db1", "web1"}, sends: 2, directed: true, reset: true},
		{name: "given nodes with a ghost", c: c, action: "ping", opts: CallOptions{Nodes: []string{"web1", "ghost"}, Timeout: 500 * time.Millisecond},
			ok: []string{"web1"}, missing: []string{"ghost"}, sends: 2, directed: true, reset: true},
		{name: "given nodes without direct addressing", c: noDirect, action: "ping", opts: CallOptions{Nodes: []string{"web1", "db1"}}, ok: []string{"db1", "web1"}, sends: 1},
		{name: "limit", c: c, action: "ping", opts: CallOptions{Limit: "2"}, ok: []string{"app1", "db1"}, sends: 2, directed: true, reset: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.take()
			var mu sync.Mutex
			var seen []string
			tc.opts.OnReply = func(r Result) { mu.Lock(); seen = append(seen, r.Sender); mu.Unlock() }
			res, err := tc.c.Call(context.Background(), "rpcutil", tc.action, tc.args, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var ok []string
			for _, r := range res.OK {
				ok = append(ok, r.Sender)
				if r.Elapsed <= 0 || r.Message != "OK" {
					t.Errorf("%s: elapsed %v message %q", r.Sender, r.Elapsed, r.Message)
				}
				switch tc.action {
				case "ping":
					if _, isInt := r.Data["pong"].(int64); !isInt {
						t.Errorf("%s: pong = %#v, want an int64", r.Sender, r.Data["pong"])
					}
				case "get_fact":
					if r.Data["fact"] != "role" || r.Data["value"] != "web" {
						t.Errorf("%s: data = %v", r.Sender, r.Data)
					}
				}
			}
			if !slices.Equal(ok, tc.ok) || len(res.Failed) != 0 || !slices.Equal(res.Missing, tc.missing) {
				t.Fatalf("ok %v failed %v missing %v, want ok %v missing %v", ok, res.Failed, res.Missing, tc.ok, tc.missing)
			}
			slices.Sort(seen)
			if !slices.Equal(seen, tc.ok) {
				t.Fatalf("OnReply saw %v, want %v", seen, tc.ok)
			}
			var reqs []sent
			for _, s := range rec.take() {
				if s.req.Agent == "rpcutil" {
					reqs = append(reqs, s)
				}
			}
			if len(reqs) != tc.sends {
				t.Fatalf("%d rpcutil requests sent, want %d", len(reqs), tc.sends)
			}
			for _, s := range reqs {
				if s.req.RequestID != res.RequestID {
					t.Errorf("requestid %s, want %s", s.req.RequestID, res.RequestID)
				}
				if got := strings.Contains(s.dest, "_directed/"); got != tc.directed {
					t.Errorf("destination %s, want directed=%v", s.dest, tc.directed)
				}
				reset := len(s.req.Filter.CFClass) == 0 && len(s.req.Filter.Fact) == 0 && len(s.req.Filter.Identity) == 0
				if tc.reset && !reset || !slices.Contains(s.req.Filter.Agent, "rpcutil") {
					t.Errorf("filter %+v, want reset=%v with the agent", s.req.Filter, tc.reset)
				}
			}
			if tc.missing == nil && res.Elapsed >= 2*time.Second {
				t.Errorf("call took %v; it should end once every node replied", res.Elapsed)
			}
			t.Logf("%s: %d ok in %v (discovery %v)", tc.name, len(res.OK), res.Elapsed, res.Discovery)
		})
	}
}

func TestCallFailedAndDefaults(t *testing.T) {
	f := newFleet(t, standardNodes[:2])
	c := f.client(t, nil)
	res, err := c.Call(context.Background(), "rpcutil", "get_config_item", map[string]any{"item": "nosuchitem"}, CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) != 2 || len(res.OK) != 0 || len(res.Missing) != 0 {
		t.Fatalf("ok %v failed %v missing %v, want both failed", res.OK, res.Failed, res.Missing)
	}
	for _, r := range res.Failed {
		if r.Code == message.OK || r.Message == "" {
			t.Errorf("%s: code %v message %q", r.Sender, r.Code, r.Message)
		}
		if _, ok := r.Data["value"]; !ok {
			t.Errorf("%s: data %v lacks the DDL output value", r.Sender, r.Data)
		}
	}
}

func TestCallMissingAfterDiscovery(t *testing.T) {
	f := newFleet(t, standardNodes[:4])
	c := f.client(t, nil)
	ctx := context.Background()
	nodes, err := c.Discover(ctx, DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.stop("db2")
	res, err := c.Call(ctx, "rpcutil", "ping", nil, CallOptions{Nodes: nodes, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Missing, []string{"db2"}) || len(res.OK) != 3 {
		t.Fatalf("ok %v missing %v, want db2 missing and 3 ok", res.OK, res.Missing)
	}
	if res.Elapsed < time.Second {
		t.Fatalf("call with a missing node ended after %v, before its 1s timeout", res.Elapsed)
	}
}

// countingTransport counts SENDs and passes everything on.
type countingTransport struct {
	Transport
	mu    sync.Mutex
	sends int
}

func (c *countingTransport) Send(ctx context.Context, dest string, body []byte, h connector.SendHeaders) error {
	c.mu.Lock()
	c.sends++
	c.mu.Unlock()
	return c.Transport.Send(ctx, dest, body, h)
}

func TestCallRejectsBeforeSending(t *testing.T) {
	f := newFleet(t, standardNodes[:1])
	ct := &countingTransport{Transport: dial(t, f.addr, "testclient")}
	c := f.clientOn(t, ct, nil)
	for _, tc := range []struct {
		name, agent, action string
		args                map[string]any
		opts                CallOptions
		is                  error
		msg                 string
	}{
		{"missing input", "rpcutil", "get_fact", nil, CallOptions{}, ErrInvalidArgs, "needs a fact argument"},
		{"invalid input", "rpcutil", "get_fact", map[string]any{"fact": "bad fact!"}, CallOptions{}, ErrInvalidArgs, "fact"},
		{"undeclared action", "rpcutil", "nosuch", nil, CallOptions{}, ErrInvalidArgs, "not declared in the DDL"},
		{"unknown agent", "nosuchagent", "run", nil, CallOptions{}, ErrUnknownAgent, "libdir"},
		{"bad batch", "rpcutil", "ping", nil, CallOptions{Batch: "x"}, nil, "batch"},
		{"bad limit", "rpcutil", "ping", nil, CallOptions{Limit: "0%"}, nil, "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Call(context.Background(), tc.agent, tc.action, tc.args, tc.opts)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.is, tc.msg)
			}
			if ct.sends != 0 {
				t.Fatalf("%d messages sent before the error", ct.sends)
			}
		})
	}
	_, err := c.Call(context.Background(), "rpcutil", "ping", nil, CallOptions{Filter: message.Filter{CFClass: []string{"nosuch"}}})
	if !errors.Is(err, ErrNoNodes) {
		t.Fatalf("nothing discovered: err = %v, want ErrNoNodes", err)
	}
}

func TestCallBatches(t *testing.T) {
	f := newFleet(t, standardNodes)
	rec := &recorder{Transport: dial(t, f.addr, "testclient")}
	c := f.clientOn(t, rec, nil)
	var mu sync.Mutex
	var order []string
	res, err := c.Call(context.Background(), "rpcutil", "ping", nil, CallOptions{
		Batch: "2", BatchSleep: 50 * time.Millisecond,
		OnReply: func(r Result) { mu.Lock(); order = append(order, r.Sender); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.OK) != 6 || len(res.Missing) != 0 {
		t.Fatalf("ok %v missing %v", res.OK, res.Missing)
	}
	// Batches are consecutive slices of the sorted targets; each completes before the next.
	batchOf := map[string]int{"app1": 0, "db1": 0, "db2": 1, "web1": 1, "web2": 2, "web3": 2}
	for i := 1; i < len(order); i++ {
		if batchOf[order[i]] < batchOf[order[i-1]] {
			t.Fatalf("reply order %v crosses batches", order)
		}
	}
	ids := map[string]bool{}
	for _, s := range rec.take() {
		if s.req.Agent == "rpcutil" {
			ids[s.req.RequestID] = true
			if !strings.Contains(s.dest, "_directed/") || len(s.req.Filter.CFClass)+len(s.req.Filter.Fact) != 0 {
				t.Errorf("batched request to %s with filter %+v, want directed and reset", s.dest, s.req.Filter)
			}
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%d requestids across batches, want 1", len(ids))
	}
	if res.Elapsed-res.Discovery < 100*time.Millisecond {
		t.Fatalf("3 batches with 50ms sleeps took %v", res.Elapsed-res.Discovery)
	}
}

func TestCallFireAndForget(t *testing.T) {
	f := newFleet(t, standardNodes[:3])
	c := f.client(t, nil)
	ctx := context.Background()
	nodes := []string{"app1", "db1", "db2"}
	stats := func() map[string][2]int64 {
		t.Helper()
		res, err := c.Call(ctx, "rpcutil", "daemon_stats", nil, CallOptions{Nodes: nodes})
		if err != nil || len(res.OK) != 3 {
			t.Fatalf("daemon_stats: %v %+v", err, res)
		}
		out := map[string][2]int64{}
		for _, r := range res.OK {
			out[r.Sender] = [2]int64{r.Data["passed"].(int64), r.Data["replies"].(int64)}
		}
		return out
	}
	before := stats()
	start := time.Now()
	res, err := c.Call(ctx, "rpcutil", "ping", nil, CallOptions{Nodes: nodes, FireAndForget: true})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 500*time.Millisecond || !slices.Equal(res.Targets, nodes) || len(res.OK) != 0 {
		t.Fatalf("fire and forget: %v, %+v", took, res)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		after := stats()
		done := true
		for n, b := range before {
			a := after[n]
			// passed: the fire-and-forget ping and this daemon_stats; replies: only the
			// previous daemon_stats.
			if a[0]-b[0] != 2 || a[1]-b[1] != 1 {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats before %v after %v: want 2 more passed and 1 more reply per node", before, after)
		}
		before = after
		time.Sleep(50 * time.Millisecond)
		if _, err := c.Call(ctx, "rpcutil", "ping", nil, CallOptions{Nodes: nodes, FireAndForget: true}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReplyExchange(t *testing.T) {
	testenv.RequireReplyExchange(t)
	f := newFleet(t, standardNodes[:3])
	c := f.client(t, func(o *Options) { o.UseReplyExchange = true })
	if !strings.HasPrefix(c.ReplyTo(), "/exchange/mcollective_reply/testclient_") {
		t.Fatalf("reply-to %s", c.ReplyTo())
	}
	nodes, err := c.Discover(context.Background(), DiscoverOptions{})
	if err != nil || len(nodes) != 3 {
		t.Fatalf("Discover = %v, %v", nodes, err)
	}
	res, err := c.Call(context.Background(), "rpcutil", "inventory", nil, CallOptions{})
	if err != nil || len(res.OK) != 3 {
		t.Fatalf("Call = %+v, %v", res, err)
	}
	if cl, _ := res.OK[0].Data["classes"].([]any); len(cl) != 2 {
		t.Fatalf("inventory classes %#v", res.OK[0].Data["classes"])
	}
}

func TestClosedClient(t *testing.T) {
	f := newFleet(t, standardNodes[:1])
	c := f.client(t, nil)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Discover(context.Background(), DiscoverOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Discover after Close: %v", err)
	}
}

func TestFromConfig(t *testing.T) {
	f := newFleet(t, standardNodes[:2])
	dir := t.TempDir()
	rpcutil, err := os.ReadFile("../ddl/builtin/rpcutil.json")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "lib", "mcollective", "agent", "echo.json"), strings.Replace(string(rpcutil), `"name": "rpcutil"`, `"name": "echo"`, 1))
	cfgFile := filepath.Join(dir, "client.cfg")
	write(t, cfgFile, "identity = cfgclient\nmain_collective = "+f.collective+"\ncollectives = "+f.collective+
		"\nlibdir = "+filepath.Join(dir, "lib")+"\nplugin.psk = "+testPSK+"\ndiscovery_timeout = 3\nttl = 30\n"+
		"connector = rabbitmq\nplugin.rabbitmq.vhost = /mcollective\nplugin.rabbitmq.pool.size = 1\nplugin.rabbitmq.pool.1.host = 127.0.0.1\n")
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg.LookupEnv = func(string) (string, bool) { return "", false }
	c, err := FromConfig(cfg, dial(t, f.addr, "cfgclient"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.opts.DiscoveryTimeout != 3*time.Second || c.opts.TTL != 30*time.Second || c.opts.MainCollective != f.collective {
		t.Fatalf("options %+v", c.opts)
	}
	if a, err := c.DDL("echo"); err != nil || a.Actions["ping"] == nil {
		t.Fatalf("DDL(echo) = %v, %v", a, err)
	}
	if _, err := c.DDL("nosuch"); !errors.Is(err, ErrUnknownAgent) || !strings.Contains(err.Error(), filepath.Join(dir, "lib")) {
		t.Fatalf("DDL(nosuch) = %v", err)
	}
	res, err := c.Call(context.Background(), "rpcutil", "ping", nil, CallOptions{})
	if err != nil || len(res.OK) != 2 {
		t.Fatalf("Call = %+v, %v", res, err)
	}
}
