// Package external serves agents written in any language, as Choria's external agents: an
// executable beside its JSON DDL in a libdir's mcollective/agent directory, run once per
// request with the request in a file and its reply written to another
// (io.choria.mcorpc.external.v1). A Watcher finds them, asks each whether it wants to run on
// this node, and adds, upgrades and removes them on a serving node as the files change.
// docs/agents.md describes the protocol for agent authors.
package external

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/mcorun/mcorun/runtime/extproc"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/value"
)

// The protocol names and schemas of io.choria.mcorpc.external.v1.
const (
	RequestProtocol    = "io.choria.mcorpc.external.v1.rpc_request"
	requestSchema      = "https://choria.io/schemas/mcorpc/external/v1/rpc_request.json"
	ActivationProtocol = "io.choria.mcorpc.external.v1.activation_request"
	activationSchema   = "https://choria.io/schemas/mcorpc/external/v1/activation_request.json"
)

// The environment variables an agent is run with, beside PATH and those of extproc.
const (
	envConfig = "CHORIA_EXTERNAL_CONFIG"
	envFacts  = "CHORIA_EXTERNAL_FACTS"
)

// Request is an rpc request as the agent reads it: data at the top level, already validated
// against the DDL and with the DDL's input defaults.
type Request struct {
	Schema     string         `json:"$schema"`
	Protocol   string         `json:"protocol"`
	Agent      string         `json:"agent"`
	Action     string         `json:"action"`
	RequestID  string         `json:"requestid"`
	SenderID   string         `json:"senderid"`
	CallerID   string         `json:"callerid"`
	Collective string         `json:"collective"`
	TTL        int64          `json:"ttl"`
	MsgTime    int64          `json:"msgtime"`
	Data       map[string]any `json:"data"`
}

// activationRequest asks an agent whether it wants to run on this node.
type activationRequest struct {
	Schema   string `json:"$schema"`
	Protocol string `json:"protocol"`
	Agent    string `json:"agent"`
}

// Reply is an rpc reply as the agent writes it.
type Reply struct {
	StatusCode message.Status
	StatusMsg  string
	Data       map[string]any // plain values (package value); nil when the agent sent none
}

// call is one run of an agent's executable.
type call struct {
	exe      string
	name     string // the agent's name, for the config path
	protocol string
	request  any
	facts    map[string]any // nil writes {}
	config   string         // CHORIA_EXTERNAL_CONFIG
	maxReply int64
}

// run runs c.exe with the request file, the reply file and the protocol as its arguments and
// in its environment (extproc), with the config path and the facts file besides. The whole
// process group is killed when ctx ends. A non-zero exit is an error carrying an excerpt of
// stderr.
func run(ctx context.Context, c call) (extproc.Result, error) {
	facts, err := json.Marshal(value.JSON(orEmpty(c.facts)))
	if err != nil {
		return extproc.Result{}, fmt.Errorf("cannot encode the facts: %w", err)
	}
	res, err := extproc.Run(ctx, extproc.Call{
		Argv: []string{c.exe}, Protocol: c.protocol, Request: c.request,
		Files: []extproc.File{{Env: envFacts, Name: "facts.json", Body: facts}},
		Env:   []string{envConfig + "=" + c.config},
		Dir:   os.TempDir(), MaxReply: c.maxReply,
		// A child that outlives the agent and holds its stdout open must not hold the call.
		WaitDelay: 500 * time.Millisecond,
	})
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		err = fmt.Errorf("%w%s", err, excerpt(res.Stderr))
	}
	return res, err
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// maxExcerpt is how much of an agent's stderr a failed reply's message carries.
const maxExcerpt = 200

// excerpt is ": " and the last maxExcerpt bytes of stderr on one line, or "" when it is empty.
func excerpt(stderr []byte) string {
	if s := extproc.Excerpt(stderr, maxExcerpt); s != "" {
		return ": " + s
	}
	return ""
}

// DecodeReply reads an rpc reply: {"statuscode": N, "statusmsg": "...", "data": {...}}. The
// status code must be one of MCollective's, 0 to 5; data may be missing or null. Numbers
// become int64 when they are integers, as Ruby's JSON reads them.
func DecodeReply(b []byte) (Reply, error) {
	var raw struct {
		StatusCode *json.Number `json:"statuscode"`
		StatusMsg  any          `json:"statusmsg"`
		Data       any          `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return Reply{}, fmt.Errorf("the reply is not a JSON object: %w", err)
	}
	if dec.More() {
		return Reply{}, errors.New("the reply has data after its JSON object")
	}
	if raw.StatusCode == nil {
		return Reply{}, errors.New("the reply has no statuscode")
	}
	code, err := raw.StatusCode.Int64()
	if err != nil || code < int64(message.OK) || code > int64(message.UnknownError) {
		return Reply{}, fmt.Errorf("the reply's statuscode %s is not one of 0 to 5", raw.StatusCode)
	}
	rep := Reply{StatusCode: message.Status(code)}
	switch m := raw.StatusMsg.(type) {
	case nil:
	case string:
		rep.StatusMsg = m
	default:
		return Reply{}, fmt.Errorf("the reply's statusmsg is a %T, want a string", m)
	}
	switch d := value.Plain(raw.Data).(type) {
	case nil:
	case map[string]any:
		rep.Data = d
	default:
		return Reply{}, fmt.Errorf("the reply's data is a %T, want an object", d)
	}
	return rep, nil
}

// decodeActivation reads an activation reply, {"activate": true|false}.
func decodeActivation(b []byte) (bool, error) {
	var r struct {
		Activate *bool `json:"activate"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return false, fmt.Errorf("the activation reply is not a JSON object: %w", err)
	}
	if r.Activate == nil {
		return false, errors.New(`the activation reply has no "activate" boolean`)
	}
	return *r.Activate, nil
}
