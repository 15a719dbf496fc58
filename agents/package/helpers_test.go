package pkgagent

import (
	"context"
	"testing"

	"github.com/mcorun/mcorun/runtime/agent"
)

// call runs an action as the server does: inputs validated against the DDL, the reply's
// outputs pre-filled with their defaults. A validation failure fails the test.
func call(t *testing.T, a *agent.Agent, action string, data map[string]any) *agent.Reply {
	t.Helper()
	if data == nil {
		data = map[string]any{}
	}
	if err := a.DDL.Validate(action, data); err != nil {
		t.Fatalf("%s %v: %v", action, data, err)
	}
	rep := &agent.Reply{Data: a.DDL.Defaults(action)}
	a.Actions[action](context.Background(), &agent.Request{Agent: "package", Action: action, Data: data}, rep)
	return rep
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
