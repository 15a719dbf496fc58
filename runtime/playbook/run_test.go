package playbook

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/mcorun/mcorun/runtime/clock"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/mcorun/mcorun/runtime/playbook/fleettest"
)

// newTestFleet is the default test fleet, closed when the test ends.
func newTestFleet(t *testing.T) *fleettest.Fleet {
	t.Helper()
	return closing(t, fleettest.New())
}

// closing closes f when the test ends.
func closing(t *testing.T, f *fleettest.Fleet) *fleettest.Fleet {
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

func newFakeClock() *clock.Fake {
	return clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
}

// run is the result of one test run.
type run struct {
	Outcome
	stdout, stderr string
	fleet          *fleettest.Fleet
	dir            string
	report         string
}

// runSource writes src as pb.star in a fresh directory and runs it with a fake clock, a
// lock in that directory and a fleettest fleet, unless o sets them.
func runSource(t *testing.T, ctx context.Context, src string, o Options) run {
	t.Helper()
	dir := t.TempDir()
	if o.File == "" {
		o.File = filepath.Join(dir, "pb.star")
		if err := os.WriteFile(o.File, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fleet, _ := o.Fleet.(*fleettest.Fleet)
	if o.Fleet == nil {
		fleet = newTestFleet(t)
		o.Fleet = fleet
	}
	if o.Clock == nil {
		if fleet != nil {
			o.Clock = fleet.Time() // the playbook and the fleet share one clock
		} else {
			o.Clock = newFakeClock()
		}
	}
	if o.LockPath == "" {
		o.LockPath = filepath.Join(dir, "pb.lock")
	}
	var stdout, stderr bytes.Buffer
	o.Stdout, o.Stderr = &stdout, &stderr
	out := Run(ctx, o)
	return run{Outcome: out, stdout: stdout.String(), stderr: stderr.String(), fleet: fleet, dir: dir, report: o.ReportFile}
}

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		args   map[string]string
		code   int
		status string
		want   []string // substrings of stderr
		calls  int      // fleet calls expected, -1 for any
	}{
		{name: "success", src: "print(len(discover()))\n", code: ExitOK, status: StatusOK, calls: 1},
		{name: "fail", src: "n = discover()\n\nfail('too few nodes:', len(n))\n", code: ExitFailed, status: StatusFailed,
			want: []string{"fail: too few nodes: 8", "pb.star:3:5: in <toplevel>"}, calls: 1},
		{name: "starlark error", src: "def f(x):\n    return x + 'a'\n\nf(1)\n", code: ExitFailed, status: StatusFailed,
			want: []string{"pb.star:4:2: in <toplevel>", "pb.star:2:14: in f", "unknown binary op: int + string"}, calls: 0},
		{name: "syntax error", src: "x = (\n", code: ExitFailed, status: StatusFailed,
			want: []string{"pb.star:2:1: got end of file"}, calls: 0},
		{name: "undefined name", src: "discover()\nrpc2('x')\n", code: ExitFailed, status: StatusFailed,
			want: []string{"pb.star:2:1: undefined: rpc2"}, calls: 0},
		{name: "bad arg value", src: "p = params(window = 5)\ndiscover()\n", args: map[string]string{"window": "lots"},
			code: ExitUsage, status: StatusFailed, want: []string{`pb.star:1:5: params: arg "window": want int, got "lots"`}, calls: 0},
		{name: "unknown arg", src: "p = params(window = 5)\ndiscover()\n", args: map[string]string{"windw": "3"},
			code: ExitUsage, status: StatusFailed, want: []string{`params: unknown arg "windw" (declared: window)`}, calls: 0},
		{name: "bad arg, non-literal params", src: "w = 5\np = params(window = w)\ndiscover()\n",
			args: map[string]string{"window": "x"}, code: ExitUsage, status: StatusFailed,
			want: []string{`params: arg "window": want int, got "x"`}, calls: 0},
		{name: "arg without params", src: "print('hi')\n", args: map[string]string{"window": "3"},
			code: ExitUsage, status: StatusFailed, want: []string{`params: unknown arg "window": the playbook declares no params()`}, calls: 0},
		{name: "duration without a unit", src: "p = params(timeout = param.duration(\"10m\"))\nrpc('rpcutil', 'ping')\n",
			args: map[string]string{"timeout": "10"}, code: ExitUsage, status: StatusFailed,
			want: []string{`pb.star:1:5: params: arg "timeout": want a duration with a unit, such as 30s, 5m or 1h30m, got "10"`}, calls: 0},
		{name: "bad size", src: "p = params(batch = param.size(None))\nrpc('rpcutil', 'ping')\n",
			args: map[string]string{"batch": "120%"}, code: ExitUsage, status: StatusFailed,
			want: []string{`params: arg "batch": size "120%": a percentage is at most 100%`}, calls: 0},
		{name: "bad choice", src: "p = params(mode = param.choice(\"restart\", \"reload\"))\nrpc('rpcutil', 'ping')\n",
			args: map[string]string{"mode": "stop"}, code: ExitUsage, status: StatusFailed,
			want: []string{`params: arg "mode": want one of restart, reload, got "stop"`}, calls: 0},
		{name: "bad bool", src: "p = params(noop = param.bool(False))\nrpc('rpcutil', 'ping')\n",
			args: map[string]string{"noop": "on"}, code: ExitUsage, status: StatusFailed,
			want: []string{`params: arg "noop": want a boolean (yes/no, true/false, 1/0 or y/n), got "on"`}, calls: 0},
		{name: "typed args", src: "p = params(timeout = param.duration(\"10m\"), batch = param.size(\"10%\"), mode = param.choice(\"restart\", \"reload\"))\nprint(p.timeout, p.batch, p.mode)\n",
			args: map[string]string{"timeout": "90s", "batch": "3", "mode": "reload"}, code: ExitOK, status: StatusOK, calls: 0},
		{name: "good arg", src: "p = params(window = 5)\nprint(p.window * 2)\n", args: map[string]string{"window": "3"},
			code: ExitOK, status: StatusOK, calls: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runSource(t, context.Background(), tt.src, Options{Args: tt.args})
			if r.ExitCode != tt.code {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", r.ExitCode, tt.code, r.stderr)
			}
			if r.Report.Outcome.Status != tt.status || r.Report.Outcome.ExitCode != tt.code {
				t.Errorf("report outcome %+v, want status %s", r.Report.Outcome, tt.status)
			}
			if (r.Err == nil) != (tt.code == ExitOK) {
				t.Errorf("err %v with exit code %d", r.Err, r.ExitCode)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if got := len(r.fleet.Calls()); tt.calls >= 0 && got != tt.calls {
				t.Errorf("%d fleet calls, want %d", got, tt.calls)
			}
		})
	}
}

// TestRunErrorPrintedOnce: the error of a failed run is printed once, followed by the
// call stack; Starlark's own backtrace would repeat it as "Error in fail: fail: ...".
func TestRunErrorPrintedOnce(t *testing.T) {
	for _, src := range []string{
		"fail('too few nodes:', 3)\n",
		"def f():\n    fail('too few nodes:', 3)\n\nf()\n",
	} {
		r := runSource(t, context.Background(), src, Options{})
		if n := strings.Count(r.stderr, "too few nodes: 3"); n != 1 {
			t.Errorf("%q: the message is printed %d times, want once:\n%s", src, n, r.stderr)
		}
		if strings.Contains(r.stderr, "Error in") || !strings.Contains(r.stderr, "Traceback (most recent call last):\n  ") {
			t.Errorf("%q: want the message, then the call stack alone:\n%s", src, r.stderr)
		}
		if strings.Contains(r.Report.Outcome.Backtrace, "too few nodes") || !strings.Contains(r.Report.Outcome.Backtrace, "in <toplevel>") {
			t.Errorf("%q: report backtrace %q, want the call stack without the message", src, r.Report.Outcome.Backtrace)
		}
	}
}

func TestRunOutput(t *testing.T) {
	src := `nodes = discover("role=web")
rs = rpc("rpcutil", "ping", nodes = nodes)
log("pinged", ok = len(rs.ok))
print("done", len(rs))
`
	r := runSource(t, context.Background(), src, Options{})
	if r.ExitCode != ExitOK {
		t.Fatalf("exit %d: %v", r.ExitCode, r.Err)
	}
	if r.stdout != "done 4\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	for _, w := range []string{"discover [fact role=web]  found=4  0.30s\n",
		"rpc rpcutil.ping  targets=4 ok=4 failed=0 missing=0  0.00s\n", "pinged ok=4\n"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
}

func TestRunJSON(t *testing.T) {
	r := runSource(t, context.Background(), "print('hello')\nfail('no')\n", Options{JSON: true})
	if r.ExitCode != ExitFailed {
		t.Fatalf("exit %d", r.ExitCode)
	}
	var rep Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, r.stdout)
	}
	if rep.Outcome.Status != StatusFailed || rep.Outcome.Error != "fail: no" || !strings.Contains(rep.Outcome.Backtrace, "pb.star:2:5") {
		t.Errorf("outcome %+v", rep.Outcome)
	}
	if !strings.Contains(r.stderr, "hello\n") {
		t.Errorf("print() should go to stderr with JSON: %q", r.stderr)
	}
}

