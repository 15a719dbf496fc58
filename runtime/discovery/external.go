package discovery

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

	"github.com/mcorun/mcorun/runtime/filter"
	"github.com/mcorun/mcorun/runtime/message"
)

// Choria's external discovery protocol.
const (
	ExternalRequestProtocol = "io.choria.choria.discovery.v1.external_request"
	ExternalReplyProtocol   = "io.choria.choria.discovery.v1.external_reply"
	ExternalRequestSchema   = "https://choria.io/schemas/choria/discovery/v1/external_request.json"
)

// maxExternalReply bounds the reply file and the stderr kept from an external command.
const (
	maxExternalReply  = 64 << 20
	maxExternalStderr = 4 << 10
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
	body, err := json.Marshal(req)
	if err != nil {
		return nil, sourceErr(External, err)
	}
	dir, err := os.MkdirTemp("", "mcorun-discovery-")
	if err != nil {
		return nil, sourceErr(External, err)
	}
	defer os.RemoveAll(dir)
	reqFile, repFile := filepath.Join(dir, "request.json"), filepath.Join(dir, "reply.json")
	if err := os.WriteFile(reqFile, body, 0o600); err != nil {
		return nil, sourceErr(External, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], append(args[1:], reqFile, repFile, ExternalRequestProtocol)...) //nolint:gosec // the user's own discovery command
	cmd.Dir = dir
	cmd.Env = []string{
		"CHORIA_EXTERNAL_REQUEST=" + reqFile,
		"CHORIA_EXTERNAL_REPLY=" + repFile,
		"CHORIA_EXTERNAL_PROTOCOL=" + ExternalRequestProtocol,
		"PATH=" + os.Getenv("PATH"),
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var stderr tailBuffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	name := filepath.Base(args[0])
	err = cmd.Run()
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, sourceErr(External, fmt.Errorf("%s did not finish within %s and was killed; make it faster or raise --discovery-timeout", name, timeout))
	case err != nil:
		return nil, sourceErr(External, fmt.Errorf("%s failed: %w%s", name, err, stderr.excerpt()))
	}
	out, err := readBounded(repFile, maxExternalReply)
	if err != nil {
		return nil, sourceErr(External, fmt.Errorf("%s wrote no reply file: %w", name, err))
	}
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

// readBounded reads at most limit bytes of a file, refusing a larger one.
func readBounded(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, limit)
	}
	return b, nil
}

// tailBuffer keeps the last maxExternalStderr bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > maxExternalStderr {
		t.b = t.b[len(t.b)-maxExternalStderr:]
	}
	return len(p), nil
}

// excerpt is the stderr's last lines for an error message, "" when there was none.
func (t *tailBuffer) excerpt() string {
	s := strings.TrimSpace(string(bytes.ToValidUTF8(t.b, []byte("?"))))
	if s == "" {
		return ""
	}
	if lines := strings.Split(s, "\n"); len(lines) > 5 {
		s = strings.Join(lines[len(lines)-5:], "\n")
	}
	return "; stderr: " + s
}
