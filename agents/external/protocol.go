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
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

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

// The environment variables an agent is run with, beside PATH.
const (
	envRequest  = "CHORIA_EXTERNAL_REQUEST"
	envReply    = "CHORIA_EXTERNAL_REPLY"
	envProtocol = "CHORIA_EXTERNAL_PROTOCOL"
	envConfig   = "CHORIA_EXTERNAL_CONFIG"
	envFacts    = "CHORIA_EXTERNAL_FACTS"
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

// result is what a run left: the reply file's bytes and the ends of stdout and stderr.
type result struct {
	reply          []byte
	stdout, stderr []byte
}

// errTimeout is a run that outlived its context: its process group was killed.
var errTimeout = errors.New("timed out; its process group was killed")

// run runs c.exe with the request file, the reply file and the protocol as its arguments and
// in its environment, which holds nothing else but PATH, the config path and the facts file.
// The process leads its own process group, and the whole group is killed when ctx ends. A
// non-zero exit is an error carrying an excerpt of stderr.
func run(ctx context.Context, c call) (result, error) {
	var res result
	dir, err := os.MkdirTemp("", "mcod-external-")
	if err != nil {
		return res, fmt.Errorf("cannot create the request directory: %w", err)
	}
	defer os.RemoveAll(dir)
	reqPath, repPath, factsPath := filepath.Join(dir, "request.json"), filepath.Join(dir, "reply.json"), filepath.Join(dir, "facts.json")
	req, err := json.Marshal(c.request)
	if err != nil {
		return res, fmt.Errorf("cannot encode the request: %w", err)
	}
	facts, err := json.Marshal(value.JSON(orEmpty(c.facts)))
	if err != nil {
		return res, fmt.Errorf("cannot encode the facts: %w", err)
	}
	for p, b := range map[string][]byte{reqPath: req, factsPath: facts, repPath: nil} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return res, fmt.Errorf("cannot write %s: %w", p, err)
		}
	}
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	cmd := exec.CommandContext(ctx, c.exe, reqPath, repPath, c.protocol)
	cmd.Dir = os.TempDir()
	cmd.Env = []string{
		"PATH=" + path,
		envRequest + "=" + reqPath,
		envReply + "=" + repPath,
		envProtocol + "=" + c.protocol,
		envConfig + "=" + c.config,
		envFacts + "=" + factsPath,
	}
	var stdout, stderr tail
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The negative pid is the process group: the agent and everything it started.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	// A child that outlives the agent and holds its stdout open must not hold the call.
	cmd.WaitDelay = 500 * time.Millisecond
	err = cmd.Run()
	res.stdout, res.stderr = stdout.Bytes(), stderr.Bytes()
	if ctx.Err() != nil {
		return res, errTimeout
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return res, fmt.Errorf("%s %s%s", filepath.Base(c.exe), exit.ProcessState, excerpt(res.stderr))
		}
		if !errors.Is(err, exec.ErrWaitDelay) {
			return res, fmt.Errorf("cannot run %s: %w", c.exe, err)
		}
	}
	f, err := os.Open(repPath)
	if err != nil {
		return res, fmt.Errorf("cannot read the reply: %w", err)
	}
	defer f.Close()
	res.reply, err = io.ReadAll(io.LimitReader(f, c.maxReply+1))
	if err != nil {
		return res, fmt.Errorf("cannot read the reply: %w", err)
	}
	if int64(len(res.reply)) > c.maxReply {
		st, _ := f.Stat()
		return res, fmt.Errorf("%s wrote a reply of %d bytes, over the limit of %d", filepath.Base(c.exe), st.Size(), c.maxReply)
	}
	return res, nil
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
	s := strings.Join(strings.Fields(string(stderr)), " ")
	if s == "" {
		return ""
	}
	if len(s) > maxExcerpt {
		s = "..." + strings.ToValidUTF8(s[len(s)-maxExcerpt:], "")
	}
	return ": " + s
}

// maxTail is how much of stdout and of stderr a run keeps: their last bytes.
const maxTail = 16 << 10

// tail keeps the last maxTail bytes written to it.
type tail struct{ b []byte }

func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= maxTail {
		t.b = append(t.b[:0], p[len(p)-maxTail:]...)
		return n, nil
	}
	if over := len(t.b) + len(p) - maxTail; over > 0 {
		t.b = t.b[:copy(t.b, t.b[over:])]
	}
	t.b = append(t.b, p...)
	return n, nil
}

func (t *tail) Bytes() []byte { return t.b }

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
