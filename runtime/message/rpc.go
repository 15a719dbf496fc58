package message

import "fmt"

// Status is a SimpleRPC reply status code, in MCollective's order (rpc/agent.rb).
type Status int

// The SimpleRPC status codes.
const (
	OK            Status = 0 // the action ran
	Aborted       Status = 1 // RPCAborted: the action called reply.fail
	UnknownAction Status = 2 // UnknownRPCAction: declared in the DDL but not implemented
	MissingData   Status = 3 // MissingRPCData: a required input was absent
	InvalidData   Status = 4 // InvalidRPCData or DDLValidationError
	UnknownError  Status = 5 // any other failure
)

var statusNames = [...]string{"OK", "Aborted", "UnknownRPCAction", "MissingRPCData", "InvalidRPCData", "UnknownError"}

// String names the status as MCollective's exceptions do.
func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// RPCRequest is a SimpleRPC request body: {:agent, :action, :caller, :data}.
// Data keys are the input names; the wire may carry them as Symbols or Strings.
type RPCRequest struct {
	Agent  string
	Action string
	Caller string
	Data   map[string]any
	// ProcessResults is false for fire-and-forget requests, which get no reply.
	ProcessResults bool
}

// RPCReply is a SimpleRPC reply body: {:statuscode, :statusmsg, :data}. Data keys are output
// names; they are written as Symbols.
type RPCReply struct {
	StatusCode Status
	StatusMsg  string
	Data       map[string]any
}
