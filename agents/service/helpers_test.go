package service

import (
	"context"
	"errors"
	"testing"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/ddl"
)

// call runs an action as mcod's pipeline does: DDL validation (a refused request never
// reaches the action), output defaults, then the action.
func call(t *testing.T, a *agent.Agent, action string, in map[string]any) *agent.Reply {
	t.Helper()
	if err := a.DDL.Validate(action, in); err != nil {
		var ve *ddl.ValidationError
		if !errors.As(err, &ve) {
			t.Fatal(err)
		}
		return &agent.Reply{Status: ve.Status, Message: ve.Msg}
	}
	rep := &agent.Reply{Data: a.DDL.Defaults(action)}
	a.Actions[action](context.Background(), &agent.Request{Agent: "service", Action: action, Data: in, CallerID: "uid=0"}, rep)
	return rep
}

// want checks a reply's status code, message and status output.
func want(t *testing.T, rep *agent.Reply, code int, msg, status string) {
	t.Helper()
	if int(rep.Status) != code || rep.Message != msg || rep.Data["status"] != status {
		t.Fatalf("reply %d %q status %v, want %d %q status %q", rep.Status, rep.Message, rep.Data["status"], code, msg, status)
	}
}
