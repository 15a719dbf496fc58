package playbook

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// A playbook attaches structured results to its report with report.set, even when it
// fails afterwards.
func TestReportData(t *testing.T) {
	src := `rs = rpc("rpcutil", "get_fact", {"fact": "role"}, filter = "role=web")
report.set("restarted", rs.ok.nodes)
report.set("counts", {"ok": len(rs.ok), "failed": len(rs.failed), "took": time.parse_duration("90s")})
report.set("counts", dict(report.get("counts"), note = "second set replaces"))
if report.get("nosuch", 7) != 7:
    fail("report.get default")
fail("after the data")
`
	fleet := newTestFleet(t)
	fleet.Fail("web2")
	path := filepath.Join(t.TempDir(), "r.json")
	r := runSource(t, context.Background(), src, Options{Fleet: fleet, ReportFile: path})
	if r.ExitCode != ExitFailed {
		t.Fatalf("exit %d, want %d: %s", r.ExitCode, ExitFailed, r.stderr)
	}
	rep := readReport(t, path)
	ok, _ := rep.Data["restarted"].([]any)
	if len(ok) != 3 || ok[0] != "web1" {
		t.Errorf("data.restarted = %v", rep.Data["restarted"])
	}
	counts, _ := rep.Data["counts"].(map[string]any)
	if counts["ok"] != float64(3) || counts["failed"] != float64(1) || counts["took"] != "1m30s" || counts["note"] != "second set replaces" {
		t.Errorf("data.counts = %v", rep.Data["counts"])
	}
}

func TestReportDataRefused(t *testing.T) {
	for src, want := range map[string]string{
		`report.set("", 1)`:                        "the key is empty",
		`report.set("rs", rpc("rpcutil", "ping"))`: "report.set: rs:",
		`report.set("f", lambda: 1)`:               "attach plain data",
		`report.set("a", 1, 2)`:                    "report.set",
	} {
		r := runSource(t, context.Background(), src+"\n", Options{})
		if r.ExitCode == ExitOK || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: exit %d, stderr lacks %q:\n%s", src, r.ExitCode, want, r.stderr)
		}
	}
	r := runSource(t, context.Background(), "discover()\n", Options{JSON: true})
	if !strings.Contains(r.stdout, `"data": {}`) {
		t.Errorf("a run without report.set has no empty data:\n%s", r.stdout)
	}
}
