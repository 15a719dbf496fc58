package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/testenv"
)

// puppetPluginDirEnv names a checkout of the public puppet plugin kept outside this
// repository; only the runall timing comparison with stock mco uses it.
const puppetPluginDirEnv = "MCORUN_PUPPET_PLUGIN_DIR"

// puppetFleet is five mcod nodes that serve the puppet agent over real Puppet: each node has
// its own puppet.conf and a plugin.puppet.command wrapper that runs puppet apply of a small
// manifest and appends its start and end times to a file.
type puppetFleet struct {
	*testFleet
	nodes []string
}

// startPuppetFleet starts the five nodes pup1 to pup5; the runs of the nodes in failing fail
// on purpose (an exec of /bin/false).
func startPuppetFleet(t testing.TB, failing ...string) *puppetFleet {
	t.Helper()
	return startPuppetNodes(t, 5, failing...)
}

// startPuppetNodes starts the n nodes pup1 to pupN, as startPuppetFleet does, at most five at
// a time: each locates Puppet's files with a second of CPU, and more side by side on two
// cores outlast the serve timeout.
func startPuppetNodes(t testing.TB, n int, failing ...string) *puppetFleet {
	t.Helper()
	bin := testenv.RequirePuppet(t)
	f := &puppetFleet{testFleet: newEmptyFleet(t)}
	const together = 5
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("pup%d", i)
		f.nodes = append(f.nodes, id)
		manifest := "notify { 'hello': message => 'hi' }\n"
		for _, x := range failing {
			if x == id {
				manifest = "exec { 'fail on purpose': command => '/bin/false' }\n"
			}
		}
		f.launchPuppetNode(t, id, bin, manifest)
		if i%together == 0 || i == n {
			// The nodes start up side by side; wait for each in turn.
			for _, id := range f.nodes[(i-1)/together*together:] {
				testenv.WaitLog(t, id, filepath.Join(f.dir, id+".log"), "serving", testenv.ServeTimeout)
			}
		}
	}
	return f
}

// puppetDir is a node's Puppet directory: puppet.conf, site.pp, the wrapper and its times file.
func (f *puppetFleet) puppetDir(id string) string { return filepath.Join(f.dir, id+"-puppet") }

// launchPuppetNode writes the node's Puppet directory and starts its mcod, without waiting
// for it to serve.
func (f *puppetFleet) launchPuppetNode(t testing.TB, id, bin, manifest string) {
	t.Helper()
	pd := f.puppetDir(id)
	if err := os.MkdirAll(filepath.Join(pd, "var/state"), 0o755); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(pd, "var/state/agent_catalog_run.lock")
	writeFile(t, filepath.Join(pd, "site.pp"), manifest)
	writeFile(t, filepath.Join(pd, "puppet.conf"), fmt.Sprintf("[main]\nvardir = %[1]s/var\nstatedir = %[1]s/var/state\nlogdir = %[1]s/log\nrundir = %[1]s/run\ncodedir = %[1]s/code\npublicdir = %[1]s/public\n", pd))
	wrapper := filepath.Join(pd, "run-puppet")
	writeFile(t, wrapper, fmt.Sprintf(`#!/bin/sh
echo $$ > %[2]s
echo "start $(date +%%s.%%N)" >> %[1]s/times
%[3]s apply --config %[1]s/puppet.conf %[1]s/site.pp > %[1]s/run.log 2>&1
rc=$?
echo "end $(date +%%s.%%N)" >> %[1]s/times
rm -f %[2]s
exit $rc
`, pd, lock, bin))
	if err := os.Chmod(wrapper, 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.LaunchMCod(t, mcodBin, f.dir, f.common(), testenv.MCodNode{
		Identity: id, Facts: "role: web\n", LogLevel: "info",
		Extra: fmt.Sprintf("plugin.puppet.config = %s/puppet.conf\nplugin.puppet.command = %s\nplugin.puppet.splay = false\n", pd, wrapper),
	})
}

// runSpan is one run of the wrapper, in Unix seconds.
type runSpan struct{ start, end float64 }

// spans reads the runs each node's wrapper recorded; an unfinished run has end 0.
func (f *puppetFleet) spans(t testing.TB) map[string][]runSpan {
	t.Helper()
	out := map[string][]runSpan{}
	for _, id := range f.nodes {
		b, err := os.ReadFile(filepath.Join(f.puppetDir(id), "times"))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			kind, v, ok := strings.Cut(line, " ")
			if !ok {
				continue
			}
			x, _ := strconv.ParseFloat(v, 64)
			switch kind {
			case "start":
				out[id] = append(out[id], runSpan{start: x})
			case "end":
				if n := len(out[id]); n > 0 {
					out[id][n-1].end = x
				}
			}
		}
	}
	return out
}

