package playbook

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// pollingPlaybook waits for its 30th poll, each poll a puppet.status call to two nodes, then
// logs and prints.
const pollingPlaybook = `state = {"polls": 0}
def settled():
    rpc("puppet", "status", nodes = ["web1", "web2"])
    state["polls"] += 1
    return state["polls"] == 30
wait_until(settled, timeout = "10m", every = "5s")
log("settled")
print("done")
`

// TestWaitUntilIsOneLine: the calls of a wait_until's polls print nothing on their own; the
// wait prints one line with its polls, time and outcome. The report keeps every call.
func TestWaitUntilIsOneLine(t *testing.T) {
	report := filepath.Join(t.TempDir(), "report.json")
	r := runSource(t, context.Background(), pollingPlaybook, Options{ReportFile: report})
	if r.ExitCode != ExitOK {
		t.Fatalf("exit %d: %s", r.ExitCode, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 2 || lines[0] != "wait_until  polls=30  145.00s  done" || lines[1] != "settled" {
		t.Errorf("stderr has %d lines, want the wait's line and the log line:\n%s", len(lines), r.stderr)
	}
	rep := readReport(t, report)
	if len(rep.Steps) != 31 {
		t.Fatalf("report has %d steps, want 30 calls and the wait", len(rep.Steps))
	}
	for _, s := range rep.Steps[:30] {
		if s.Kind != "rpc" || !s.Polled || len(s.OK) != 2 {
			t.Fatalf("polled step %+v, want an rpc marked polled", s)
		}
	}
	if w := rep.Steps[30]; w.Kind != "wait" || w.Polls != 30 || w.Duration != 145 || w.Error != "" {
		t.Errorf("wait step %+v, want 30 polls in 145s", w)
	}
}

// TestWaitUntilTimeoutLine: a wait that times out says so on its line.
func TestWaitUntilTimeoutLine(t *testing.T) {
	r := runSource(t, context.Background(), "wait_until(lambda: rpc('rpcutil', 'ping', nodes = ['web1']).all_ok and False, timeout = '1m', every = '10s')\n", Options{})
	if r.ExitCode != ExitFailed || !strings.HasPrefix(r.stderr, "wait_until  polls=7  60.00s  error: wait_until: timed out after 1m0s\n") {
		t.Errorf("exit %d, stderr:\n%s", r.ExitCode, r.stderr)
	}
}

// TestQuiet: --quiet prints no step line, but log(), print() and errors still show.
func TestQuiet(t *testing.T) {
	r := runSource(t, context.Background(), "discover()\n"+pollingPlaybook, Options{Quiet: true})
	if r.ExitCode != ExitOK || r.stderr != "settled\n" || r.stdout != "done\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want only the log and print lines", r.ExitCode, r.stdout, r.stderr)
	}
	r = runSource(t, context.Background(), "rpc('rpcutil', 'ping', filter = 'role=nosuch')\n", Options{Quiet: true})
	if r.ExitCode != ExitFailed || !strings.HasPrefix(r.stderr, "rpc rpcutil.ping [fact role=nosuch]") ||
		!strings.Contains(r.stderr, "Traceback") {
		t.Errorf("exit %d, stderr:\n%s\nwant the failed call's line and the error", r.ExitCode, r.stderr)
	}
}
