package floor

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/broker"
	"github.com/mcorun/mcorun/runtime/testenv"
)

func startEmbedded(tb testing.TB) string {
	tb.Helper()
	br, err := broker.Start(context.Background(), broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = br.Close() })
	return br.Addr()
}

func TestEveryNodeAnswersEveryRound(t *testing.T) {
	f, err := Start(context.Background(), Options{Addr: startEmbedded(t), Collective: "floortest", Nodes: 40, Connections: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 3 {
		took, got, err := f.Round(context.Background(), 5*time.Second)
		if err != nil || got != 40 {
			t.Fatalf("round %d: %d of 40 replies in %v: %v", i+1, got, took, err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestEveryNodeAnswersOnRabbitMQ(t *testing.T) {
	addr, coll := rabbitCollective(t)
	f, err := Start(context.Background(), Options{Addr: addr, VHost: testenv.VHost, User: "mcollective", Password: "secret",
		Collective: coll, Nodes: 20, Connections: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	took, got, err := f.Round(context.Background(), 10*time.Second)
	if err != nil || got != 20 {
		t.Fatalf("%d of 20 replies in %v: %v", got, took, err)
	}
}

// rabbitCollective declares a private collective's broadcast exchange on the test RabbitMQ
// through the management API, deleted when the test ends.
func rabbitCollective(tb testing.TB) (addr, coll string) {
	tb.Helper()
	addr = testenv.RequireRabbitMQ(tb)
	coll = testenv.Collective(tb)
	testenv.RequireReplyExchange(tb)
	return addr, coll
}

// benchFloor is one floor benchmark: b.N rounds of a broadcast and N replies. It reports
// the p50 of the rounds too, since one slow round moves the mean.
func benchFloor(b *testing.B, o Options) {
	f, err := Start(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var rounds []time.Duration
	b.ResetTimer()
	for i := range b.N {
		took, got, err := f.Round(context.Background(), 30*time.Second)
		if err != nil || got != o.Nodes {
			b.Fatalf("round %d: %d of %d replies: %v", i+1, got, o.Nodes, err)
		}
		rounds = append(rounds, took)
	}
	b.StopTimer()
	b.ReportMetric(float64(median(rounds).Microseconds())/1000, "p50-ms")
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

// sizes are the fleet sizes of BenchmarkFloor: MCORUN_BENCH_NODES (comma-separated)
// overrides the default 100 and 1000.
func sizes() []int {
	out := []int{100, 1000}
	if v := os.Getenv("MCORUN_BENCH_NODES"); v != "" {
		out = nil
		for _, s := range strings.Split(v, ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n > 0 {
				out = append(out, n)
			}
		}
	}
	return out
}

// BenchmarkFloor is the raw floor on the embedded broker and on RabbitMQ, with one
// connection per node as mcod --simulate's default: go test -run XXX -bench Floor
// -benchtime 20x ./runtime/floor.
func BenchmarkFloor(b *testing.B) {
	for _, n := range sizes() {
		b.Run(fmt.Sprintf("embedded/nodes=%d", n), func(b *testing.B) {
			benchFloor(b, Options{Addr: startEmbedded(b), Collective: "floorbench", Nodes: n})
		})
		b.Run(fmt.Sprintf("rabbitmq/nodes=%d", n), func(b *testing.B) {
			addr, coll := rabbitCollective(b)
			benchFloor(b, Options{Addr: addr, VHost: testenv.VHost, User: "mcollective", Password: "secret", Collective: coll, Nodes: n})
		})
	}
}