// resetSpans forgets the recorded runs.
func (f *puppetFleet) resetSpans(t testing.TB) {
	for _, id := range f.nodes {
		if err := os.RemoveAll(filepath.Join(f.puppetDir(id), "times")); err != nil {
			t.Fatal(err)
		}
	}
}

// maxOverlap is the most runs that were applying at the same time.
func maxOverlap(spans map[string][]runSpan) int {
	type edge struct {
		at    float64
		delta int
	}
	var edges []edge
	for _, ss := range spans {
		for _, s := range ss {
			edges = append(edges, edge{s.start, 1}, edge{s.end, -1})
		}
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at != edges[j].at {
			return edges[i].at < edges[j].at
		}
		return edges[i].delta < edges[j].delta // an end before a start at the same instant
	})
	cur, most := 0, 0
	for _, e := range edges {
		cur += e.delta
		most = max(most, cur)
	}
	return most
}

// waitIdle waits until no node applies a catalog and each has a last run.
func (f *puppetFleet) waitIdle(t testing.TB, cfg string) {
	t.Helper()
	f.waitRuns(t, cfg, true)
}

// waitRuns waits until no node applies a catalog and, with everyRan, each has a last run.
func (f *puppetFleet) waitRuns(t testing.TB, cfg string, everyRan bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _, _ := mcorun(t, "puppet", "status", "--config", cfg, "--json")
		var doc rpcDocJSON
		_ = json.Unmarshal([]byte(out), &doc)
		idle := len(doc.Replies) == len(f.nodes)
		for _, r := range doc.Replies {
			d, _ := r.Data.(map[string]any)
			if last, _ := d["lastrun"].(float64); d["applying"] != false || everyRan && last == 0 {
				idle = false
			}
		}
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the runs never finished: %s", out)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestPuppetVerbsRealPuppet drives mcorun puppet status, runonce, summary, disable, count,
// enable and runall against five mcod nodes running real Puppet; pup1's manifest fails.
func TestPuppetVerbsRealPuppet(t *testing.T) {
	t.Parallel()
	f := startPuppetFleet(t, "pup1")
	cfg := f.clientConfig(t)
	expect := func(what string, code, want int, out, errOut string, has ...string) {
		t.Helper()
		if code != want {
			t.Errorf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", what, code, want, out, errOut)
		}
		for _, s := range has {
			if !strings.Contains(out, s) {
				t.Errorf("%s: output lacks %q:\n%s", what, s, out)
			}
		}
	}

	out, errOut, code := mcorun(t, "puppet", "status", "--config", cfg)
	expect("status", code, exitOK, out, errOut, "   pup1: Currently stopped; last completed run ",
		"Summary of Enabled:\n\n   enabled = 5\n", "Summary of Status:\n\n   stopped = 5\n", "Finished processing 5 / 5 hosts in ")

	out, errOut, code = mcorun(t, "puppet", "runonce", "--config", cfg)
	expect("runonce", code, exitOK, out, errOut, "Finished processing 5 / 5 hosts in ")
	f.waitIdle(t, cfg)

	out, errOut, code = mcorun(t, "puppet", "summary", "--config", cfg)
	expect("summary", code, exitOK, out, errOut, "Summary statistics for 5 nodes:\n",
		"                 Failed resources: ", "max: 1.0", "         Total run-time (seconds): ")

	out, errOut, code = mcorun(t, "puppet", "disable", "maintenance window", "-I", "pup5", "--config", cfg)
	expect("disable", code, exitOK, out, errOut, "Summary of Enabled:\n\n   disabled = 1\n")
	out, errOut, code = mcorun(t, "puppet", "count", "--config", cfg)
	expect("count", code, exitOK, out, errOut, "Total Puppet nodes: 5\n",
		"          Nodes currently enabled: 4\n         Nodes currently disabled: 1\n")

	// --max-failures 0 with pup5 disabled: pup1 and pup2 start; once pup1 has failed no new
	// run starts, and the run under way is waited for.
	f.resetSpans(t)
	out, errOut, code = mcorun(t, "puppet", "runall", "2", "--max-failures", "0", "--json", "--config", cfg)
	var ro rollout
	if err := json.Unmarshal([]byte(out), &ro); err != nil {
		t.Fatalf("runall --json: %v\n%s\n%s", err, out, errOut)
	}
	outcomes := map[string]string{}
	for _, r := range ro.Nodes {
		outcomes[r.Node] = r.Outcome
	}
	if code != exitFailed || !ro.Stopped || len(ro.Nodes) != 4 || outcomes["pup1"] != outcomeFailed ||
		outcomes["pup2"] != outcomeOK || outcomes["pup4"] != outcomeSkipped {
		t.Errorf("runall --max-failures 0: exit %d, %+v\n%s", code, outcomes, errOut)
	}
	spans := f.spans(t)
	for id, ss := range spans {
		if outcomes[id] == outcomeSkipped || id == "pup5" {
			t.Errorf("%s ran although it was skipped or disabled: %+v", id, ss)
		}
		for _, s := range ss {
			if s.end == 0 {
				t.Errorf("%s: mcorun returned before its run finished", id)
			}
		}
	}

	out, errOut, code = mcorun(t, "puppet", "enable", "-I", "pup5", "--config", cfg)
	expect("enable", code, exitOK, out, errOut, "Summary of Enabled:\n\n   enabled = 1\n")

	f.resetSpans(t)
	start := time.Now()
	out, errOut, code = mcorun(t, "puppet", "runall", "2", "--config", cfg)
	t.Logf("mcorun puppet runall 2 over 5 nodes: %s", time.Since(start).Round(10*time.Millisecond))
	expect("runall 2", code, exitFailed, out, errOut, ": Found 5 enabled nodes\n",
		"| pup1 | failed  | 1      | 0       |", "5 nodes: 4 ok, 1 failed; at most 2 at once;")
	for _, id := range []string{"pup2", "pup3", "pup4", "pup5"} {
		if !strings.Contains(out, "| "+id+" | ok      | 0      | 1       |") {
			t.Errorf("runall 2: no ok row for %s:\n%s", id, out)
		}
	}
	spans = f.spans(t)
	for _, id := range f.nodes {
		if len(spans[id]) != 1 || spans[id][0].end == 0 {
			t.Errorf("%s: runs %+v, want one finished run", id, spans[id])
		}
	}
	if n := maxOverlap(spans); n > 2 || n < 2 {
		t.Errorf("runall 2: %d runs overlapped, want 2", n)
	}
}

// BenchmarkPuppetRunallVsMco measures mcorun puppet runall 2 against stock mco puppet runall 2 on
// the same five nodes. It is a measurement, not a requirement: it runs only when
// MCORUN_PUPPET_PLUGIN_DIR names a checkout of the public plugin (kept outside the
// repository) for mco's application and DDLs. mco returns once the last run is started;
// mcorun waits for the last run to finish.
func BenchmarkPuppetRunallVsMco(b *testing.B) {
	dir := os.Getenv(puppetPluginDirEnv)
	if dir == "" {
		b.Skipf("%s is not set: no stock mco comparison", puppetPluginDirEnv)
	}
	var t testing.TB = b
	mco := testenv.RequireMCO(t)
	f := startPuppetFleet(t)
	cfg := f.clientConfig(t)
	lib := filepath.Join(f.dir, "clientlib")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(lib, "mcollective")); err != nil {
		t.Fatal(err)
	}
	mcoCfg := filepath.Join(f.dir, "mco.cfg")
	writeFile(t, mcoCfg, f.common()+"identity = mco-test-client\nlibdir = "+lib+":/usr/share/mcollective/plugins\nlogger_type = console\nloglevel = error\n")

	lastEnd := func() float64 {
		last := 0.0
		for _, ss := range f.spans(t) {
			for _, s := range ss {
				if s.end == 0 {
					return 0
				}
				last = max(last, s.end)
			}
		}
		return last
	}

	f.resetSpans(t)
	start := time.Now()
	out, errOut, code := mcorun(t, "puppet", "runall", "2", "--config", cfg)
	mcorunWall := time.Since(start)
	if code != exitOK {
		t.Fatalf("mcorun puppet runall 2: exit %d\n%s\n%s", code, out, errOut)
	}
	mcorunOverlap := maxOverlap(f.spans(t))

	f.resetSpans(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, mco, "puppet", "runall", "2", "--config", mcoCfg)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	start = time.Now()
	mcoOut, err := cmd.CombinedOutput()
	mcoWall := time.Since(start)
	if err != nil {
		t.Fatalf("mco puppet runall 2: %v\n%s", err, mcoOut)
	}
	var mcoDone time.Duration
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if last := lastEnd(); last > 0 && len(f.spans(t)) == len(f.nodes) {
			mcoDone = time.Unix(0, int64(last*1e9)).Sub(start)
			break
		}
	}
	t.Logf("mcorun puppet runall 2: %s, returned after every run finished (max %d at once)", mcorunWall.Round(10*time.Millisecond), mcorunOverlap)
	t.Logf("mco puppet runall 2: %s to return once the last run was started; the last run finished %s after the start (max %d at once)",
		mcoWall.Round(10*time.Millisecond), mcoDone.Round(10*time.Millisecond), maxOverlap(f.spans(t)))
	t.Logf("mco output:\n%s", mcoOut)
	b.ReportMetric(mcorunWall.Seconds(), "mcorun-s")
	b.ReportMetric(mcoWall.Seconds(), "mco-s")
}
