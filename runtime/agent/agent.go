// Package agent is the contract between mcod's request pipeline (package server) and the
// agents and data plugins it serves (rpcutil, discovery, puppet, fstat, ...). An agent is its
// DDL plus one Go function per action. The pipeline validates inputs against the DDL, fills
// the reply's outputs with their DDL defaults, runs the action under the DDL timeout and sends
// exactly one reply. A data plugin (DataPlugin) is its DDL plus one query function. Both may
// ask the node serving them for its state through Node.
package agent

import (
	"context"
	"time"

	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

// Request is a SimpleRPC request as an action sees it.
type Request struct {
	Agent      string
	Action     string
	Data       map[string]any // inputs by name, already validated against the DDL
	CallerID   string         // the envelope's callerid, e.g. "uid=0"
	SenderID   string         // the client's identity
	RequestID  string
	Collective string
	Time       time.Time // when the request was sent (its msgtime)
	TTL        int64     // the request's time to live, in seconds
}

// Reply is the reply an action fills in. Data starts with every DDL output set to its default.
type Reply struct {
	Status  message.Status
	Message string
	Data    map[string]any
}

// Fail marks the reply failed with status s and message msg, as reply.fail! does in Ruby.
func (r *Reply) Fail(s message.Status, msg string) {
	r.Status = s
	r.Message = msg
}

// Action runs one action. It must honour ctx, which ends at the agent's DDL timeout.
type Action func(ctx context.Context, req *Request, rep *Reply)

// Agent is one agent: its DDL and its implemented actions. An action declared in the DDL but
// missing from Actions replies UnknownAction, as MCollective does.
type Agent struct {
	DDL     *ddl.Agent
	Actions map[string]Action
	// Handle, when set, makes this an agent that is not a SimpleRPC agent, as MCollective's
	// discovery agent is: it answers the decoded request body directly, with the reply body.
	// Actions is then unused, and no DDL validation, authorization or audit applies.
	Handle func(body any) any
	// Grace is time an action gets beyond its DDL timeout, for work around it: an external
	// agent's process start and its reply.
	Grace time.Duration
}

// Name is the agent's name from its DDL metadata.
func (a *Agent) Name() string { return a.DDL.Metadata.Name }
