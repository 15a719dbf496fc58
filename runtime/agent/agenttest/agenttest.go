// Package agenttest runs an agent's action in a unit test the way mcod's pipeline runs it,
// without a broker: the DDL validates the inputs (a refused request never reaches the
// action, and its reply is the refusal), the DDL's input defaults are filled in, the reply
// starts with the DDL's output defaults and "OK", and the action runs under the DDL's
// timeout. Tests of the agents use it instead of each writing its own.
package agenttest

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

// Call runs a's action with the inputs in (nil for none) as the caller uid=0, in the
// collective "mcollective".
func Call(tb testing.TB, a *agent.Agent, action string, in map[string]any) *agent.Reply {
	tb.Helper()
	data := maps.Clone(in)
	if data == nil {
		data = map[string]any{}
	}
	if err := a.DDL.Validate(action, data); err != nil {
		var ve *ddl.ValidationError
		if !errors.As(err, &ve) {
			tb.Fatalf("%s#%s: %v", a.Name(), action, err)
		}
		return &agent.Reply{Status: ve.Status, Message: ve.Msg, Data: map[string]any{}}
	}
	act, ok := a.Actions[action]
	if !ok {
		tb.Fatalf("%s has no action %s", a.Name(), action)
	}
	a.DDL.SetInputDefaults(action, data)
	timeout := time.Duration(a.DDL.Metadata.Timeout) * time.Second
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	timeout += a.Grace
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rep := &agent.Reply{Status: message.OK, Message: "OK", Data: a.DDL.Defaults(action)}
	act(ctx, &agent.Request{Agent: a.Name(), Action: action, Data: data, CallerID: "uid=0",
		Collective: "mcollective", RequestID: "0123456789abcdef0123456789abcdef", SenderID: "agenttest", Time: time.Now(), TTL: 60}, rep)
	return rep
}
