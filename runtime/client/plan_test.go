package client

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

func TestSize(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		n, want int
		err     bool
	}{
		{"", 7, 7, false},
		{"3", 7, 3, false},
		{" 3 ", 7, 3, false},
		{"30", 7, 7, false},
		{"30%", 7, 3, false}, // rounded up: batches of 3, 3, 1, as mco's --batch
		{"50%", 7, 4, false},
		{"10%", 7, 1, false},
		{"1%", 7, 1, false},
		{"100%", 7, 7, false},
		{"10%", 0, 0, false},
		{"0", 7, 0, false},
		{"0%", 7, 0, false},
		{"101%", 7, 0, true},
		{"-1", 7, 0, true},
		{"+1", 7, 0, true},
		{"x", 7, 0, true},
		{"5%%", 7, 0, true},
		{"5 %", 7, 0, true},
	} {
		sz, err := ParseSize(tc.spec)
		if (err != nil) != tc.err {
			t.Errorf("ParseSize(%q) error = %v, want error %v", tc.spec, err, tc.err)
			continue
		}
		if err == nil && sz.Of(tc.n) != tc.want {
			t.Errorf("ParseSize(%q).Of(%d) = %d, want %d", tc.spec, tc.n, sz.Of(tc.n), tc.want)
		}
	}
	ten, _ := ParseSize("10%")
	if ten.Exceeds(1, 10) || !ten.Exceeds(2, 10) || !ten.Exceeds(1, 7) {
		t.Error("10%: a threshold compares exactly: 1 of 10 is within, 2 of 10 and 1 of 7 exceed it")
	}
	if two := SizeOf(2); two.Exceeds(2, 100) || !two.Exceeds(3, 100) {
		t.Error("2: 2 failures are within, 3 exceed it")
	}
}

func TestPickLimit(t *testing.T) {
	nodes := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	size := func(s string) Size {
		sz, err := ParseSize(s)
		if err != nil {
			t.Fatal(err)
		}
		return sz
	}
	for _, tc := range []struct {
		name string
		spec string
		seed int64
		want []string
	}{
		{"none", "", 0, nodes},
		{"first", "3", 0, []string{"a", "b", "c"}},
		{"first percent", "25%", 0, []string{"a", "b"}},
		{"more than all", "20", 5, nodes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pickLimit(nodes, size(tc.spec), tc.seed); !slices.Equal(got, tc.want) {
				t.Fatalf("pickLimit = %v; want %v", got, tc.want)
			}
		})
	}
	t.Run("seeded", func(t *testing.T) {
		a := pickLimit(nodes, size("3"), 42)
		b := pickLimit(slices.Clone(nodes), size("3"), 42)
		if len(a) != 3 || !slices.Equal(a, b) || !slices.IsSorted(a) {
			t.Fatalf("seed 42: %v then %v", a, b)
		}
		differs := false
		for seed := int64(1); seed < 20 && !differs; seed++ {
			differs = !slices.Equal(pickLimit(nodes, size("3"), seed), a)
		}
		if !differs {
			t.Fatal("every seed picks the same nodes")
		}
		if !slices.Equal(nodes, []string{"a", "b", "c", "d", "e", "f", "g", "h"}) {
			t.Fatal("pickLimit changed its input")
		}
	})
}

func TestBatches(t *testing.T) {
	nodes := []string{"a", "b", "c", "d", "e"}
	for _, tc := range []struct {
		size int
		want [][]string
	}{
		{0, [][]string{nodes}},
		{5, [][]string{nodes}},
		{9, [][]string{nodes}},
		{2, [][]string{{"a", "b"}, {"c", "d"}, {"e"}}},
		{1, [][]string{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}}},
	} {
		got := Batches(nodes, tc.size)
		if !slices.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("Batches(%d) = %v, want %v", tc.size, got, tc.want)
		}
	}
}

