package external

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/extproc"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/value"
)

// Defaults of Options.
const (
	DefaultActivationTimeout = 2 * time.Second
	// DefaultGrace is the time a process gets beyond its DDL timeout, for its start.
	DefaultGrace    = 1500 * time.Millisecond
	DefaultMaxReply = 1 << 20
	// DefaultSettle is how long a changed file stays unchanged before a rescan reads it.
	DefaultSettle = 5 * time.Second
	// replyGrace is the time the node keeps beyond a process's own deadline, to kill it and
	// send the reply that says so.
	replyGrace = time.Second
)

// runner runs the processes of one node's external agents.
type runner struct {
	facts      func() map[string]any
	configDir  string
	grace      time.Duration
	activation time.Duration
	maxReply   int64
	log        *slog.Logger
}

// configPath is CHORIA_EXTERNAL_CONFIG for an agent: plugin.d/NAME beside the node's config
// file, as Choria has it.
func (r *runner) configPath(name string) string {
	return filepath.Join(r.configDir, "plugin.d", name)
}

// activate asks the agent whether it wants to run on this node, within the activation bound.
func (r *runner) activate(ctx context.Context, name, exe string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, r.activation)
	defer cancel()
	res, err := run(ctx, call{
		exe: exe, name: name, protocol: ActivationProtocol, facts: r.facts(), config: r.configPath(name), maxReply: r.maxReply,
		request: activationRequest{Schema: activationSchema, Protocol: ActivationProtocol, Agent: name},
	})
	r.logOutput(name, "activation", res)
	if errors.Is(err, extproc.ErrTimeout) {
		return false, fmt.Errorf("activation check timed out after %s; its process group was killed", r.activation)
	}
	if err != nil {
		return false, err
	}
	return decodeActivation(res.Reply)
}

// newAgent is the agent served for d, running exe for each action.
func (r *runner) newAgent(d *ddl.Agent, exe string) *agent.Agent {
	a := &agent.Agent{DDL: d, Actions: map[string]agent.Action{}, Grace: r.grace + replyGrace}
	for name := range d.Actions {
		a.Actions[name] = func(ctx context.Context, req *agent.Request, rep *agent.Reply) {
			r.action(ctx, d, exe, req, rep)
		}
	}
	return a
}

// action runs one request. The process gets the DDL timeout plus the grace; the reply's data
// starts with the DDL's output defaults (the server fills them) and takes the agent's values
// over them. A failed run is statuscode 1 with the reason.
func (r *runner) action(ctx context.Context, d *ddl.Agent, exe string, req *agent.Request, rep *agent.Reply) {
	limit := time.Duration(d.Metadata.Timeout)*time.Second + r.grace
	if d.Metadata.Timeout <= 0 {
		limit = 10*time.Second + r.grace
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	// Choria promises an external agent its inputs with their defaults, optional ones
	// included (the server fills only the required ones, as MCollective does). The request
	// is only encoded, so the defaults are shared, not copied.
	data := maps.Clone(req.Data)
	if data == nil {
		data = map[string]any{}
	}
	if act, ok := d.Actions[req.Action]; ok {
		for k, in := range act.Input {
			if _, given := data[k]; !given && in.Default != nil {
				data[k] = in.Default
			}
		}
	}
	// Values decoded from Ruby (Symbols, Hashes with non-String keys) as JSON writes them.
	data, _ = value.JSON(data).(map[string]any)
	res, err := run(ctx, call{
		exe: exe, name: req.Agent, protocol: RequestProtocol, facts: r.facts(), config: r.configPath(req.Agent), maxReply: r.maxReply,
		request: Request{
			Schema: requestSchema, Protocol: RequestProtocol, Agent: req.Agent, Action: req.Action,
			RequestID: req.RequestID, SenderID: req.SenderID, CallerID: req.CallerID,
			Collective: req.Collective, TTL: req.TTL, MsgTime: req.Time.Unix(), Data: data,
		},
	})
	r.logOutput(req.Agent, req.Action, res)
	what := req.Agent + "#" + req.Action
	if errors.Is(err, extproc.ErrTimeout) {
		err = fmt.Errorf("timed out after %s; its process group was killed", limit)
	}
	if err != nil {
		r.fail(rep, what, req.RequestID, err)
		return
	}
	out, err := DecodeReply(res.Reply)
	if err != nil {
		r.fail(rep, what, req.RequestID, fmt.Errorf("%w%s", err, excerpt(res.Stderr)))
		return
	}
	for k, v := range out.Data {
		rep.Data[k] = v
	}
	if out.StatusCode != message.OK {
		rep.Fail(out.StatusCode, out.StatusMsg)
	} else if out.StatusMsg != "" {
		rep.Message = out.StatusMsg
	}
}

func (r *runner) fail(rep *agent.Reply, what, requestID string, err error) {
	msg := fmt.Sprintf("%s failed: %v", what, err)
	r.log.Error("external agent failed", "action", what, "requestid", requestID, "err", err)
	rep.Fail(message.Aborted, msg)
}

// logOutput logs what the process printed: stdout at info, stderr at warn, a line each.
func (r *runner) logOutput(name, action string, res extproc.Result) {
	for _, out := range []struct {
		b     []byte
		level slog.Level
	}{{res.Stdout, slog.LevelInfo}, {res.Stderr, slog.LevelWarn}} {
		for line := range strings.Lines(string(out.b)) {
			if line = strings.TrimRight(line, "\r\n"); line != "" {
				r.log.Log(context.Background(), out.level, "external agent output", "agent", name, "action", action, "line", line)
			}
		}
	}
}
