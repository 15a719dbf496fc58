package client

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/testenv"
)

// rubyFleet starts one stock mcollectived per spec on a private collective and returns a
// Client on that collective once every node answers discovery.
func rubyFleet(t *testing.T, specs []nodeSpec) (*Client, *fleet) {
	t.Helper()
	f := &fleet{addr: testenv.RequireRabbitMQ(t), sec: testSecurity(t)}
	f.collective = testenv.Collective(t)
	nodes := make([]testenv.RubyNode, len(specs))
	ids := make([]string, len(specs))
	for i, s := range specs {
		facts := make(map[string]string, len(s.facts))
		for k, v := range s.facts {
			facts[k] = fmt.Sprint(v)
		}
		nodes[i] = testenv.RubyNode{Identity: s.identity, Facts: facts, Classes: s.classes}
		ids[i] = s.identity
	}
	testenv.StartMcollectived(t, f.collective, f.addr, testPSK, nodes)
	c := f.client(t, nil)
	f.waitAll(t, c, ids)
	return c, f
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestStockMcollectived(t *testing.T) {
	specs := []nodeSpec{
		{"rnode1", map[string]any{"role": "web", "rack": "r1"}, []string{"base", "web::nginx"}},
		{"rnode2", map[string]any{"role": "web", "rack": "r2"}, []string{"base", "web::nginx"}},
		{"rnode3", map[string]any{"role": "db", "rack": "r2"}, []string{"base", "db::pg"}},
	}
	c, f := rubyFleet(t, specs)
	ctx := context.Background()

	t.Run("discover", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			f    message.Filter
			want []string
		}{
			{"all", message.Filter{}, []string{"rnode1", "rnode2", "rnode3"}},
			{"class", message.Filter{CFClass: []string{"web::nginx"}}, []string{"rnode1", "rnode2"}},
			{"identity", message.Filter{Identity: []string{"rnode3", "/^rnode1$/"}}, []string{"rnode1", "rnode3"}},
			{"fact", message.Filter{Fact: []message.FactFilter{{Fact: "rack", Value: "r2", Operator: "=="}}}, []string{"rnode2", "rnode3"}},
			{"fact regex and class", message.Filter{CFClass: []string{"base"}, Fact: []message.FactFilter{{Fact: "role", Value: "/^d/", Operator: "=~"}}}, []string{"rnode3"}},
			{"agent", message.Filter{Agent: []string{"rpcutil"}}, []string{"rnode1", "rnode2", "rnode3"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				start := time.Now()
				got, err := c.Discover(ctx, DiscoverOptions{Filter: tc.f})
				took := time.Since(start)
				if err != nil || !slices.Equal(got, tc.want) {
					t.Fatalf("Discover = %v, %v; want %v", got, err, tc.want)
				}
				if took >= DefaultDiscoveryTimeout {
					t.Fatalf("discovery took %v", took)
				}
				t.Logf("%v in %v", got, took)
			})
		}
	})

	broad := f.client(t, func(o *Options) { o.DirectAddressingThreshold = 1 })
	for _, cl := range []struct {
		name string
		c    *Client
	}{{"directed", c}, {"broadcast", broad}} {
		t.Run("ping "+cl.name, func(t *testing.T) {
			res, err := cl.c.Call(ctx, "rpcutil", "ping", nil, CallOptions{})
			if err != nil || len(res.OK) != 3 || len(res.Missing) != 0 {
				t.Fatalf("Call = %+v, %v", res, err)
			}
			for _, r := range res.OK {
				if _, ok := r.Data["pong"].(int64); !ok {
					t.Errorf("%s: pong %#v", r.Sender, r.Data["pong"])
				}
			}
			t.Logf("%d replies in %v (discovery %v)", len(res.OK), res.Elapsed, res.Discovery)
		})
	}

	t.Run("get_fact", func(t *testing.T) {
		res, err := c.Call(ctx, "rpcutil", "get_fact", map[string]any{"fact": "role"},
			CallOptions{Filter: message.Filter{CFClass: []string{"web::nginx"}}})
		if err != nil || len(res.OK) != 2 {
			t.Fatalf("Call = %+v, %v", res, err)
		}
		for _, r := range res.OK {
			if r.Data["fact"] != "role" || r.Data["value"] != "web" {
				t.Errorf("%s: %v", r.Sender, r.Data)
			}
		}
	})

	t.Run("inventory by nodes", func(t *testing.T) {
		res, err := c.Call(ctx, "rpcutil", "inventory", nil, CallOptions{Nodes: []string{"rnode3", "ghost"}, Timeout: time.Second})
		if err != nil || len(res.OK) != 1 || !slices.Equal(res.Missing, []string{"ghost"}) {
			t.Fatalf("Call = %+v, %v", res, err)
		}
		d := res.OK[0].Data
		facts, _ := d["facts"].(map[string]any)
		classes, _ := d["classes"].([]any)
		if d["version"] != "2.12.5" || facts["role"] != "db" || !slices.Contains(classes, any("db::pg")) {
			t.Fatalf("inventory %v", d)
		}
	})

	t.Run("same nodes as a full wait", func(t *testing.T) {
		quick, err := c.Ping(ctx, DiscoverOptions{})
		if err != nil {
			t.Fatal(err)
		}
		full, err := c.Discover(ctx, DiscoverOptions{WaitFull: true})
		if err != nil || len(full) != len(quick) {
			t.Fatalf("full wait found %v (%v), quick %+v", full, err, quick)
		}
		var slowest time.Duration
		for _, r := range quick {
			slowest = max(slowest, r.Elapsed)
		}
		t.Logf("slowest discovery reply from stock mcollectived: %v", slowest)
	})

	t.Run("unknown config item fails remotely", func(t *testing.T) {
		res, err := c.Call(ctx, "rpcutil", "get_config_item", map[string]any{"item": "nosuchitem"}, CallOptions{Nodes: []string{"rnode1"}})
		if err != nil || len(res.Failed) != 1 || res.Failed[0].Code != message.Aborted {
			t.Fatalf("Call = %+v, %v", res, err)
		}
	})
}