func TestRunLock(t *testing.T) {
	dir := t.TempDir()
	lockPath := filepath.Join(dir, "held.lock")
	held := flock.New(lockPath)
	ok, err := held.TryLock()
	if err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	defer func() { _ = held.Unlock() }()
	report := filepath.Join(dir, "report.json")

	r := runSource(t, context.Background(), "discover()\n", Options{LockPath: lockPath, ReportFile: report})
	if r.ExitCode != ExitLocked {
		t.Fatalf("exit %d, want %d: %s", r.ExitCode, ExitLocked, r.stderr)
	}
	for _, w := range []string{lockPath, "--no-lock"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q: %s", w, r.stderr)
		}
	}
	if n := len(r.fleet.Calls()); n != 0 {
		t.Errorf("%d fleet calls while locked", n)
	}
	rep := readReport(t, report)
	if rep.Outcome.Status != StatusSkipped || rep.Outcome.ExitCode != ExitLocked {
		t.Errorf("report outcome %+v", rep.Outcome)
	}

	r = runSource(t, context.Background(), "discover()\n", Options{LockPath: lockPath, NoLock: true})
	if r.ExitCode != ExitOK {
		t.Errorf("--no-lock: exit %d: %s", r.ExitCode, r.stderr)
	}
	// the lock is released after a run: a second run takes it again
	free := filepath.Join(dir, "free.lock")
	for i := range 2 {
		if r := runSource(t, context.Background(), "discover()\n", Options{LockPath: free}); r.ExitCode != ExitOK {
			t.Errorf("run %d: exit %d: %s", i, r.ExitCode, r.stderr)
		}
	}
}