func TestPlanRejects(t *testing.T) {
	rpcutil, err := ddl.Builtin("rpcutil")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts CallOptions
		s    Settings
		want string
	}{
		{"zero batch", CallOptions{Batch: "0"}, Settings{}, "batch"},
		{"zero percent batch", CallOptions{Batch: "0%"}, Settings{}, "batch"},
		{"zero limit", CallOptions{Limit: "0"}, Settings{}, "limit"},
		{"bad limit", CallOptions{Limit: "x"}, Settings{}, "limit"},
		{"batch without direct addressing", CallOptions{Batch: "2"}, Settings{NoDirectAddressing: true}, "direct addressing"},
		{"batched fire and forget", CallOptions{Batch: "2", FireAndForget: true}, Settings{}, "fire-and-forget"},
		{"unknown method", CallOptions{Method: "ldap"}, Settings{}, `unknown discovery method "ldap"`},
		{"unknown default method", CallOptions{}, Settings{DiscoveryMethod: "ldap"}, `unknown discovery method "ldap"`},
		{"fact filter with flatfile", CallOptions{Method: "flatfile", Filter: message.Filter{Fact: []message.FactFilter{{Fact: "a", Value: "1", Operator: "=="}}}},
			Settings{}, "the flatfile method cannot evaluate fact filters"},
		{"compound with the default puppetdb", CallOptions{Filter: message.Filter{Compound: [][]message.CompoundItem{{{Kind: message.Statement, Value: "a=1"}}}}},
			Settings{DiscoveryMethod: "puppetdb"}, "the puppetdb method cannot evaluate compound filters"},
		{"oversized filter", CallOptions{Filter: message.Filter{Identity: slices.Repeat([]string{strings.Repeat("n", 1000)}, 1100)}}, Settings{}, "filter holds"},
	} {
		if _, err := NewPlan(rpcutil, "ping", nil, tc.opts, tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewPlan error = %v, want one naming %q", tc.name, err, tc.want)
		}
	}
	if _, err := NewPlan(rpcutil, "get_fact", nil, CallOptions{}, Settings{}); !errors.Is(err, ErrInvalidArgs) {
		t.Errorf("missing input: NewPlan error = %v, want ErrInvalidArgs", err)
	}
}

// TestPlanSourceMethod: a source's nodes are called directly, one request each with the
// filter reset to the agent, however many there are; the plan carries the method, its
// options and the call's agent to the discovery. mc keeps mco's routing.
func TestPlanSourceMethod(t *testing.T) {
	rpcutil, err := ddl.Builtin("rpcutil")
	if err != nil {
		t.Fatal(err)
	}
	user := message.Filter{Fact: []message.FactFilter{{Fact: "a", Value: "1", Operator: "=="}}}
	nodes := make([]string, 50)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("n%02d", i)
	}
	p, err := NewPlan(rpcutil, "ping", nil, CallOptions{Filter: user, Method: "inventory", MethodOptions: map[string]string{"file": "x"}}, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	d := p.Discovery
	if p.Method != "inventory" || d == nil || d.Method != "inventory" || d.MethodOptions["file"] != "x" || d.CallAgent != "rpcutil" {
		t.Fatalf("plan %+v, discovery %+v", p, d)
	}
	tg := p.Target(nodes)
	if !tg.Directed || len(tg.Nodes) != 50 || !reflect.DeepEqual(tg.Filter, message.Filter{Agent: []string{"rpcutil"}}) {
		t.Errorf("inventory: directed %v, %d nodes, filter %+v; want 50 directed, agent only", tg.Directed, len(tg.Nodes), tg.Filter)
	}
	p, err = NewPlan(rpcutil, "ping", nil, CallOptions{Filter: user, Discovered: nodes}, Settings{DiscoveryMethod: "choria"})
	if err != nil || p.Method != "puppetdb" {
		t.Fatalf("default method: %+v, %v", p, err)
	}
	if tg := p.Target(nil); !tg.Directed || len(tg.Nodes) != 50 {
		t.Errorf("puppetdb discovered set: directed %v, %d nodes", tg.Directed, len(tg.Nodes))
	}
	p, err = NewPlan(rpcutil, "ping", nil, CallOptions{Filter: user, Discovered: nodes}, Settings{})
	if err != nil || p.Method != "mc" {
		t.Fatalf("mc: %+v, %v", p, err)
	}
	if tg := p.Target(nil); tg.Directed {
		t.Errorf("mc: 50 discovered nodes went directed; mco broadcasts beyond the threshold")
	}
}

