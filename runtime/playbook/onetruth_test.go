package playbook

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/playbook/fleettest"
	"github.com/mcorun/mcorun/runtime/sandbox"
	"github.com/mcorun/mcorun/starlib"
)

// targetsPlaybook prints the targets of one call of agent.action with opts, so a dry run
// and a real run can be compared.
func targetsPlaybook(agent, action, opts string) string {
	return fmt.Sprintf("rs = rpc(%q, %q%s)\nprint(\"targets:\", sorted(rs.nodes.list()))\n", agent, action, opts)
}

func targetsLine(t *testing.T, r run) string {
	t.Helper()
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(l, "targets:") {
			return l
		}
	}
	t.Fatalf("no targets line (exit %d)\nstdout:\n%s\nstderr:\n%s", r.ExitCode, r.stdout, r.stderr)
	return ""
}

// A dry run targets exactly the nodes the real call targets: discovery adds the agent to
// the filter in both, so a node without the agent is in neither.
func TestDryRunTargetsWhatTheCallTargets(t *testing.T) {
	fleet := closing(t, fleettest.NewNodes(
		&fleettest.Node{ID: "a1", Facts: map[string]any{"role": "web"}},
		&fleettest.Node{ID: "a2", Facts: map[string]any{"role": "web"}, Agents: []string{"rpcutil", "discovery"}},
		&fleettest.Node{ID: "a3", Facts: map[string]any{"role": "web"}},
	))
	src := targetsPlaybook("service", "restart", `, {"service": "nginx"}, filter="role=web"`)
	real := runSource(t, context.Background(), src, Options{Fleet: fleet})
	dry := runSource(t, context.Background(), src, Options{Fleet: fleet, DryRun: true})
	want := "targets: [\"a1\", \"a3\"]"
	if got := targetsLine(t, real); got != want {
		t.Errorf("real run: %s, want %s", got, want)
	}
	if got := targetsLine(t, dry); got != want {
		t.Errorf("dry run: %s, want %s", got, want)
	}
}

// The test fleet honours limit and cuts "30%" batches as the client does: batches of 3, 3
// and 1 on 7 nodes, for rpc(batch=) and rolling(batch=) alike.
func TestTestFleetLimitAndBatches(t *testing.T) {
	fleet := newTestFleet(t) // 8 nodes
	r := runSource(t, context.Background(), targetsPlaybook("rpcutil", "ping", `, limit=2`), Options{Fleet: fleet})
	if got := targetsLine(t, r); got != `targets: ["app1", "db1"]` {
		t.Errorf("limit=2 on 8 nodes: %s", got)
	}
	src := `
seven = discover().list()[:7]
rpc("rpcutil", "ping", nodes=seven, batch="30%", batch_sleep="0s")
sizes = []
rolling(seven, lambda b: sizes.append(len(b)), batch="30%")
print("rolling:", sizes)
`
	fleet = newTestFleet(t)
	r = runSource(t, context.Background(), src, Options{Fleet: fleet})
	if !strings.Contains(r.stdout, "rolling: [3, 3, 1]") {
		t.Errorf("rolling batches: %s%s", r.stdout, r.stderr)
	}
	var sizes []int
	for _, c := range fleet.Calls() {
		if c.Kind == "rpc" {
			for _, b := range c.Batches {
				sizes = append(sizes, len(b))
			}
		}
	}
	if !slices.Equal(sizes, []int{3, 3, 1}) {
		t.Errorf("rpc batches: %v, want [3 3 1]", sizes)
	}
}

// On the sandbox (the real client over STOMP), a node without the agent is discovered by
// neither the real call nor its dry run.
func TestDryRunTargetsOnSandbox(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandbox")
	}
	fleet := sandboxClient(t, sandbox.Options{Nodes: 4, Plugins: func(n sandbox.Node) (sandbox.Plugins, error) {
		if strings.HasPrefix(n.Identity, "web01") {
			return sandbox.Plugins{}, nil // this node serves no puppet agent
		}
		return sandbox.SimulatedPuppet(n)
	}})
	src := targetsPlaybook("puppet", "runonce", `, {"noop": True}`)
	real := runSource(t, context.Background(), src, Options{Fleet: fleet, Clock: starlib.WallClock{}})
	dry := runSource(t, context.Background(), src, Options{Fleet: fleet, Clock: starlib.WallClock{}, DryRun: true})
	rl, dl := targetsLine(t, real), targetsLine(t, dry)
	if rl != dl || strings.Count(rl, ",") != 2 {
		t.Errorf("real run %s, dry run %s: want the same 3 nodes", rl, dl)
	}
}