func TestDefaultLockPath(t *testing.T) {
	a, err := DefaultLockPath("x/../pb.star")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := DefaultLockPath("pb.star")
	c, _ := DefaultLockPath("other.star")
	if a != b || a == c {
		t.Errorf("lock paths %s %s %s", a, b, c)
	}
	if filepath.Dir(a) != filepath.Clean(os.TempDir()) || !strings.HasPrefix(filepath.Base(a), "mcorun-") || !strings.HasSuffix(a, ".lock") {
		t.Errorf("lock path %s", a)
	}
}

func TestRunTimeout(t *testing.T) {
	fleet := newTestFleet(t)
	fleet.Block()
	report := filepath.Join(t.TempDir(), "r.json")
	r := runSource(t, context.Background(), "log('start')\ndiscover()\n", Options{Fleet: fleet,
		Timeout: 100 * time.Millisecond, ReportFile: report})
	if r.ExitCode != ExitFailed {
		t.Fatalf("exit %d: %s", r.ExitCode, r.stderr)
	}
	if !strings.Contains(r.stderr, "timeout: the playbook ran longer than 100ms (--timeout)") {
		t.Errorf("stderr: %s", r.stderr)
	}
	if rep := readReport(t, report); rep.Outcome.Status != StatusFailed || !strings.Contains(rep.Outcome.Error, "timeout") {
		t.Errorf("report outcome %+v", rep.Outcome)
	}
}

