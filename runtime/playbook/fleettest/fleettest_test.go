package fleettest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/message"
)

func newFleet(t *testing.T) *Fleet {
	t.Helper()
	f := New()
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

func senders(rs []client.Result) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Sender)
	}
	return out
}

func TestDiscoverAndCall(t *testing.T) {
	f := newFleet(t)
	ctx := context.Background()
	ids, err := f.Discover(ctx, client.DiscoverOptions{Filter: message.Filter{CFClass: []string{"web::nginx"}}})
	if err != nil || !slices.Equal(ids, []string{"web1", "web2", "web3", "web4"}) {
		t.Fatalf("discover: %v %v", ids, err)
	}
	// discovery stops by the client's own completion rule: 300 ms after the burst
	if got := f.Time().Elapsed(); got != client.DefaultMinWait {
		t.Fatalf("discovery took %v of fake time, want %v", got, client.DefaultMinWait)
	}
	res, err := f.Call(ctx, "rpcutil", "get_fact", map[string]any{"fact": "role"}, client.CallOptions{Limit: "2"})
	if err != nil {
		t.Fatal(err)
	}
	if got := senders(res.OK); !slices.Equal(got, []string{"app1", "db1"}) {
		t.Fatalf("limit 2: ok %v", got)
	}
	if v := res.OK[0].Data["value"]; v != "app" {
		t.Fatalf("app1 role = %#v, want the real rpcutil's answer \"app\"", v)
	}
}

func TestFailSilenceAndTimeouts(t *testing.T) {
	f := newFleet(t)
	f.Fail("web1")
	f.Silence("web2")
	ctx := context.Background()
	start := f.Time().Now()
	res, err := f.Call(ctx, "rpcutil", "ping", nil, client.CallOptions{Nodes: []string{"web1", "web2", "web3", "ghost"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(senders(res.OK), []string{"web3"}) || !slices.Equal(senders(res.Failed), []string{"web1"}) ||
		!slices.Equal(res.Missing, []string{"ghost", "web2"}) {
		t.Fatalf("ok %v failed %v missing %v", senders(res.OK), senders(res.Failed), res.Missing)
	}
	// the client waited its whole timeout for the silent node: rpcutil's 10 s plus 2 s
	if got := f.Time().Now().Sub(start); got != 12*time.Second {
		t.Fatalf("the call took %v of fake time, want 12s", got)
	}
	if res.Failed[0].Message != "failed on purpose" {
		t.Fatalf("failed message %q", res.Failed[0].Message)
	}
}

// An agent no node serves is discovered nowhere, and given nodes do not answer it.
func TestUnservedAgent(t *testing.T) {
	f := newFleet(t)
	if err := f.Declare(`{"metadata": {"name": "svc", "timeout": 5}, "actions": {"status": {"input": {}, "output": {"status": {"default": "unknown"}}}}}`); err != nil {
		t.Fatal(err)
	}
	f.Nodes[0].Agents = []string{"rpcutil"}
	ctx := context.Background()
	res, err := f.Call(ctx, "svc", "status", nil, client.CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(res.Targets, f.Nodes[0].ID) || len(res.OK) != 7 || res.OK[0].Data["status"] != "unknown" {
		t.Fatalf("targets %v ok %d data %v", res.Targets, len(res.OK), res.OK[0].Data)
	}
	if _, err := f.Call(ctx, "nosuch", "status", nil, client.CallOptions{}); err == nil {
		t.Fatal("an agent with no DDL anywhere was called")
	}
	res, err = f.Call(ctx, "puppet", "status", nil, client.CallOptions{Nodes: []string{f.Nodes[0].ID}})
	if err != nil || len(res.Missing) != 1 {
		t.Fatalf("puppet on a node without it: %+v %v", res, err)
	}
}

func TestResponderAndSeq(t *testing.T) {
	f := newFleet(t)
	f.Responder = func(req Request, rep *agent.Reply) bool {
		if req.Node.ID == "web1" && req.Seq == 2 {
			rep.Fail(message.Aborted, "second call fails")
		}
		return true
	}
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		res, err := f.Call(ctx, "rpcutil", "ping", nil, client.CallOptions{Nodes: []string{"web1"}})
		if err != nil {
			t.Fatal(err)
		}
		if failed := len(res.Failed) == 1; failed != (i == 2) {
			t.Fatalf("call %d: failed %v", i, res.Failed)
		}
	}
	calls := f.Calls()
	if len(calls) != 3 || calls[2].Seq != 3 || !slices.Equal(calls[2].Targets, []string{"web1"}) {
		t.Fatalf("calls %+v", calls)
	}
}

func TestBatchesOnTheFakeClock(t *testing.T) {
	f := newFleet(t)
	start := f.Time().Now()
	res, err := f.Call(context.Background(), "rpcutil", "ping", nil, client.CallOptions{Filter: message.Filter{Fact: []message.FactFilter{{Fact: "role", Operator: "==", Value: "web"}}}, Batch: "30%", BatchSleep: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, b := range res.Batches {
		sizes = append(sizes, len(b))
	}
	if !slices.Equal(sizes, []int{2, 2}) || len(res.OK) != 4 {
		t.Fatalf("batches %v ok %d", sizes, len(res.OK))
	}
	// 300 ms of discovery, then one 5 s pause between the two batches
	if got := f.Time().Now().Sub(start); got != client.DefaultMinWait+5*time.Second {
		t.Fatalf("took %v", got)
	}
}

func TestReset(t *testing.T) {
	f := newFleet(t)
	f.Fail("web1")
	f.Silence("web2")
	ctx := context.Background()
	opts := client.CallOptions{Nodes: []string{"web1", "web2"}}
	if _, err := f.Call(ctx, "rpcutil", "ping", nil, opts); err != nil {
		t.Fatal(err)
	}
	f.Reset()
	if calls := f.Calls(); len(calls) != 0 {
		t.Fatalf("calls after Reset: %+v", calls)
	}
	res, err := f.Call(ctx, "rpcutil", "ping", nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(senders(res.OK), []string{"web1", "web2"}) {
		t.Fatalf("after Reset: ok %v failed %v missing %v", senders(res.OK), senders(res.Failed), res.Missing)
	}
	if calls := f.Calls(); len(calls) != 1 || calls[0].Seq != 1 {
		t.Fatalf("calls after Reset: %+v", calls)
	}
}
