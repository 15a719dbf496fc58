package service

import (
	"testing"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/agent/agenttest"
)

// call runs an action as mcod's pipeline does (agenttest.Call).
func call(t *testing.T, a *agent.Agent, action string, in map[string]any) *agent.Reply {
	t.Helper()
	return agenttest.Call(t, a, action, in)
}

// want checks a reply's status code, message ("" for a success's "OK") and status output.
func want(t *testing.T, rep *agent.Reply, code int, msg, status string) {
	t.Helper()
	if code == 0 && msg == "" {
		msg = "OK"
	}
	if int(rep.Status) != code || rep.Message != msg || rep.Data["status"] != status {
		t.Fatalf("reply %d %q status %v, want %d %q status %q", rep.Status, rep.Message, rep.Data["status"], code, msg, status)
	}
}