func TestPlan(t *testing.T) {
	rpcutil, err := ddl.Builtin("rpcutil")
	if err != nil {
		t.Fatal(err)
	}
	user := message.Filter{CFClass: []string{"web"}, Fact: []message.FactFilter{{Fact: "a", Value: "1", Operator: "=="}}}
	full := withAgent(user, "rpcutil")
	reset := message.Filter{Agent: []string{"rpcutil"}}
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("n%02d", i)
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		opts      CallOptions
		s         Settings
		found     []string
		discovers bool
		nodes     []string
		batches   []int
		directed  bool
		filter    message.Filter
	}{
		{"discovered within threshold", CallOptions{Filter: user}, Settings{}, ids(10), true, ids(10), []int{10}, true, full},
		{"discovered over threshold", CallOptions{Filter: user}, Settings{}, ids(11), true, ids(11), []int{11}, false, full},
		{"given nodes", CallOptions{Filter: user, Nodes: []string{"n1", "n0", "n1"}}, Settings{}, nil, false, []string{"n0", "n1"}, []int{2}, true, reset},
		{"limit forces direct", CallOptions{Filter: user, Limit: "2"}, Settings{}, ids(11), true, ids(2), []int{2}, true, reset},
		{"limit on given nodes", CallOptions{Nodes: ids(8), Limit: "2"}, Settings{}, nil, false, ids(2), []int{2}, true, reset},
		{"batch percent", CallOptions{Filter: user, Batch: "30%"}, Settings{}, ids(7), true, ids(7), []int{3, 3, 1}, true, reset},
		{"limit then batch", CallOptions{Filter: user, Limit: "50%", Batch: "2"}, Settings{}, ids(7), true, ids(4), []int{2, 2}, true, reset},
		{"no direct addressing", CallOptions{Filter: user}, Settings{NoDirectAddressing: true}, ids(10), true, ids(10), []int{10}, false, full},
		{"given without direct addressing", CallOptions{Nodes: []string{"n1", "n2"}}, Settings{NoDirectAddressing: true}, nil, false, []string{"n1", "n2"}, []int{2}, false,
			message.Filter{Agent: []string{"rpcutil"}, Identity: []string{"n1", "n2"}}},
		{"already discovered", CallOptions{Filter: user, Discovered: ids(3)}, Settings{}, nil, false, ids(3), []int{3}, true, full},
		{"fire and forget broadcast", CallOptions{Filter: user, FireAndForget: true}, Settings{}, nil, false, nil, nil, false, full},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlan(rpcutil, "ping", nil, tc.opts, tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if (p.Discovery != nil) != tc.discovers {
				t.Fatalf("discovery = %+v, want one: %v", p.Discovery, tc.discovers)
			}
			if p.Discovery != nil && !slices.Contains(p.Discovery.Filter.Agent, "rpcutil") {
				t.Fatalf("the discovery filter %+v lacks the agent", p.Discovery.Filter)
			}
			tg := p.Target(tc.found)
			var sizes []int
			for _, b := range tg.Batches {
				sizes = append(sizes, len(b))
			}
			if !slices.Equal(tg.Nodes, tc.nodes) || !slices.Equal(sizes, tc.batches) || tg.Directed != tc.directed || !sameFilter(tg.Filter, tc.filter) {
				t.Fatalf("targets = %v in batches %v, directed %v, filter %+v; want %v in %v, directed %v, filter %+v",
					tg.Nodes, sizes, tg.Directed, tg.Filter, tc.nodes, tc.batches, tc.directed, tc.filter)
			}
		})
	}
	if len(user.Agent) != 0 {
		t.Fatal("the plan changed the caller's filter")
	}
	p, err := NewPlan(rpcutil, "ping", nil, CallOptions{}, Settings{DiscoveryTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if p.Timeout != 13*time.Second || p.TTL != DefaultTTL || p.BatchSleep != DefaultBatchSleep || p.Collective != "mcollective" {
		t.Fatalf("defaults: timeout %v ttl %v sleep %v collective %q", p.Timeout, p.TTL, p.BatchSleep, p.Collective)
	}
}

func sameFilter(a, b message.Filter) bool {
	return slices.Equal(a.CFClass, b.CFClass) && slices.Equal(a.Agent, b.Agent) &&
		slices.Equal(a.Identity, b.Identity) && slices.Equal(a.Fact, b.Fact) && len(a.Compound) == len(b.Compound)
}

func TestCallTimeout(t *testing.T) {
	rpcutil, err := ddl.Builtin("rpcutil")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		explicit  time.Duration
		a         *ddl.Agent
		discovery time.Duration
		want      time.Duration
	}{
		{"explicit", 3 * time.Second, rpcutil, 2 * time.Second, 3 * time.Second},
		{"ddl plus discovery", 0, rpcutil, 2 * time.Second, 12 * time.Second},
		{"no ddl timeout", 0, &ddl.Agent{}, 5 * time.Second, 15 * time.Second},
	} {
		if got := callTimeout(tc.explicit, tc.a, tc.discovery); got != tc.want {
			t.Errorf("%s: callTimeout = %v, want %v", tc.name, got, tc.want)
		}
	}
	f := message.Filter{Compound: [][]message.CompoundItem{{{Kind: message.FStatement, Func: &message.DataCall{Name: "fstat"}}}}}
	if got := dataTimeout(f); got != time.Second {
		t.Errorf("dataTimeout(fstat) = %v, want 1s", got)
	}
}