func TestRunInterrupt(t *testing.T) {
	fleet := newTestFleet(t)
	fleet.Block()
	report := filepath.Join(t.TempDir(), "r.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-fleet.Entered()
		cancel() // what SIGINT does in the command line
	}()
	src := "nodes = discover(nodes = ['web1'])\nrpc('rpcutil', 'ping', nodes = nodes)\nprint('not reached')\n"
	r := runSource(t, ctx, src, Options{Fleet: fleet, ReportFile: report})
	if r.ExitCode != ExitInterrupted {
		t.Fatalf("exit %d: %s", r.ExitCode, r.stderr)
	}
	if strings.Contains(r.stdout, "not reached") {
		t.Error("the playbook went on after the interrupt")
	}
	rep := readReport(t, report)
	if rep.Outcome.Status != StatusInterrupted || rep.Outcome.ExitCode != ExitInterrupted {
		t.Errorf("report outcome %+v", rep.Outcome)
	}
	if len(rep.Steps) != 1 || rep.Steps[0].Kind != "discover" || rep.Steps[0].Error == "" {
		t.Errorf("report steps %+v", rep.Steps)
	}
}

func TestRunInterruptSleep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := runSource(t, ctx, "sleep('1h')\n", Options{Clock: nil})
	if r.ExitCode != ExitInterrupted {
		t.Fatalf("exit %d: %s", r.ExitCode, r.stderr)
	}
}

func TestRunMaxSteps(t *testing.T) {
	r := runSource(t, context.Background(), "n = 0\nwhile True:\n    n += 1\n", Options{MaxSteps: 10000})
	if r.ExitCode != ExitFailed {
		t.Fatalf("exit %d: %s", r.ExitCode, r.stderr)
	}
	if !strings.Contains(r.stderr, "step budget exhausted: more than 10000 steps (--max-steps)") {
		t.Errorf("stderr: %s", r.stderr)
	}
	r = runSource(t, context.Background(), "n = 0\nfor i in range(100):\n    n += 1\n", Options{MaxSteps: 10000})
	if r.ExitCode != ExitOK {
		t.Errorf("a short loop within the budget: exit %d: %s", r.ExitCode, r.stderr)
	}
}

func TestRunDryRun(t *testing.T) {
	src := `nodes = discover("role=web")
rs = rpc("service", "restart", {"service": "nginx"}, nodes = nodes)
print(rs.all_ok, rs.get("web1").data["status"])
st = rpc("rpcutil", "ping", nodes = nodes)
print(len(st.ok))
`
	report := filepath.Join(t.TempDir(), "r.json")
	r := runSource(t, context.Background(), src, Options{DryRun: true, ReportFile: report})
	if r.ExitCode != ExitOK {
		t.Fatalf("exit %d: %s", r.ExitCode, r.stderr)
	}
	if r.stdout != DryRunBanner+"\nTrue unknown\n4\n" { // a dry run answers with the DDL defaults
		t.Errorf("stdout %q", r.stdout)
	}
	var sent []string
	for _, c := range r.fleet.Calls() {
		sent = append(sent, c.Kind+" "+c.Agent+"."+c.Action)
	}
	if strings.Join(sent, ",") != "discover .,rpc rpcutil.ping" {
		t.Errorf("calls sent: %v", sent)
	}
	if !strings.Contains(r.stderr, "dry run: would call service.restart on 4 nodes") ||
		!strings.Contains(r.stderr, "rpc service.restart  targets=4 would-run=4  dry-run") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	rep := readReport(t, report)
	if !rep.DryRun || len(rep.Steps) != 3 || !rep.Steps[1].DryRun || rep.Steps[2].DryRun {
		t.Errorf("report: %+v", rep)
	}
}

func TestReadOnlyPolicy(t *testing.T) {
	changes := changesState(DefaultReadOnly())
	for _, tt := range []struct {
		agent, action string
		want          bool
	}{
		{"rpcutil", "inventory", false}, {"discovery", "ping", false}, {"puppet", "status", false},
		{"puppet", "last_run_summary", false}, {"puppet", "runonce", true}, {"puppet", "disable", true},
		{"service", "status", false}, {"service", "restart", true}, {"package", "status", false}, {"package", "update", true},
		{"nettest", "connect", false}, {"shell", "run", true}, {"shell", "list", false}, {"shell", "kill", true}, {"nosuch", "status", true},
	} {
		if got := changes(tt.agent, tt.action); got != tt.want {
			t.Errorf("%s.%s changes state: %v, want %v", tt.agent, tt.action, got, tt.want)
		}
	}
}

