package client

import (
	"context"
	"testing"

	"github.com/mcorun/mcorun/runtime/sandbox"
)

// BenchmarkCollect1000 calls rpcutil ping on 1,000 sandbox nodes (embedded broker, 100
// shared connections) given by name, so that each op is one broadcast and the collection of
// 1,000 replies: decode, verify, routing by requestid and the results. Profile the client's
// share with -cpuprofile and pprof -focus 'client\.'.
//
//	go test -run XXX -bench Collect1000 -benchtime 20x ./runtime/client
func BenchmarkCollect1000(b *testing.B) {
	const n = 1000
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, sandbox.Options{Nodes: n, Connections: 100})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close()
	c := sandboxClient(b, sb, "", "")
	nodes := sb.Identities()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := c.Call(ctx, "rpcutil", "ping", nil, CallOptions{Nodes: nodes})
		if err != nil || len(res.OK) != n {
			b.Fatalf("Call: %d of %d ok, %v", len(res.OK), n, err)
		}
	}
}
