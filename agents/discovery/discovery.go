// Package discovery is MCollective's discovery agent. It is not a SimpleRPC agent: a request
// body is the String "ping" and the reply body the String "pong". Every node must answer it on
// the collective's broadcast discovery destination, or mco discovery never finds the node; it
// is one of the standard agents (package agents).
package discovery

import (
	"fmt"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/rubyfmt"
)

// Name is the agent's name, which requests address and replies carry as :senderagent.
const Name = "discovery"

// New returns the discovery agent: its DDL and Handle, with no SimpleRPC actions.
func New() *agent.Agent {
	return &agent.Agent{DDL: DDL(), Handle: Handle}
}

// Handle answers one decoded request body as MCollective's discovery agent does: "pong" for
// the String "ping", "Unknown Request: <body>" for anything else.
func Handle(body any) any {
	if s, ok := body.(string); ok && s == "ping" {
		return "pong"
	}
	return fmt.Sprintf("Unknown Request: %s", rubyfmt.ToS(body))
}

// DDL returns the discovery agent's metadata (timeout 5 seconds, no actions), which rpcutil
// agent_inventory lists.
func DDL() *ddl.Agent {
	d, err := ddl.Builtin(Name)
	if err != nil {
		panic(err) // the embedded DDL is tested; failure is a build defect
	}
	return d
}
