package playbook

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/sandbox"
	"github.com/mcorun/mcorun/starlib"
)

// sandboxFleet starts an in-process broker with n simulated nodes running the real agents
// and returns a real client on it.
func sandboxFleet(t testing.TB, n int) starlib.Fleet {
	t.Helper()
	return sandboxClient(t, sandbox.Options{Nodes: n})
}

// sandboxClient starts a sandbox with opts and returns a real client on it.
func sandboxClient(t testing.TB, sbOpts sandbox.Options) starlib.Fleet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sb, err := sandbox.Start(ctx, sbOpts)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	cfg := sb.ClientConfig()
	rmq, err := cfg.RabbitMQ()
	if err != nil {
		t.Fatal(err)
	}
	opts, err := connector.OptionsFromConfig(rmq, cfg.Identity, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := connector.Dial(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c, err := client.FromConfig(cfg, conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestPlaybooksOnSandbox(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandbox")
	}
	fleet := sandboxFleet(t, 6)
	run := func(name string, args map[string]string) run {
		t.Helper()
		report := filepath.Join(t.TempDir(), "report.json")
		return runSource(t, context.Background(), "", Options{File: filepath.Join("..", "..", "playbooks", name),
			Fleet: fleet, Args: args, ReportFile: report, Clock: starlib.WallClock{}})
	}
	r := run("inventory_report.star", nil)
	if r.ExitCode != ExitOK || !strings.Contains(r.stdout, "Inventory of 6 nodes (6 answered)") {
		t.Errorf("inventory_report: exit %d\n%s\n%s", r.ExitCode, r.stdout, r.stderr)
	}
	r = run("fact_outliers.star", map[string]string{"fact": "role"})
	if r.ExitCode != ExitOK || !strings.Contains(r.stdout, "role: ") {
		t.Errorf("fact_outliers: exit %d\n%s\n%s", r.ExitCode, r.stdout, r.stderr)
	}
	// This sandbox serves no puppet agent, so the rollout's change is a ping rather than
	// the default noop Puppet run, without the default's noop=true input.
	r = run("canary_rollout.star", map[string]string{"agent": "rpcutil", "action": "ping", "input": "", "window": "2", "canaries": "1",
		"health_fact": "role", "health_value": "web", "filter": "role=web"})
	if r.ExitCode != ExitOK || !strings.Contains(r.stdout, "RollingReport(ok;") {
		t.Errorf("canary_rollout: exit %d\n%s\n%s", r.ExitCode, r.stdout, r.stderr)
	}
	t.Logf("canary_rollout on the sandbox:\n%s", r.stdout)
}

// TestActingPlaybooksOnSandbox runs the playbooks that use the service and package agents on
// a sandbox of the default fleet file's 20 nodes: web nodes run nginx (restarts of 300-500ms),
// every node has an openssl upgrade available.
func TestActingPlaybooksOnSandbox(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandbox")
	}
	fleet := sandboxFleet(t, 20)
	play := func(name string, args map[string]string) run {
		t.Helper()
		report := filepath.Join(t.TempDir(), "report.json")
		return runSource(t, context.Background(), "", Options{File: filepath.Join("..", "..", "playbooks", name),
			Fleet: fleet, Args: args, ReportFile: report, Clock: starlib.WallClock{}})
	}
	check := func(name string, r run, want ...string) {
		t.Helper()
		if r.ExitCode != ExitOK {
			t.Errorf("%s: exit %d\n%s\n%s", name, r.ExitCode, r.stdout, r.stderr)
			return
		}
		wantLines(t, r.stdout, want...)
	}
	// canary_rollout.star's header example
	r := play("canary_rollout.star", map[string]string{"filter": "role=web", "agent": "service", "action": "restart",
		"input": "service=nginx", "window": "5", "canaries": "2"})
	check("canary_rollout", r, "RollingReport(ok; 8 done")
	r = play("rolling_restart.star", map[string]string{"filter": "role=web", "service": "nginx", "window": "4",
		"check_command": "test -d ."})
	check("rolling_restart", r, "web08.dc1.example.net  done", "RollingReport(ok; 8 done, 0 failed, 0 missing, 0 skipped in 3 batches)")
	r = play("package_upgrade.star", map[string]string{"package": "openssl", "window": "10"})
	check("package_upgrade", r, "web01.dc1.example.net    3.0.11-1~deb12u2  3.0.13-1~deb12u1  done",
		"RollingReport(ok; 20 done, 0 failed, 0 missing, 0 skipped in 3 batches)")
	r = play("package_upgrade.star", map[string]string{"filter": "role=web", "package": "nginx",
		"version": "1.22.1-9+deb12u1", "window": "4"})
	check("package_upgrade nginx", r, "RollingReport(ok; 8 done")
}
