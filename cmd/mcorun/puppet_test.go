package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

// simPuppet is a fake fleet of puppet agents on a logical clock: every call is one tick, and
// a run started by runonce applies for its node's duration in ticks.
type simPuppet struct {
	mu      sync.Mutex
	tick    int64
	nodes   map[string]*simNode
	filters []message.Filter // the discovery filters asked for
	actions []string         // "action node" for every node a call reached
	maxRun  int              // the most runs ever applying at once
}

// simNode is one simulated node.
type simNode struct {
	disabled bool
	dur      int64 // ticks a run takes
	fail     bool  // runs end with a failed resource
	silent   bool  // never replies
	running  bool
	end      int64
	lastrun  int64
	runs     int
	message  string
}

func newSim(nodes map[string]*simNode) *simPuppet {
	for _, n := range nodes {
		if n.dur == 0 {
			n.dur = 3
		}
		n.lastrun = 1
	}
	return &simPuppet{nodes: nodes, tick: 10}
}

func (f *simPuppet) Ping(context.Context, client.DiscoverOptions) ([]pingReply, error) {
	return nil, nil
}

func (f *simPuppet) Discover(_ context.Context, o client.DiscoverOptions) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, o.Filter)
	var out []string
	for name, n := range f.nodes {
		if !n.silent && (!n.disabled || len(o.Filter.Compound) == 0) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (f *simPuppet) DDL(agent string) (*ddl.Agent, error) { return ddl.Builtin(agent) }

func (f *simPuppet) Plan(agent, action string, args map[string]any, opts client.CallOptions) (*client.Plan, error) {
	return builtinPlan(agent, action, args, opts)
}

func (f *simPuppet) Call(_ context.Context, agent, action string, args map[string]any, o client.CallOptions) (*client.Results, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tick++
	f.advance()
	targets := o.Nodes
	if len(targets) == 0 {
		targets = o.Discovered
	}
	res := &client.Results{Agent: agent, Action: action, Targets: targets}
	for _, name := range targets {
		n := f.nodes[name]
		if n == nil || n.silent {
			res.Missing = append(res.Missing, name)
			continue
		}
		f.actions = append(f.actions, action+" "+name)
		r := f.reply(name, n, action, args)
		if r.Code == message.OK {
			res.OK = append(res.OK, r)
		} else {
			res.Failed = append(res.Failed, r)
		}
	}
	return res, nil
}

// advance ends the runs whose time is up and records the concurrency.
func (f *simPuppet) advance() {
	running := 0
	for _, n := range f.nodes {
		if n.running && f.tick >= n.end {
			n.running, n.lastrun = false, n.end
		}
		if n.running {
			running++
		}
	}
	f.maxRun = max(f.maxRun, running)
}

func (f *simPuppet) reply(name string, n *simNode, action string, args map[string]any) client.Result {
	r := client.Result{Sender: name, Code: message.OK, Message: "OK", Data: map[string]any{}}
	switch action {
	case "status":
		st := "stopped"
		if n.disabled {
			st = "disabled"
		} else if n.running {
			st = "applying a catalog"
		}
		r.Data = map[string]any{"applying": n.running, "enabled": !n.disabled, "daemon_present": false, "idling": false,
			"lastrun": n.lastrun, "since_lastrun": int64(60), "status": st, "disable_message": n.message,
			"message": fmt.Sprintf("Currently %s; last completed run 1 minutes 00 seconds ago", st)}
	case "runonce":
		switch {
		case n.disabled:
			return client.Result{Sender: name, Code: message.Aborted, Message: fmt.Sprintf("Puppet is disabled: '%s'", n.message), Data: map[string]any{}}
		case n.running:
			return client.Result{Sender: name, Code: message.Aborted, Message: "Puppet is currently applying a catalog, cannot run now", Data: map[string]any{}}
		}
		n.running, n.end = true, f.tick+n.dur
		n.runs++
		r.Data = map[string]any{"summary": "Started a Puppet run using the 'puppet agent --onetime' command", "initiated_at": f.tick}
		f.advance()
	case "last_run_summary":
		failed := int64(0)
		if n.fail {
			failed = 1
		}
		r.Data = map[string]any{"failed_resources": failed, "changed_resources": int64(2), "total_resources": int64(10),
			"out_of_sync_resources": failed + 2, "corrected_resources": int64(0), "config_retrieval_time": 0.5,
			"total_time": 1.25, "lastrun": n.lastrun, "since_lastrun": int64(30),
			"summary": map[string]any{"events": map[string]any{"failure": failed}}}
	case "disable":
		n.disabled = true
		n.message, _ = args["message"].(string)
		r.Data = map[string]any{"status": "Succesfully locked the Puppet agent: " + n.message, "enabled": false}
	case "enable":
		n.disabled, n.message = false, ""
		r.Data = map[string]any{"status": "Succesfully enabled the Puppet agent", "enabled": true}
	}
	return r
}

// runPuppetCmd runs mcorun puppet with args against the fleet and returns the exit code,
// stdout and stderr.
func runPuppetCmd(t *testing.T, f fleet, args ...string) (int, string, string) {
	t.Helper()
	e, out, errOut, cfg := testEnv(t, f, nil)
	code := run(context.Background(), e, append([]string{"puppet", "--config", cfg}, args...))
	return code, out.String(), errOut.String()
}

// fiveNodes is a fleet of five nodes; fail names the ones whose runs fail.
func fiveNodes(fail ...string) map[string]*simNode {
	nodes := map[string]*simNode{}
	for i, name := range []string{"n1", "n2", "n3", "n4", "n5"} {
		nodes[name] = &simNode{dur: int64(2 + i%3), fail: slices.Contains(fail, name)}
	}
	return nodes
}

func TestPuppetStatusLayout(t *testing.T) {
	sim := newSim(map[string]*simNode{"web1.example.com": {}, "db1": {disabled: true, message: "maintenance"}})
	code, out, _ := runPuppetCmd(t, sim, "status")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	want := `                db1: Currently disabled; last completed run 1 minutes 00 seconds ago
   web1.example.com: Currently stopped; last completed run 1 minutes 00 seconds ago

Summary of Applying:

   false = 2

Summary of Daemon Running:

   stopped = 2

Summary of Enabled:

   disabled = 1
    enabled = 1

Summary of Idling:

   false = 2

Summary of Status:

   disabled = 1
    stopped = 1


Finished processing 2 / 2 hosts in `
	if !strings.HasPrefix(out, want) {
		t.Errorf("status output:\n%s\nwant prefix:\n%s", out, want)
	}
}

func TestPuppetCount(t *testing.T) {
	nodes := fiveNodes()
	nodes["n2"].disabled = true
	nodes["n3"].running = true
	nodes["n3"].end = 1000
	code, out, _ := runPuppetCmd(t, newSim(nodes), "count")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	want := `Total Puppet nodes: 5

          Nodes currently enabled: 4
         Nodes currently disabled: 1

Nodes currently doing puppet runs: 1
          Nodes currently stopped: 4

       Nodes with daemons started: 0
    Nodes without daemons started: 5
       Daemons started but idling: 0

`
	if out != want {
		t.Errorf("count output:\n%s\nwant:\n%s", out, want)
	}
	_, out, _ = runPuppetCmd(t, newSim(nodes), "count", "--json")
	var n puppetCounts
	if err := json.Unmarshal([]byte(out), &n); err != nil || n.Total != 5 || n.Disabled != 1 || n.Applying != 1 {
		t.Errorf("count --json: %v %+v", err, n)
	}
}

func TestPuppetSummary(t *testing.T) {
	nodes := fiveNodes("n4")
	code, out, _ := runPuppetCmd(t, newSim(nodes), "summary")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, line := range []string{
		"Summary statistics for 5 nodes:\n\n",
		"                  Total resources: ▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁  min: 10.0   avg: 10.0   max: 10.0  \n",
		"                 Failed resources: ▇▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁  min: 0.0    avg: 0.2    max: 1.0   \n",
		"         Total run-time (seconds): ▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁  min: 1.2    avg: 1.2    max: 1.2   \n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("summary output lacks %q:\n%s", line, out)
		}
	}
	_, out, _ = runPuppetCmd(t, newSim(fiveNodes()), "summary", "--json")
	var doc struct {
		Nodes      int
		Statistics map[string]fieldStats
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Nodes != 5 || doc.Statistics["total_resources"].Avg != 10 {
		t.Errorf("summary --json: %v %+v", err, doc)
	}
}

func TestShortenAndSpark(t *testing.T) {
	for in, want := range map[float64]string{1.25: "1.2", 999: "999.0", 1500: "1.5k", 2500000: "2.5m"} {
		if got := shortenNumber(in); got != want {
			t.Errorf("shortenNumber(%v) = %q, want %q", in, got, want)
		}
	}
	if got := spark([]int{0, 1, 6, 3}); got != "▁▂▇▄" {
		t.Errorf("spark = %q", got)
	}
}

func TestPuppetRunonceDisableEnable(t *testing.T) {
	nodes := fiveNodes()
	nodes["n5"].disabled = true
	nodes["n5"].message = "frozen"
	sim := newSim(nodes)
	code, out, _ := runPuppetCmd(t, sim, "runonce", "--noop", "--tags", "a,b", "--tag", "c")
	if code != exitFailed {
		t.Errorf("runonce exit %d, want %d", code, exitFailed)
	}
	if !strings.Contains(out, "n5                                       Request Aborted\n   Puppet is disabled: 'frozen'\n") ||
		strings.Contains(out, "n1 ") || !strings.Contains(out, "Finished processing 5 / 5 hosts in ") {
		t.Errorf("runonce output:\n%s", out)
	}
	code, out, _ = runPuppetCmd(t, sim, "disable", "-I", "n1", "going", "down")
	if code != exitOK || !nodes["n1"].disabled || nodes["n1"].message != "going down" {
		t.Errorf("disable: exit %d, node %+v\n%s", code, nodes["n1"], out)
	}
	if !strings.Contains(out, "Summary of Enabled:\n\n   disabled = ") {
		t.Errorf("disable output:\n%s", out)
	}
	if code, _, _ = runPuppetCmd(t, sim, "enable"); code != exitOK || nodes["n1"].disabled || nodes["n5"].disabled {
		t.Errorf("enable: exit %d", code)
	}
}

func TestPuppetUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{}, {"frobnicate"}, {"runall"}, {"runall", "0"}, {"runall", "x"},
		{"runonce", "--force", "--splay"}, {"runonce", "--force", "--splaylimit", "5"},
		{"runonce", "--tags", "bad tag!"}, {"status", "extra"},
	} {
		code, _, stderr := runPuppetCmd(t, newSim(fiveNodes()), args...)
		if code != exitUsage {
			t.Errorf("mcorun puppet %q: exit %d, want %d (%s)", args, code, exitUsage, stderr)
		}
	}
}

