package playbook

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunExit: exit(code) ends the run with that code, and the report says so.
func TestRunExit(t *testing.T) {
	for _, tt := range []struct {
		src    string
		code   int
		status string
		err    string // the report's error, "" for none
	}{
		{"exit(0)\nfail('not reached')\n", ExitOK, StatusOK, ""},
		{"print(1)\nexit(1)\n", ExitFailed, StatusFailed, "pb.star:2:5: exit(1): the playbook failed"},
		{"rs = rpc('rpcutil', 'ping')\nexit(3)\n", ExitSomeFailed, StatusFailed, "pb.star:2:5: exit(3): some nodes failed"},
		{"def f():\n    exit(4)\n\nf()\n", ExitSomeMissing, StatusFailed, "pb.star:2:9: exit(4): some nodes did not reply"},
		{"exit(code = 5)\n", ExitFailedAndMissing, StatusFailed, "pb.star:1:5: exit(5): some nodes failed and some did not reply"},
		{"exit(2)\n", ExitFailed, StatusFailed, "exit: code 2 is not a playbook outcome"},
		{"exit(6)\n", ExitFailed, StatusFailed, "exit: code 6 is not a playbook outcome"},
	} {
		dir := t.TempDir()
		report := filepath.Join(dir, "report.json")
		r := runSource(t, context.Background(), tt.src, Options{ReportFile: report})
		if r.ExitCode != tt.code {
			t.Errorf("%q: exit code %d, want %d; stderr:\n%s", tt.src, r.ExitCode, tt.code, r.stderr)
			continue
		}
		o := readReport(t, report).Outcome
		if o.ExitCode != tt.code || o.Status != tt.status || !strings.Contains(o.Error, tt.err) || (tt.err == "") != (o.Error == "") {
			t.Errorf("%q: report outcome %+v, want exit_code %d, status %s, error with %q", tt.src, o, tt.code, tt.status, tt.err)
		}
		if tt.code == ExitOK && r.stderr != "" {
			t.Errorf("%q: stderr %q, want nothing", tt.src, r.stderr)
		}
		if tt.err != "" && strings.Count(r.stderr, tt.err) != 1 {
			t.Errorf("%q: stderr lacks %q once:\n%s", tt.src, tt.err, r.stderr)
		}
		if tt.code >= ExitSomeFailed && strings.Contains(r.stderr, "Traceback") {
			t.Errorf("%q: a chosen outcome has no traceback:\n%s", tt.src, r.stderr)
		}
	}
}

// TestRunExitsZeroWhateverTheReplies: without exit(), a run whose every rpc failed still
// exits 0; the playbook decides what its replies mean.
func TestRunExitsZeroWhateverTheReplies(t *testing.T) {
	f := newTestFleet(t)
	f.Fail("web1", "web2", "web3", "web4")
	r := runSource(t, context.Background(), "rs = rpc('rpcutil', 'ping', nodes = ['web1', 'web2', 'web3', 'web4'])\nprint(len(rs.failed))\n",
		Options{Fleet: f})
	if r.ExitCode != ExitOK || r.stdout != "4\n" {
		t.Errorf("exit code %d, stdout %q; want 0 and 4 failed replies", r.ExitCode, r.stdout)
	}
}

// TestRunExitZeroStillChecksArgs: exit(0) ends a run as its last line would, so an --arg
// that nothing declared is still a usage error.
func TestRunExitZeroStillChecksArgs(t *testing.T) {
	r := runSource(t, context.Background(), "exit(0)\n", Options{Args: map[string]string{"x": "1"}})
	if r.ExitCode != ExitUsage {
		t.Errorf("exit code %d, want %d; stderr:\n%s", r.ExitCode, ExitUsage, r.stderr)
	}
}
