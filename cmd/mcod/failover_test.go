package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/testenv"
)

// TestFailover runs mcod nodes and a client with a pool of both brokers of a RabbitMQ
// cluster (.ci/rabbitmq-cluster), and kills the broker they are all on while an rpc loop
// runs. The call in flight returns the nodes whose replies were lost as missing with the
// reason "broker connection lost", without an error; a later call gets every reply through
// the other broker; every node of every call ends ok, failed or missing, never absent.
func TestFailover(t *testing.T) {
	cl := testenv.RequireRabbitCluster(t, 2)
	f := &fleet{t: t, dir: t.TempDir(), collective: cl.Collective(t), psk: "failoverpsk", addr: cl.Addrs[0], logs: map[string]string{}}
	common := f.common() + poolConfig(cl.Addrs[:2])
	ids := []string{"f1", "f2", "f3"}
	for _, id := range ids {
		f.startProcess(t, nodeSpec{identity: id, facts: "role: x\n",
			extra: "plugin.shell.enabled = true\nplugin.mcod.state_dir = " + filepath.Join(f.dir, id+".state") + "\n"}, common)
	}

	cfg := parseCfg(t, common+"identity = failover-client\n")
	rabbit, err := cfg.RabbitMQ()
	if err != nil {
		t.Fatal(err)
	}
	opts, err := connector.OptionsFromConfig(rabbit, cfg.Identity, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := connector.Dial(dctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if conn.Broker() != cl.Addrs[0] {
		t.Fatalf("client on %s, want the pool's first broker %s", conn.Broker(), cl.Addrs[0])
	}
	c, err := client.FromConfig(cfg, conn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	sleep := map[string]any{"command": "sleep 1"}
	call := func() (*client.Results, error) {
		return c.Call(context.Background(), "shell", "run", sleep, client.CallOptions{Nodes: ids, Timeout: 5 * time.Second})
	}
	// The nodes' subscriptions bind on the broker a moment after they serve.
	for settle := time.Now().Add(15 * time.Second); ; {
		res, err := call()
		if err == nil && len(res.OK) == len(ids) {
			break
		}
		if time.Now().After(settle) {
			t.Fatalf("before the kill: %+v, %v", res, err)
		}
	}

	type outcome struct {
		res  *client.Results
		err  error
		took time.Duration
	}
	var (
		mu    sync.Mutex
		calls []outcome
	)
	stop, loopDone := make(chan struct{}), make(chan struct{})
	go func() { // a playbook's rpc loop
		defer close(loopDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			res, err := call()
			mu.Lock()
			calls = append(calls, outcome{res, err, time.Since(start)})
			mu.Unlock()
		}
	}()
	time.Sleep(400 * time.Millisecond) // the first call is in flight: the nodes sleep
	t.Cleanup(func() { cl.Start(t, 1) })
	killed := time.Now()
	cl.Kill(t, 1)
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

	mu.Lock()
	defer mu.Unlock()
	for i, o := range calls {
		if o.res == nil {
			t.Errorf("call %d: no results: %v", i, o.err)
			continue
		}
		t.Logf("call %d: took %v, err %v, ok %d, missing %v %v", i, o.took, o.err, len(o.res.OK), o.res.Missing, o.res.Reasons)
		if got := len(o.res.OK) + len(o.res.Failed) + len(o.res.Missing); got != len(ids) {
			t.Errorf("call %d: %d nodes accounted for, want %d", i, got, len(ids))
		}
	}
	first := calls[0]
	if first.err != nil || first.res == nil || len(first.res.Missing) == 0 {
		t.Fatalf("the call in flight: %+v, %v; want its lost nodes missing, no error", first.res, first.err)
	}
	for _, n := range first.res.Missing {
		if why := first.res.Reason(n); why != client.ReasonConnectionLost {
			t.Errorf("call in flight: %s missing because %q, want %q", n, why, client.ReasonConnectionLost)
		}
	}
	if first.took > 2*time.Second {
		t.Errorf("the call in flight took %v, want it to end when the broker went", first.took)
	}
	if last := calls[len(calls)-1]; last.err != nil || len(last.res.OK) != len(ids) {
		t.Errorf("no call got every reply within 30s of the kill: last %+v, %v", last.res, last.err)
	} else {
		t.Logf("every reply again %v after the kill, client on %s", time.Since(killed), conn.Broker())
	}
	if conn.Broker() != cl.Addrs[1] {
		t.Errorf("client on %s after the kill, want %s", conn.Broker(), cl.Addrs[1])
	}
}
