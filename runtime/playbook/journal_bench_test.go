package playbook

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/sandbox"
)

// BenchmarkJournalOverhead runs a loop of 20 rpc calls to 100 sandbox nodes with and
// without the run journal (a sent mark fsynced before each call, every result recorded),
// both in each iteration, in alternating order, and reports the ratio of their times.
func BenchmarkJournalOverhead(b *testing.B) {
	const nodes, calls = 100, 20
	fleet := sandboxClient(b, sandbox.Options{Nodes: nodes})
	found, err := fleet.Discover(context.Background(), client.DiscoverOptions{})
	if err != nil || len(found) != nodes {
		b.Fatalf("discovered %d nodes: %v", len(found), err)
	}
	ids := make([]string, nodes)
	for i, id := range found {
		ids[i] = fmt.Sprintf("%q", id)
	}
	dir := b.TempDir()
	file := filepath.Join(dir, "loop.star")
	src := fmt.Sprintf("nodes = [%s]\nfor i in range(%d):\n    rs = rpc('rpcutil', 'ping', nodes = nodes)\n    if len(rs.ok) != %d:\n        fail('missing replies')\n",
		strings.Join(ids, ", "), calls, nodes)
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	run := func(journal string) time.Duration {
		start := time.Now()
		out := Run(context.Background(), Options{File: file, Fleet: fleet, NoLock: true, Journal: journal,
			Stdout: io.Discard, Stderr: io.Discard})
		if out.ExitCode != ExitOK {
			b.Fatalf("run: %v", out.Err)
		}
		return time.Since(start)
	}
	run("") // warm up the connections and the nodes
	var plain, journaled time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 { // alternate the order, so that neither always runs on a warmer broker
			plain += run("")
			journaled += run(filepath.Join(dir, "runs"))
		} else {
			journaled += run(filepath.Join(dir, "runs"))
			plain += run("")
		}
	}
	b.ReportMetric(float64(plain.Milliseconds())/float64(b.N), "ms-plain/op")
	b.ReportMetric(float64(journaled.Milliseconds())/float64(b.N), "ms-journal/op")
	b.ReportMetric(float64(journaled)/float64(plain), "ratio")
}
