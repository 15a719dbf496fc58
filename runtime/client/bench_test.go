package client

import (
	"context"
	"fmt"
	"testing"
)

// benchNodes returns n in-process nodes.
func benchNodes(n int) []nodeSpec {
	specs := make([]nodeSpec, n)
	for i := range specs {
		specs[i] = nodeSpec{identity: fmt.Sprintf("bench%02d", i), facts: map[string]any{"role": "web"}, classes: []string{"base"}}
	}
	return specs
}

// BenchmarkCallPing calls rpcutil ping on 10 in-process nodes, discovery included, and waits
// for every reply.
func BenchmarkCallPing(b *testing.B) {
	f := newFleet(b, benchNodes(10))
	c := f.client(b, nil)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		res, err := c.Call(ctx, "rpcutil", "ping", nil, CallOptions{})
		if err != nil || len(res.OK) != 10 {
			b.Fatalf("Call = %+v, %v", res, err)
		}
	}
}

// BenchmarkCallPingNodes calls rpcutil ping on 10 given nodes: no discovery.
func BenchmarkCallPingNodes(b *testing.B) {
	specs := benchNodes(10)
	f := newFleet(b, specs)
	c := f.client(b, nil)
	nodes := make([]string, len(specs))
	for i, s := range specs {
		nodes[i] = s.identity
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		res, err := c.Call(ctx, "rpcutil", "ping", nil, CallOptions{Nodes: nodes})
		if err != nil || len(res.OK) != 10 {
			b.Fatalf("Call = %+v, %v", res, err)
		}
	}
}

// BenchmarkDiscover runs mc discovery of 10 in-process nodes with the completion rule.
func BenchmarkDiscover(b *testing.B) {
	f := newFleet(b, benchNodes(10))
	c := f.client(b, nil)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		nodes, err := c.Discover(ctx, DiscoverOptions{})
		if err != nil || len(nodes) != 10 {
			b.Fatalf("Discover = %v, %v", nodes, err)
		}
	}
}
