package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/testenv"
)

// benchNodeCount is how many nodes BenchmarkPingVsMco pings.
const benchNodeCount = 10

// The benchmark's binaries, built once by benchBinaries.
var (
	benchBuild             sync.Once
	benchBuildDir          string
	benchMcorun, benchMcod string
	benchBuildErr          error
	benchBuildOut          []byte
)

// benchBinaries builds mcorun and mcod without the race detector, once, next to the test
// binaries (TestMain removes that directory): the race detector would distort wall times.
func benchBinaries(b *testing.B) (mcorunPath, mcodPath string) {
	b.Helper()
	benchBuild.Do(func() {
		benchBuildDir = filepath.Join(filepath.Dir(mcorunBin), "bench")
		benchMcorun = filepath.Join(benchBuildDir, "mcorun")
		benchMcod = filepath.Join(benchBuildDir, "mcod")
		for bin, pkg := range map[string]string{benchMcorun: ".", benchMcod: "../mcod"} {
			if benchBuildOut, benchBuildErr = exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); benchBuildErr != nil {
				return
			}
		}
	})
	if benchBuildErr != nil {
		b.Fatalf("building benchmark binaries: %v\n%s", benchBuildErr, benchBuildOut)
	}
	return benchMcorun, benchMcod
}

// BenchmarkPingVsMco measures the wall time of `mcorun rpc rpcutil ping` and of stock
// `mco rpc rpcutil ping`, side by side in every iteration, against the same 10 nodes and
// equivalent client configs, and reports both and their ratio. Each must hear every node.
// The sub-benchmarks differ in the nodes: mcod, or stock mcollectived.
//
//	go test -run XXX -bench PingVsMco -benchtime 5x ./cmd/mcorun
func BenchmarkPingVsMco(b *testing.B) {
	b.Run("mcod", func(b *testing.B) {
		mcoBin := testenv.RequireMCO(b)
		mcorunPath, mcodPath := benchBinaries(b)
		f := newEmptyFleet(b)
		f.mcod = mcodPath
		ids := make([]string, benchNodeCount)
		for i := range ids {
			ids[i] = fmt.Sprintf("gonode%02d", i)
			f.startNode(b, ids[i], "role: web\n", []string{"base"})
		}
		benchPing(b, f, mcorunPath, mcoBin, ids)
	})
	b.Run("mcollectived", func(b *testing.B) {
		mcoBin := testenv.RequireMCO(b)
		mcorunPath, _ := benchBinaries(b)
		f := newEmptyFleet(b)
		nodes := make([]testNode, benchNodeCount)
		ids := make([]string, benchNodeCount)
		for i := range nodes {
			ids[i] = fmt.Sprintf("rubynode%02d", i)
			nodes[i] = testNode{ids[i], map[string]string{"role": "web"}, []string{"base"}}
		}
		f.startRuby(b, nodes)
		benchPing(b, f, mcorunPath, mcoBin, ids)
	})
}

// benchPing waits until the fleet answers discovery, then times both clients.
func benchPing(b *testing.B, f *testFleet, mcorunPath, mcoBin string, ids []string) {
	b.Helper()
	cfg := f.clientConfig(b)
	mcoCfg := filepath.Join(f.dir, "mco-client.cfg")
	writeFile(b, mcoCfg, f.common()+"identity = mco-bench-client\nlibdir = /usr/share/mcollective/plugins\nlogger_type = console\nloglevel = error\ncolor = 0\n")
	waitFind(b, cfg, ids)
	home := b.TempDir()
	want := fmt.Sprintf("Finished processing %d / %d hosts", len(ids), len(ids))

	var mcorunTotal, mcoTotal time.Duration
	var discoveryMS, agentMS float64
	n := 0
	for b.Loop() {
		d, out := timeRun(b, home, mcorunPath, "rpc", "rpcutil", "ping", "--config", cfg)
		if !strings.Contains(out, want) || strings.Contains(out, "No response from") {
			b.Fatalf("mcorun did not hear every node:\n%s", out)
		}
		mcorunTotal += d
		d, out = timeRun(b, home, mcoBin, "rpc", "rpcutil", "ping", "--config", mcoCfg)
		if !strings.Contains(out, want) || strings.Contains(out, "No response from") {
			b.Fatalf("mco did not hear every node:\n%s", out)
		}
		mcoTotal += d
		// Where mcorun's time goes: the same call with --json reports its discovery and
		// agent phases; the rest of its wall time is process start, connect and close.
		_, out = timeRun(b, home, mcorunPath, "rpc", "rpcutil", "ping", "--config", cfg, "--json")
		var doc rpcDocJSON
		if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.OK) != len(ids) {
			b.Fatalf("mcorun --json: %v\n%s", err, out)
		}
		discoveryMS += doc.DiscoveryMS
		agentMS += doc.AgentMS
		n++
	}
	mcorunMS := float64(mcorunTotal) / float64(n) / float64(time.Millisecond)
	mcoMS := float64(mcoTotal) / float64(n) / float64(time.Millisecond)
	b.ReportMetric(mcorunMS, "mcorun-ms/op")
	b.ReportMetric(mcoMS, "mco-ms/op")
	b.ReportMetric(mcorunMS/mcoMS, "mcorun/mco")
	b.ReportMetric(discoveryMS/float64(n), "mcorun-discovery-ms/op")
	b.ReportMetric(agentMS/float64(n), "mcorun-agent-ms/op")
}

// timeRun runs bin with args and returns its wall time and its combined output; it fails the
// benchmark when bin exits non-zero.
func timeRun(b *testing.B, home, bin string, args ...string) (time.Duration, string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "HOME="+home)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out.String())
	}
	return d, out.String()
}