func TestCompletion(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	for _, tc := range []struct {
		name    string
		opts    DiscoverOptions
		timeout time.Duration
		replies []int // arrival, ms after sending
		want    int   // deadline, ms after sending
		expect  []string
		grace   time.Duration
		quiet   bool // plugin.mcorun.discovery_first = quiet
	}{
		{"no reply: the whole timeout, as mco", DiscoverOptions{}, 2 * time.Second, nil, 2000, nil, 0, true},
		{"fast burst: min wait", DiscoverOptions{}, 2 * time.Second, []int{3, 4, 9}, 300, nil, 0, true},
		{"burst ending late: floor after it", DiscoverOptions{}, 2 * time.Second, []int{5, 250}, 750, nil, 0, true},
		{"slow node stretches the window", DiscoverOptions{}, 2 * time.Second, []int{5, 400}, 1200, nil, 0, true},
		{"never past the timeout", DiscoverOptions{}, 2 * time.Second, []int{5, 900}, 2000, nil, 0, true},
		{"full wait", DiscoverOptions{WaitFull: true}, 2 * time.Second, []int{5}, 2000, nil, 0, true},
		{"overrides", DiscoverOptions{MinWait: 50 * time.Millisecond, QuietFloor: 10 * time.Millisecond, QuietFactor: 1}, time.Second, []int{2, 30}, 60, nil, 0, true},
		{"timeout shorter than min wait", DiscoverOptions{}, 200 * time.Millisecond, nil, 200, nil, 0, true},
		{"expected all in: grace after the last", DiscoverOptions{}, 2 * time.Second, []int{3, 4, 9}, 59, []string{"n0", "n1", "n2"}, 50 * time.Millisecond, true},
		{"expected node missing: whole timeout", DiscoverOptions{}, 2 * time.Second, []int{3, 4}, 2000, []string{"n0", "n1", "n2"}, 50 * time.Millisecond, true},
		{"slow expected node is awaited", DiscoverOptions{}, 2 * time.Second, []int{3, 4, 1400}, 1450, []string{"n0", "n1", "n2"}, 50 * time.Millisecond, true},
		{"newcomer extends the grace", DiscoverOptions{}, 2 * time.Second, []int{3, 4, 9, 40}, 90, []string{"n0", "n1", "n2"}, 50 * time.Millisecond, true},
		{"directed: no grace", DiscoverOptions{}, 2 * time.Second, []int{3, 7}, 7, []string{"n0", "n1"}, 0, true},
		{"expected with full wait", DiscoverOptions{WaitFull: true}, 2 * time.Second, []int{3}, 2000, []string{"n0"}, 50 * time.Millisecond, true},
		{"first discovery by default: the whole timeout, however fast the burst", DiscoverOptions{}, 2 * time.Second, []int{3, 4, 9}, 2000, nil, 0, false},
		{"first discovery by default: a late node is still heard", DiscoverOptions{}, 2 * time.Second, []int{5, 1900}, 2000, nil, 0, false},
		{"expected set ends it early whatever the first-discovery rule", DiscoverOptions{}, 2 * time.Second, []int{3, 4, 9}, 59, []string{"n0", "n1", "n2"}, 50 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCompletion(t0, tc.timeout, tc.opts, tc.expect, tc.grace, tc.quiet)
			for i, r := range tc.replies {
				c.observe(ms(r), fmt.Sprintf("n%d", i))
			}
			if got := c.deadline(); !got.Equal(ms(tc.want)) {
				t.Fatalf("deadline = +%v, want +%dms", got.Sub(t0), tc.want)
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	a, b := newRequestID(), newRequestID()
	if len(a) != 32 || a == b {
		t.Fatalf("request ids %q %q", a, b)
	}
	for _, r := range a {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			t.Fatalf("request id %q is not lowercase hex", a)
		}
	}
}

func TestNewRejects(t *testing.T) {
	sec := testSecurity(t)
	for _, tc := range []struct {
		name string
		t    Transport
		o    Options
	}{
		{"no transport", nil, Options{Identity: "c", Security: sec}},
		{"no identity", &recorder{}, Options{Security: sec}},
		{"no security", &recorder{}, Options{Identity: "c"}},
	} {
		if _, err := New(tc.t, tc.o); err == nil {
			t.Errorf("%s: New succeeded", tc.name)
		}
	}
}

func TestDDLUnknown(t *testing.T) {
	c := &Client{ddls: map[string]*ddl.Agent{}}
	if _, err := c.DDL("nosuch"); !errors.Is(err, ErrUnknownAgent) || !errors.Is(err, ddl.ErrNotFound) {
		t.Fatalf("DDL(nosuch) = %v", err)
	}
	a, err := c.DDL("rpcutil")
	if err != nil || a.Actions["ping"] == nil {
		t.Fatalf("DDL(rpcutil) = %v, %v", a, err)
	}
}
