package playbook

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A playbook discovers from an inventory with the real client on the test fleet: the
// inventory's filter is evaluated on the inventory, diff() shows the node the live fleet
// lacks, and an rpc through the inventory reports that node missing. A dry run plans its
// targets from the inventory too, the call's agent included.
func TestPlaybookInventoryDiscovery(t *testing.T) {
	inv := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(inv, []byte(`nodes:
  - {name: web1, facts: {role: web}, agents: [rpcutil, service]}
  - {name: web2, facts: {role: web}, agents: [rpcutil]}
  - {name: ghost1, facts: {role: web}, agents: [rpcutil, service]}
  - {name: db1, facts: {role: db}, agents: [rpcutil]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`
inv = {"file": %q}
known = discover("role=web", method="inventory", options=inv)
live = discover("role=web")
only_known, only_live = known.diff(live)
print("known:", known.list())
print("diff:", only_known.list(), only_live.list())
rs = rpc("rpcutil", "ping", filter="role=web", method="inventory", options=inv, timeout="2s")
print("targets:", rs.targets.list(), "ok:", rs.ok.nodes.list(), "missing:", rs.missing.list())
`, inv)
	r := runSource(t, context.Background(), src, Options{})
	want := []string{
		`known: ["ghost1", "web1", "web2"]`,
		`diff: ["ghost1"] ["web3", "web4"]`,
		`targets: ["ghost1", "web1", "web2"] ok: ["web1", "web2"] missing: ["ghost1"]`,
	}
	for _, w := range want {
		if !strings.Contains(r.stdout, w+"\n") {
			t.Errorf("stdout lacks %q:\n%s\nstderr:\n%s", w, r.stdout, r.stderr)
		}
	}
	dry := runSource(t, context.Background(), fmt.Sprintf(`
rs = rpc("service", "restart", {"service": "nginx"}, filter="role=web", method="inventory", options={"file": %q})
print("targets:", rs.targets.list())
`, inv), Options{DryRun: true})
	if !strings.Contains(dry.stdout, `targets: ["ghost1", "web1"]`) { // the inventory's nodes with the service agent
		t.Errorf("dry run:\n%s\nstderr:\n%s", dry.stdout, dry.stderr)
	}
	bad := runSource(t, context.Background(), `discover("role=web", method="flatfile", options={"file": "x"})`, Options{})
	if bad.ExitCode != 1 || !strings.Contains(bad.stderr, "the flatfile method cannot evaluate fact filters") {
		t.Errorf("flatfile with -F: exit %d, stderr %s", bad.ExitCode, bad.stderr)
	}
}
