package client

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		n, want int
		err     bool
	}{
		{"", 7, 7, false},
		{"3", 7, 3, false},
		{"30", 7, 7, false},
		{"50%", 7, 3, false},
		{"10%", 7, 1, false},
		{"100%", 7, 7, false},
		{"10%", 0, 0, false},
		{"0", 7, 0, false},
		{"0%", 7, 0, true},
		{"-1", 7, 0, true},
		{"x", 7, 0, true},
		{"5%%", 7, 0, true},
	} {
		got, err := count(tc.spec, tc.n)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("count(%q, %d) = %d, %v; want %d, err=%v", tc.spec, tc.n, got, err, tc.want, tc.err)
		}
	}
}

func TestPickLimit(t *testing.T) {
	nodes := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for _, tc := range []struct {
		name string
		spec string
		seed int64
		want []string
		err  bool
	}{
		{"none", "", 0, nodes, false},
		{"first", "3", 0, []string{"a", "b", "c"}, false},
		{"first percent", "25%", 0, []string{"a", "b"}, false},
		{"more than all", "20", 5, nodes, false},
		{"zero", "0", 0, nil, true},
		{"bad", "x%", 0, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pickLimit(nodes, tc.spec, tc.seed)
			if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
				t.Fatalf("pickLimit = %v, %v; want %v, err=%v", got, err, tc.want, tc.err)
			}
		})
	}
	t.Run("seeded", func(t *testing.T) {
		a, _ := pickLimit(nodes, "3", 42)
		b, _ := pickLimit(slices.Clone(nodes), "3", 42)
		if len(a) != 3 || !slices.Equal(a, b) || !slices.IsSorted(a) {
			t.Fatalf("seed 42: %v then %v", a, b)
		}
		differs := false
		for seed := int64(1); seed < 20 && !differs; seed++ {
			c, _ := pickLimit(nodes, "3", seed)
			differs = !slices.Equal(c, a)
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
		got := batches(nodes, tc.size)
		if !slices.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("batches(%d) = %v, want %v", tc.size, got, tc.want)
		}
	}
}

func TestPlanRoute(t *testing.T) {
	user := message.Filter{CFClass: []string{"web"}, Fact: []message.FactFilter{{Fact: "a", Value: "1", Operator: "=="}}}
	full := withAgent(user, "rpcutil")
	reset := message.Filter{Agent: []string{"rpcutil"}}
	ten := make([]string, 10)
	eleven := make([]string, 11)
	for _, tc := range []struct {
		name     string
		nodes    []string
		forced   bool
		noDirect bool
		want     route
	}{
		{"discovered within threshold", ten, false, false, route{directed: true, filter: full}},
		{"discovered over threshold", eleven, false, false, route{filter: full}},
		{"forced", []string{"n1"}, true, false, route{directed: true, filter: reset}},
		{"forced many", eleven, true, false, route{directed: true, filter: reset}},
		{"no direct addressing", ten, false, true, route{filter: full}},
		{"forced without direct addressing", []string{"n1", "n2"}, true, true,
			route{filter: message.Filter{Agent: []string{"rpcutil"}, Identity: []string{"n1", "n2"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := planRoute(user, "rpcutil", tc.nodes, tc.forced, tc.noDirect, 10)
			if got.directed != tc.want.directed || !sameFilter(got.filter, tc.want.filter) {
				t.Fatalf("planRoute = %+v, want %+v", got, tc.want)
			}
		})
	}
	if len(user.Agent) != 0 {
		t.Fatal("planRoute changed the caller's filter")
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
	}{
		{"no reply: the whole timeout, as mco", DiscoverOptions{}, 2 * time.Second, nil, 2000},
		{"fast burst: min wait", DiscoverOptions{}, 2 * time.Second, []int{3, 4, 9}, 300},
		{"burst ending late: floor after it", DiscoverOptions{}, 2 * time.Second, []int{5, 250}, 750},
		{"slow node stretches the window", DiscoverOptions{}, 2 * time.Second, []int{5, 400}, 1200},
		{"never past the timeout", DiscoverOptions{}, 2 * time.Second, []int{5, 900}, 2000},
		{"full wait", DiscoverOptions{WaitFull: true}, 2 * time.Second, []int{5}, 2000},
		{"overrides", DiscoverOptions{MinWait: 50 * time.Millisecond, QuietFloor: 10 * time.Millisecond, QuietFactor: 1}, time.Second, []int{2, 30}, 60},
		{"timeout shorter than min wait", DiscoverOptions{}, 200 * time.Millisecond, nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCompletion(t0, tc.timeout, tc.opts)
			for _, r := range tc.replies {
				c.observe(ms(r))
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
