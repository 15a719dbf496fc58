package playbook

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestDryRunIsMarked: a dry run cannot be mistaken for a real one, on stdout (the banner and
// the made-up ResultSet), in the progress lines (no ok count, no time) and in the report.
func TestDryRunIsMarked(t *testing.T) {
	src := `rs = rpc("rpcutil", "ping", nodes = ["web1", "web2"])
rr = rpc("service", "restart", {"service": "nginx"}, nodes = rs)
print(rr)
`
	report := filepath.Join(t.TempDir(), "report.json")
	r := runSource(t, context.Background(), src, Options{DryRun: true, ReportFile: report})
	if r.ExitCode != ExitOK {
		t.Fatalf("exit %d: %s", r.ExitCode, r.stderr)
	}
	want := DryRunBanner + "\nResultSet(service.restart: dry run, 2 would run)\n"
	if r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	wantLines(t, r.stderr,
		"rpc rpcutil.ping  targets=2 ok=2 failed=0 missing=0  0.00s", // read-only: sent for real
		"rpc service.restart  targets=2 would-run=2  dry-run")
	if strings.Contains(r.stderr, "service.restart  targets=2 ok=") {
		t.Errorf("the call not sent is shown as ok:\n%s", r.stderr)
	}
	rep := readReport(t, report)
	if !rep.DryRun || len(rep.Steps) != 2 || rep.Steps[0].DryRun || !rep.Steps[1].DryRun {
		t.Errorf("report dry_run %v, steps %+v; want the run and the restart marked, not the ping", rep.DryRun, rep.Steps)
	}

	real := runSource(t, context.Background(), src, Options{ReportFile: report})
	if strings.Contains(real.stdout, "DRY RUN") || strings.Contains(real.stdout, "would run") || readReport(t, report).DryRun {
		t.Errorf("a real run is marked as a dry run: stdout %q", real.stdout)
	}
}

// TestDryRunBannerWithJSON: with --json, stdout is only the report, so the banner goes with
// print() output to stderr.
func TestDryRunBannerWithJSON(t *testing.T) {
	r := runSource(t, context.Background(), "print('x')\n", Options{DryRun: true, JSON: true})
	if !strings.HasPrefix(r.stderr, DryRunBanner+"\n") || strings.Contains(r.stdout, "DRY RUN") {
		t.Errorf("stderr %q, stdout %q: want the banner first on stderr", r.stderr, r.stdout)
	}
	if !strings.Contains(r.stdout, `"dry_run": true`) {
		t.Errorf("the JSON report lacks dry_run true:\n%s", r.stdout)
	}
}
