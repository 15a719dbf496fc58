package sandbox

import (
	"context"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/connector"
)

// BenchmarkAgents200 calls the acting agents on 200 sandbox nodes through the real client,
// one broadcast per call to every node, and reports the time per node: shell run of `true`
// (a real process per node) and service status (the sim provider). Every node must answer
// ok. Run it with -benchtime=20x.
func BenchmarkAgents200(b *testing.B) {
	const nodes = 200
	s := startSandbox(b, nodes)
	cfg := s.ClientConfig()
	rmq, err := cfg.RabbitMQ()
	if err != nil {
		b.Fatal(err)
	}
	opts, err := connector.OptionsFromConfig(rmq, cfg.Identity, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	conn, err := connector.Dial(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	c, err := client.FromConfig(cfg, conn, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	ids := s.Identities()
	for _, tc := range []struct {
		name, agent, action string
		args                map[string]any
	}{
		{"shell run true", "shell", "run", map[string]any{"command": "true"}},
		{"service status", "service", "status", map[string]any{"service": "cron"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ResetTimer()
			for range b.N {
				res, err := c.Call(ctx, tc.agent, tc.action, tc.args, client.CallOptions{Discovered: ids, Timeout: 30 * time.Second})
				if err != nil {
					b.Fatal(err)
				}
				if len(res.OK) != nodes {
					b.Fatalf("%d ok, %d failed, %d missing of %d", len(res.OK), len(res.Failed), len(res.Missing), nodes)
				}
			}
			b.ReportMetric(float64(b.Elapsed())/float64(b.N)/nodes/float64(time.Microsecond), "µs/node")
		})
	}
}
