package sandbox

import (
	"context"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/testenv"
)

// pingAll broadcasts rpcutil ping to the sandbox's collective and returns the sorted
// senders of the replies that came within wait, and how long the last one took.
func pingAll(tb testing.TB, s *Sandbox, wait time.Duration) ([]string, time.Duration) {
	tb.Helper()
	c := newClient(tb, s)
	body, err := (&message.RPCRequest{Agent: "rpcutil", Action: "ping", Caller: "uid=0", ProcessResults: true}).Encode()
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	ch, done, err := c.send(context.Background(), connector.BroadcastDest(s.collective, "rpcutil"), "rpcutil", body, message.Filter{}, len(s.nodes))
	if err != nil {
		tb.Fatal(err)
	}
	defer done()
	senders, _ := collect(ch, len(s.nodes), wait)
	return senders, time.Since(start)
}

func TestSharedConnectionsEachNodeSubscribed(t *testing.T) {
	s, err := Start(context.Background(), Options{Nodes: 12, Connections: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Connections() != 3 {
		t.Fatalf("%d connections, want 3", s.Connections())
	}
	senders, _ := pingAll(t, s, 5*time.Second)
	if !slices.Equal(senders, s.Identities()) {
		t.Fatalf("replies from %v, want every node %v", senders, s.Identities())
	}
}

func TestReplyDelaySlowsEveryReply(t *testing.T) {
	d := &Delay{P50: 150 * time.Millisecond, P99: 200 * time.Millisecond, Seed: 3}
	s, err := Start(context.Background(), Options{Nodes: 4, Connections: 2, Delay: d})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	senders, took := pingAll(t, s, 5*time.Second)
	if len(senders) != 4 {
		t.Fatalf("replies from %v, want 4 nodes", senders)
	}
	// The draws are lognormal around 150 ms with a p99 of 200 ms: below 80 ms is beyond 6 sigma.
	if took < 80*time.Millisecond {
		t.Fatalf("all replies within %v: the delay was not applied", took)
	}
}

func TestDelayDrawsFollowTheDistribution(t *testing.T) {
	d := Delay{P50: 10 * time.Millisecond, P99: 200 * time.Millisecond, Seed: 7, Slow: 0.01, SlowMin: 800 * time.Millisecond, SlowMax: 1500 * time.Millisecond}
	if err := d.Check(); err != nil {
		t.Fatal(err)
	}
	var draws []time.Duration
	slow := 0
	for i := range 5000 {
		draw := d.sampler(i)
		first := draw()
		if first >= d.SlowMin && first <= d.SlowMax && draw() >= d.SlowMin {
			slow++
			continue
		}
		draws = append(draws, first)
	}
	slices.Sort(draws)
	p50, p99 := draws[len(draws)/2], draws[len(draws)*99/100]
	if p50 < 8*time.Millisecond || p50 > 12*time.Millisecond || p99 < 150*time.Millisecond || p99 > 260*time.Millisecond {
		t.Fatalf("p50 %v p99 %v, want about 10ms and 200ms", p50, p99)
	}
	if slow < 25 || slow > 80 {
		t.Fatalf("%d slow nodes of 5000, want about 50", slow)
	}
	again := d.sampler(42)
	first := d.sampler(42)
	if a, b := again(), first(); a != b {
		t.Fatalf("the same seed and node drew %v and %v", a, b)
	}
	for _, bad := range []Delay{{P50: time.Second, P99: time.Millisecond}, {P99: time.Second}, {Slow: 2}, {SlowMin: time.Second, SlowMax: time.Millisecond}} {
		if bad.Check() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestSimulatedFleetOnRabbitMQ runs nodes on RabbitMQ over shared connections, each with its
// own queues: 20 nodes, 4 connections.
func TestSimulatedFleetOnRabbitMQ(t *testing.T) {
	addr := testenv.RequireRabbitMQ(t)
	coll := testenv.Collective(t)
	testenv.RequireReplyExchange(t)
	host, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	s, err := Start(context.Background(), Options{Nodes: 20, Connections: 4, Collective: coll,
		Broker: &connector.Options{VHost: testenv.VHost, Pool: []connector.Broker{{Host: host, Port: port, User: "mcollective", Password: "secret"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	senders, _ := pingAll(t, s, 10*time.Second)
	if !slices.Equal(senders, s.Identities()) {
		t.Fatalf("replies from %d nodes, want all 20: %v", len(senders), senders)
	}
}
