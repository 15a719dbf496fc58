package client

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mcorun/mcorun/agents"
	"github.com/mcorun/mcorun/runtime/server"
	"github.com/mcorun/mcorun/runtime/testenv"
)

// TestFailover runs nodes and a client with a pool of both brokers of a RabbitMQ cluster and
// kills the broker they are all on while a call is in flight. The call in flight returns the
// nodes whose replies were lost as missing with the reason "broker connection lost", without
// an error; a later call succeeds through the other broker; every node of every call ends
// ok, failed or missing, never absent.
func TestFailover(t *testing.T) {
	cl := testenv.RequireRabbitCluster(t, 2)
	collective := cl.Collective(t)
	sec := testSecurity(t)
	nap := napAgent(time.Second)
	ids := []string{"f1", "f2", "f3"}
	for _, id := range ids {
		srv, err := server.New(server.Options{Identity: id, Collectives: []string{collective}, DirectAddressing: true, Security: sec, Plugins: agents.Standard})
		if err != nil {
			t.Fatal(err)
		}
		srv.Register(nap)
		if err := srv.Start(dialPool(t, cl.Addrs, id, 0)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		})
	}
	conn := dialPool(t, cl.Addrs, "failover-client", 0)
	if got := conn.Broker(); got != cl.Addrs[0] {
		t.Fatalf("client on %s, want the pool's first broker %s", got, cl.Addrs[0])
	}
	f := &fleet{collective: collective, sec: sec}
	c := f.clientOn(t, conn, withDDL(nap.DDL))
	f.waitAll(t, c, ids)

	type outcome struct {
		res  *Results
		err  error
		took time.Duration
	}
	var (
		mu    sync.Mutex
		calls []outcome
	)
	stop := make(chan struct{})
	loopDone := make(chan struct{})
	go func() { // the rpc loop of a playbook
		defer close(loopDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			res, err := c.Call(context.Background(), "napper", "nap", nil, CallOptions{Nodes: ids, Timeout: 4 * time.Second})
			mu.Lock()
			calls = append(calls, outcome{res, err, time.Since(start)})
			mu.Unlock()
		}
	}()
	time.Sleep(300 * time.Millisecond) // the first call is in flight: the nodes are napping
	t.Cleanup(func() { cl.Start(t, 1) })
	killed := time.Now()
	cl.Kill(t, 1)

	// The loop goes on until a call gets every reply again, through the other broker.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(calls)
		recovered := n > 1 && calls[n-1].err == nil && len(calls[n-1].res.OK) == len(ids)
		mu.Unlock()
		if recovered || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	<-loopDone
	t.Logf("client on %s after the kill", conn.Broker())

	mu.Lock()
	defer mu.Unlock()
	for i, o := range calls {
		t.Logf("call %d: took %v, err %v, ok %d, missing %v %v", i, o.took, o.err, len(o.res.OK), o.res.Missing, o.res.Reasons)
	}
	first := calls[0]
	if first.err != nil {
		t.Errorf("the call in flight failed: %v; want its lost nodes missing with a reason", first.err)
	}
	if len(first.res.Missing) == 0 {
		t.Errorf("the call in flight lost no node: %+v", first.res)
	}
	for _, n := range first.res.Missing {
		if why := first.res.Reason(n); why != ReasonConnectionLost {
			t.Errorf("call in flight: %s missing because %q, want %q", n, why, ReasonConnectionLost)
		}
	}
	if first.took > 2*time.Second {
		t.Errorf("the call in flight took %v, want it to end when the broker went", first.took)
	}
	last := calls[len(calls)-1]
	if last.err != nil || len(last.res.OK) != len(ids) {
		t.Errorf("no call got every reply within 30s of the kill: last %+v, %v", last.res, last.err)
	} else {
		t.Logf("every reply again %v after the kill", time.Since(killed))
	}
	if conn.Broker() != cl.Addrs[1] {
		t.Errorf("client on %s after the kill, want %s", conn.Broker(), cl.Addrs[1])
	}
	for i, o := range calls {
		if o.res == nil {
			t.Errorf("call %d: no results (%v)", i, o.err)
			continue
		}
		if got := len(o.res.OK) + len(o.res.Failed) + len(o.res.Missing); got != len(ids) {
			t.Errorf("call %d: %d nodes accounted for, want %d: %+v", i, got, len(ids), o.res)
		}
	}
}
