package server

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

// TestDataPluginWorkHoldsItsSlot checks that a data plugin query that outlives its timeout
// keeps its worker slot until it ends: never more queries run than MaxConcurrent, and once
// they end no goroutine of theirs is left.
func TestDataPluginWorkHoldsItsSlot(t *testing.T) {
	const slots, requests = 2, 6
	d, err := ddl.BuiltinData("collective") // timeout 1 s
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var running, most atomic.Int32
	stuck := &agent.DataPlugin{DDL: d, Query: func(context.Context, any) (map[string]any, error) {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release // work that does not notice its context, like a read that blocks
		running.Add(-1)
		return map[string]any{"member": true}, nil
	}}
	base := runtime.NumGoroutine()
	s, _, _ := newTestServerWith(t, func(o *Options) { o.MaxConcurrent = slots })
	s.RegisterData(stuck)
	sec := psk(t)
	f := message.Filter{Compound: [][]message.CompoundItem{{{Kind: message.FStatement, Func: &message.DataCall{
		Name: "collective", Params: "mcollective", Value: "member", Operator: "==", RCompare: "true"}}}}}
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for range requests {
			s.Handle(request(t, sec, "tester", "echo", map[string]any{"msg": "x"}, f))
		}
	}()
	time.Sleep(1500 * time.Millisecond) // past the plugin's 1 s timeout
	close(release)
	<-sent
	s.inflight.Wait()
	if m := most.Load(); m > slots {
		t.Errorf("%d data plugin queries ran at once with %d worker slots", m, slots)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > base+4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base+4 {
		t.Errorf("%d goroutines left after the requests ended, %d before", n, base)
	}
}
