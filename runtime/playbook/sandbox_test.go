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
func sandboxFleet(t *testing.T, n int) starlib.Fleet {
	t.Helper()
	return sandboxClient(t, sandbox.Options{Nodes: n})
}

// sandboxClient starts a sandbox with opts and returns a real client on it.
func sandboxClient(t *testing.T, sbOpts sandbox.Options) starlib.Fleet {
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
