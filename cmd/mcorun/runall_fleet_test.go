package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/agents/puppet/sim"
	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/playbook/fleettest"
)

// simFleet is the test fleet as mcorun's verbs see it.
type simFleet struct{ *fleettest.Fleet }

func (simFleet) Ping(context.Context, client.DiscoverOptions) ([]pingReply, error) { return nil, nil }

// runallOnFleet runs `mcorun puppet runall 5` on a test fleet of five nodes whose runs take
// 15 s (real client, real nodes and puppet agents over simulated Puppets, one fake clock),
// where n5 answers its status polls as answers says. It returns the exit code, the output
// and the fake time the command took.
func runallOnFleet(t *testing.T, answers func(seq int) bool) (int, string, time.Duration) {
	t.Helper()
	var nodes []*fleettest.Node
	for _, id := range []string{"n1", "n2", "n3", "n4", "n5"} {
		nodes = append(nodes, &fleettest.Node{ID: id, Agents: []string{"puppet", "rpcutil"},
			Puppet: sim.Options{MinRunTime: 15 * time.Second, MaxRunTime: 15 * time.Second}})
	}
	fl := fleettest.NewNodes(nodes...)
	t.Cleanup(func() { _ = fl.Close() })
	fl.Responder = func(req fleettest.Request, _ *agent.Reply) bool {
		return req.Node.ID != "n5" || req.Action != "status" || answers(req.Seq)
	}
	clk := fl.Time()
	e, stdout, _, cfg := testEnv(t, simFleet{fl}, nil)
	e.clock = clk
	code := run(context.Background(), e, []string{"puppet", "--config", cfg, "runall", "5"})
	return code, stdout.String(), clk.Elapsed()
}

// TestRunallDeadNode checks that one node that stops answering once its run has started
// does not hold up a rollout: the polls of the others end when they have answered, the
// rollout ends soon after their runs, and the dead node is still reported as not answering
// (exit 4). A node that misses a poll and answers its own finishes normally.
func TestRunallDeadNode(t *testing.T) {
	code, out, healthy := runallOnFleet(t, func(int) bool { return true })
	if code != exitOK {
		t.Fatalf("healthy fleet: exit %d\n%s", code, out)
	}
	code, out, dead := runallOnFleet(t, func(seq int) bool { return seq == 1 }) // the status before the runs
	t.Logf("5-node runall, runs of 15 s: %s of fake time with every node answering, %s with n5 dead", healthy, dead)
	if code != exitMissing {
		t.Errorf("dead n5: exit %d, want %d\n%s", code, exitMissing, out)
	}
	for _, want := range []string{"| n1   | ok ", "| n4   | ok ", "| n5   | no response |", "5 nodes: 4 ok, 1 no response"} {
		if !strings.Contains(out, want) {
			t.Errorf("dead n5: output lacks %q:\n%s", want, out)
		}
	}
	if dead > healthy+5*time.Second {
		t.Errorf("dead n5: the rollout took %s of fake time, %s without it", dead, healthy)
	}
	code, out, _ = runallOnFleet(t, func(seq int) bool { return seq != 2 }) // silent for the first poll only
	if code != exitOK || !strings.Contains(out, "5 nodes: 5 ok") || !strings.Contains(out, "n5 did not respond to the status action") {
		t.Errorf("n5 silent for one poll: exit %d\n%s", code, out)
	}
}