// testRunner returns a runner over sim with a fast poll and its log.
func testRunner(sim *simPuppet, n, maxFailures int) (*puppetRunner, *strings.Builder) {
	var log strings.Builder
	return &puppetRunner{fl: sim, cfg: runallConfig{
		concurrency: n, maxFailures: maxFailures, runArgs: map[string]any{},
		poll: time.Millisecond, runTimeout: time.Minute, startTimeout: time.Minute, maxMissed: 5,
		log: func(format string, args ...any) { fmt.Fprintf(&log, format+"\n", args...) },
	}}, &log
}

func TestRunallWindow(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7} {
		nodes := map[string]*simNode{}
		for i := range 7 {
			nodes[fmt.Sprintf("node%d", i)] = &simNode{dur: int64(1 + i%4)}
		}
		sim := newSim(nodes)
		rn, log := testRunner(sim, n, -1)
		ro := rn.rollout(context.Background(), []string{"node0", "node1", "node2", "node3", "node4", "node5", "node6"})
		if sim.maxRun > n || ro.MaxConcurrent > n {
			t.Errorf("N=%d: %d runs at once (runner saw %d)", n, sim.maxRun, ro.MaxConcurrent)
		}
		if n > 1 && sim.maxRun < 2 {
			t.Errorf("N=%d: runs never overlapped", n)
		}
		for name, node := range nodes {
			if node.runs != 1 || node.running {
				t.Errorf("N=%d: %s ran %d times, running=%v", n, name, node.runs, node.running)
			}
		}
		for _, r := range ro.Nodes {
			if r.Outcome != outcomeOK || r.Changed != 2 || r.Total != 10 || r.RunTime != 1.25 {
				t.Errorf("N=%d: %+v\n%s", n, r, log)
			}
		}
		if ro.exitCode() != exitOK {
			t.Errorf("N=%d: exit %d", n, ro.exitCode())
		}
	}
}

