package sandbox

import (
	"context"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/message"
)

// BenchmarkBroadcast200 sends a broadcast rpcutil ping to 200 simulated nodes, each on its
// own connection, and waits for all 200 replies; a lost reply fails the benchmark. Run it
// with -benchtime=1000x for the 1000-request figure.
func BenchmarkBroadcast200(b *testing.B) {
	const nodes = 200
	start := time.Now()
	s := startSandbox(b, nodes)
	b.Logf("started %d nodes in %v", nodes, time.Since(start).Round(time.Millisecond))
	c := newClient(b, s)
	body, err := (&message.RPCRequest{Agent: "rpcutil", Action: "ping", Caller: "uid=0", ProcessResults: true}).Encode()
	if err != nil {
		b.Fatal(err)
	}
	dest := connector.BroadcastDest("mcollective", "rpcutil")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		ch, done, err := c.send(ctx, dest, "rpcutil", body, message.Filter{}, nodes)
		if err != nil {
			b.Fatal(err)
		}
		senders, _ := collect(ch, nodes, 10*time.Second)
		done()
		if len(senders) != nodes {
			b.Fatalf("request %d of %d: %d of %d replies", i+1, b.N, len(senders), nodes)
		}
	}
}
