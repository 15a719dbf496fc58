package pkgagent

import (
	"context"
	"testing"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/agent/agenttest"
)

// call runs an action as mcod's pipeline does (agenttest.Call).
func call(t *testing.T, a *agent.Agent, action string, in map[string]any) *agent.Reply {
	t.Helper()
	return agenttest.Call(t, a, action, in)
}

// fakeRunner answers commands from a table keyed by the command line, and records them.
type fakeRunner struct {
	answers map[string]fakeAnswer
	ran     []string
}

type fakeAnswer struct {
	stdout, stderr string
	exit           int
}

func (f *fakeRunner) run(_ context.Context, c Cmd) ([]byte, []byte, int, error) {
	f.ran = append(f.ran, c.String())
	a, ok := f.answers[c.String()]
	if !ok {
		return nil, []byte("unexpected command " + c.String()), 127, nil
	}
	return []byte(a.stdout), []byte(a.stderr), a.exit, nil
}
