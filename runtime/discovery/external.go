package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/extproc"
	"github.com/mcorun/mcorun/runtime/filter"
	"github.com/mcorun/mcorun/runtime/message"
)

// Choria's external discovery protocol.
const (
	ExternalRequestProtocol = "io.choria.choria.discovery.v1.external_request"
	ExternalReplyProtocol   = "io.choria.choria.discovery.v1.external_reply"
	ExternalRequestSchema   = "https://choria.io/schemas/choria/discovery/v1/external_request.json"
)

// maxExternalReply bounds the reply file of an external command, and maxExternalStderr the
// end of its stderr an error message shows.
const (
	maxExternalReply  = 64 << 20
	maxExternalStderr = 400
)

// ExternalRequest is the request file an external discovery command reads.
type ExternalRequest struct {
	Schema      string            `json:"$schema"`
	Protocol    string            `json:"protocol"`
	Collective  string            `json:"collective"`
	Filter      ExternalFilter    `json:"filter"`
	Federations []string          `json:"federations"`
	Options     map[string]string `json:"options"`
	Timeout     float64           `json:"timeout"`
}

// ExternalFilter is the filter in Choria's JSON shape. Each compound expression is one
// {"expr": "..."} entry holding the -S expression as mco writes it.
type ExternalFilter struct {
	Fact     []ExternalFact        `json:"fact"`
	CFClass  []string              `json:"cf_class"`
	Agent    []string              `json:"agent"`
	Identity []string              `json:"identity"`
	Compound [][]map[string]string `json:"compound"`
}

// ExternalFact is one fact filter.
type ExternalFact struct {
	Fact     string `json:"fact"`
	Operator string `json:"operator"`
	Value    string `json:"value"`
}

// ExternalReply is what the command writes to the reply file.
type ExternalReply struct {
	Protocol string   `json:"protocol"`
	Nodes    []string `json:"nodes"`
	Error    string   `json:"error"`
}

// NewExternalFilter renders f in Choria's JSON shape.
func NewExternalFilter(f message.Filter) ExternalFilter {
	out := ExternalFilter{Fact: []ExternalFact{}, CFClass: nonNilStrings(f.CFClass), Agent: nonNilStrings(f.Agent),
		Identity: nonNilStrings(f.Identity), Compound: [][]map[string]string{}}
	for _, ff := range f.Fact {
		out.Fact = append(out.Fact, ExternalFact{Fact: ff.Fact, Operator: ff.Operator, Value: ff.Value})
	}
	for _, expr := range f.Compound {
		out.Compound = append(out.Compound, []map[string]string{{"expr": filter.CompoundString(expr)}})
	}
	return out
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// external runs a command speaking Choria's external discovery protocol (--dm external
// [--do command=CMD]). The request file's path is argv[1] and $CHORIA_EXTERNAL_REQUEST, the
// reply file's argv[2] and $CHORIA_EXTERNAL_REPLY, the protocol argv[3] and
// $CHORIA_EXTERNAL_PROTOCOL. The command gets the discovery timeout (at least 1 s); then its
// whole process group is killed.
type external struct{ command string }

func (x external) Discover(ctx context.Context, r Request) ([]string, error) {
	opts := make(map[string]string, len(r.Options))
	command := x.command
	for k, v := range r.Options {
		if k == "command" {
			command = v
			continue
		}
		opts[k] = v
	}
	if strings.TrimSpace(command) == "" {
		return nil, sourceErr(External, fmt.Errorf("no command: pass --do command=CMD or set plugin.%s", KeyExternalCommand))
	}
	args := strings.Fields(command)
	if strings.Contains(args[0], "/") && !filepath.IsAbs(args[0]) {
		// the command runs in a private directory: a relative path is the caller's
		if abs, err := filepath.Abs(args[0]); err == nil {
			args[0] = abs
		}
	}
	timeout := max(r.timeout(), time.Second)
	req := ExternalRequest{Schema: ExternalRequestSchema, Protocol: ExternalRequestProtocol, Collective: r.Collective,
		Filter: NewExternalFilter(r.Filter), Federations: []string{}, Options: opts, Timeout: timeout.Seconds()}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := extproc.Run(ctx, extproc.Call{Argv: args, Protocol: ExternalRequestProtocol, Request: req,
		MaxReply: maxExternalReply, WaitDelay: time.Second})
	name := filepath.Base(args[0])
	var exit *exec.ExitError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return nil, sourceErr(External, fmt.Errorf("%s did not finish within %s and was killed; make it faster or raise --discovery-timeout", name, timeout))
	case errors.As(err, &exit):
		msg := fmt.Sprintf("%s failed: %s", name, exit)
		if s := extproc.Excerpt(res.Stderr, maxExternalStderr); s != "" {
			msg += "; stderr: " + s
		}
		return nil, sourceErr(External, errors.New(msg))
	case err != nil:
		return nil, sourceErr(External, fmt.Errorf("%s failed: %w", name, err))
	}
	out := res.Reply
	var rep ExternalReply
	if err := json.Unmarshal(out, &rep); err != nil {
		return nil, sourceErr(External, fmt.Errorf("%s: the reply is not JSON: %w", name, err))
	}
	if rep.Error != "" {
		return nil, sourceErr(External, fmt.Errorf("%s: %s", name, rep.Error))
	}
	if rep.Protocol != ExternalReplyProtocol {
		return nil, sourceErr(External, fmt.Errorf("%s: reply protocol %q: want %q", name, rep.Protocol, ExternalReplyProtocol))
	}
	for i, n := range rep.Nodes {
		if err := checkIdentity(n); err != nil {
			return nil, sourceErr(External, fmt.Errorf("%s: node %d: %w", name, i+1, err))
		}
	}
	return rep.Nodes, nil
}