func TestReportFile(t *testing.T) {
	src := `p = params(role = "web")
nodes = discover("role=" + p.role)
rs = rpc("rpcutil", "get_fact", {"fact": "os"}, nodes = nodes | ["ghost"])
log("facts", n = len(rs))
print("printed")
`
	fleet := newTestFleet(t)
	fleet.Fail("web2")
	report := filepath.Join(t.TempDir(), "r.json")
	r := runSource(t, context.Background(), src, Options{Fleet: fleet, ReportFile: report, Args: map[string]string{"role": "web"}})
	if r.ExitCode != ExitOK {
		t.Fatalf("exit %d: %s", r.ExitCode, r.stderr)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"playbook", "args", "started", "finished", "duration", "dry_run", "steps", "log", "outcome"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	step := raw["steps"].([]any)[1].(map[string]any)
	for _, k := range []string{"kind", "agent", "action", "filter", "args", "targets", "ok", "failed", "missing", "duration", "dry_run"} {
		if _, ok := step[k]; !ok {
			t.Errorf("rpc step lacks %q: %v", k, step)
		}
	}
	rep := readReport(t, report)
	s := rep.Steps[1]
	if s.Kind != "rpc" || s.Agent != "rpcutil" || s.Action != "get_fact" || s.Args["fact"] != "os" ||
		strings.Join(s.Targets, ",") != "ghost,web1,web2,web3,web4" || strings.Join(s.OK, ",") != "web1,web3,web4" ||
		strings.Join(s.Failed, ",") != "web2" || strings.Join(s.Missing, ",") != "ghost" {
		t.Errorf("rpc step %+v", s)
	}
	if rep.Steps[0].Kind != "discover" || rep.Steps[0].Filter != "fact role=web" || len(rep.Steps[0].Targets) != 4 {
		t.Errorf("discover step %+v", rep.Steps[0])
	}
	if rep.Args["role"] != "web" || rep.Outcome.Status != StatusOK || rep.Outcome.ExitCode != 0 {
		t.Errorf("report %+v", rep)
	}
	if len(rep.Log) != 2 || rep.Log[0].Msg != "facts" || rep.Log[0].Fields["n"] != float64(4) || rep.Log[1].Kind != "print" {
		t.Errorf("report log %+v", rep.Log)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(report), ".*.tmp")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestReportDirUnwritable(t *testing.T) {
	r := runSource(t, context.Background(), "discover()\n", Options{ReportFile: "/nonexistent/dir/r.json"})
	if r.ExitCode != ExitUsage || len(r.fleet.Calls()) != 0 {
		t.Errorf("exit %d, %d calls: %s", r.ExitCode, len(r.fleet.Calls()), r.stderr)
	}
}

func readReport(t *testing.T, path string) *Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report: %v", err)
	}
	return &rep
}

// A recursive playbook's stack overflow prints a short traceback that says how many frames
// it left out, on stderr and in the report.
func TestRunRecursionTracebackIsShort(t *testing.T) {
	report := filepath.Join(t.TempDir(), "report.json")
	r := runSource(t, context.Background(), "def f(n):\n    return f(n + 1)\nf(0)\n", Options{ReportFile: report})
	if r.ExitCode != ExitFailed {
		t.Fatalf("exit %d: %v", r.ExitCode, r.Err)
	}
	if n := strings.Count(r.stderr, "\n"); n > 15 || !strings.Contains(r.stderr, "[Previous line repeated ") {
		t.Errorf("stderr has %d lines, want a short traceback with a repeat count:\n%.2000s", n, r.stderr)
	}
	if bt := readReport(t, report).Outcome.Backtrace; strings.Count(bt, "\n") > 10 || !strings.Contains(bt, "more times]") {
		t.Errorf("report backtrace:\n%.2000s", bt)
	}
}