func TestRunallMaxFailures(t *testing.T) {
	nodes := fiveNodes("n1")
	nodes["n1"].dur = 1
	nodes["n2"].dur = 6
	sim := newSim(nodes)
	rn, log := testRunner(sim, 2, 0)
	ro := rn.rollout(context.Background(), []string{"n1", "n2", "n3", "n4", "n5"})
	got := map[string]string{}
	for _, r := range ro.Nodes {
		got[r.Node] = r.Outcome
	}
	want := map[string]string{"n1": outcomeFailed, "n2": outcomeOK, "n3": outcomeSkipped, "n4": outcomeSkipped, "n5": outcomeSkipped}
	if fmt.Sprint(got) != fmt.Sprint(want) || !ro.Stopped {
		t.Errorf("outcomes %v, want %v (stopped %v)\n%s", got, want, ro.Stopped, log)
	}
	if nodes["n2"].running || nodes["n3"].runs != 0 {
		t.Errorf("the started run was not waited for, or a new one started: %+v %+v", nodes["n2"], nodes["n3"])
	}
	if !strings.Contains(log.String(), "1 failed run, more than --max-failures 0: starting no new runs") {
		t.Errorf("log:\n%s", log)
	}
	if ro.exitCode() != exitFailed {
		t.Errorf("exit %d", ro.exitCode())
	}

	// Without a threshold every node runs and the failure is reported.
	nodes = fiveNodes("n1", "n4")
	sim = newSim(nodes)
	rn, _ = testRunner(sim, 2, 1)
	ro = rn.rollout(context.Background(), []string{"n1", "n2", "n3", "n4", "n5"})
	failed := 0
	for _, r := range ro.Nodes {
		if r.Outcome == outcomeFailed {
			failed++
		} else if r.Outcome == outcomeSkipped {
			t.Errorf("%s skipped", r.Node)
		}
	}
	if failed != 2 || sim.maxRun > 2 {
		t.Errorf("failed %d, max %d", failed, sim.maxRun)
	}
}

func TestRunallUnansweredAndBusy(t *testing.T) {
	nodes := fiveNodes()
	nodes["n3"].running, nodes["n3"].end = true, 14 // applying before the rollout
	sim := newSim(nodes)
	rn, log := testRunner(sim, 2, -1)
	// n9 is discovered but never answers.
	ro := rn.rollout(context.Background(), []string{"n1", "n2", "n3", "n4", "n5", "n9"})
	if sim.maxRun > 2 {
		t.Errorf("%d runs at once", sim.maxRun)
	}
	for _, r := range ro.Nodes {
		want := outcomeOK
		if r.Node == "n9" {
			want = outcomeRefused
		}
		if r.Outcome != want {
			t.Errorf("%s: %s, want %s\n%s", r.Node, r.Outcome, want, log)
		}
	}
	if nodes["n3"].runs != 1 || !strings.Contains(log.String(), "n3 is already applying") {
		t.Errorf("n3 runs %d\n%s", nodes["n3"].runs, log)
	}
	if ro.exitCode() != exitMissing {
		t.Errorf("exit %d", ro.exitCode())
	}
}

func TestRunallCommand(t *testing.T) {
	nodes := fiveNodes("n2")
	nodes["n5"].disabled = true
	sim := newSim(nodes)
	e, stdout, _, cfg := testEnv(t, sim, nil)
	e.runallPoll = time.Millisecond
	code := run(context.Background(), e, []string{"puppet", "--config", cfg, "runall", "2", "-S", "role=web"})
	out := stdout.String()
	if code != exitFailed {
		t.Errorf("exit %d, want %d", code, exitFailed)
	}
	if len(sim.filters) != 1 || len(sim.filters[0].Compound) != 1 {
		t.Fatalf("discovery filters %+v", sim.filters)
	}
	first := sim.filters[0].Compound[0][0]
	if first.Func == nil || first.Func.Name != "puppet" || first.Func.Value != "enabled" || fmt.Sprint(first.Func.RCompare) != "true" {
		t.Errorf("compound filter does not start with puppet().enabled=true: %+v", sim.filters[0].Compound)
	}
	for _, s := range []string{
		": Running all nodes with a concurrency of 2\n",
		": Modifying user-specified filter: and'ing with 'puppet().enabled=true'\n",
		": Found 4 enabled nodes\n",
		": n1 schedule status: Started a Puppet run using the 'puppet agent --onetime' command\n",
		": n2 finished: failed, 1 failed and 2 changed of 10 resources in 1.25 s\n",
		"| NODE | OUTCOME | FAILED | CHANGED | SECONDS |",
		"| n2   | failed  | 1      | 2       | 1.25    | 1 failed resource, 1 failed event |",
		"4 nodes: 3 ok, 1 failed; at most 2 at once;",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("runall output lacks %q:\n%s", s, out)
		}
	}
	if slices.Contains(sim.actions, "runonce n5") {
		t.Error("runall ran a disabled node")
	}

	_, out, _ = runPuppetCmd(t, newSim(fiveNodes("n1")), "runall", "2", "--max-failures", "0", "--json")
	var ro rollout
	if err := json.Unmarshal([]byte(out), &ro); err != nil || !ro.Stopped || len(ro.Nodes) != 5 || ro.Nodes[4].Outcome != outcomeSkipped {
		t.Errorf("runall --json: %v\n%s", err, out)
	}
}
