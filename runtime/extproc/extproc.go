// Package extproc runs a program the way Choria's external protocols do, for external agents
// (agents/external) and external discovery (runtime/discovery): the request is a JSON file
// whose path follows the command's own arguments, then the reply file's path and the
// protocol, each also in an environment variable; the environment holds nothing else but
// PATH and what the caller adds; the program leads its own process group, which is killed
// whole when the context ends; the reply is read up to a bound, and only the last bytes of
// stdout and stderr are kept.
package extproc

import (
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
)

// The environment variables that name the request, the reply and the protocol.
const (
	EnvRequest  = "CHORIA_EXTERNAL_REQUEST"
	EnvReply    = "CHORIA_EXTERNAL_REPLY"
	EnvProtocol = "CHORIA_EXTERNAL_PROTOCOL"
)

// File is one more file written beside the request, its path given to the program in the
// environment variable Env.
type File struct {
	Env  string
	Name string
	Body []byte
}

// Call is one run of a program.
type Call struct {
	Argv     []string // the command and its own arguments
	Protocol string
	Request  any // encoded as JSON into the request file
	Files    []File
	Env      []string // more KEY=VALUE entries
	// Dir is the working directory; "" runs the program in the private directory that holds
	// the request.
	Dir      string
	MaxReply int64
	// WaitDelay bounds the wait, after the program ended, for a child of it that still holds
	// its stdout or stderr open.
	WaitDelay time.Duration
}

// Result is what a run left: the reply file's bytes and the ends of stdout and stderr.
type Result struct {
	Reply          []byte
	Stdout, Stderr []byte
}

// ErrTimeout is a run whose context ended before it did: its process group was killed. The
// error Run returns wraps it and the context's error.
var ErrTimeout = errors.New("its process group was killed")

// ErrNoReply is a run that ended without writing its reply file.
var ErrNoReply = errors.New("no reply file")

// Run runs c. A program that exits non-zero gives an error naming it and its exit status
// (an *exec.ExitError in the chain); the Result still holds what it wrote.
func Run(ctx context.Context, c Call) (Result, error) {
	var res Result
	if len(c.Argv) == 0 || c.Argv[0] == "" {
		return res, errors.New("no command to run")
	}
	name := filepath.Base(c.Argv[0])
	dir, err := os.MkdirTemp("", "mcorun-extproc-")
	if err != nil {
		return res, fmt.Errorf("cannot create the request directory: %w", err)
	}
	defer os.RemoveAll(dir)
	reqPath, repPath := filepath.Join(dir, "request.json"), filepath.Join(dir, "reply.json")
	req, err := json.Marshal(c.Request)
	if err != nil {
		return res, fmt.Errorf("cannot encode the request: %w", err)
	}
	if err := os.WriteFile(reqPath, req, 0o600); err != nil {
		return res, err
	}
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	env := []string{"PATH=" + path, EnvRequest + "=" + reqPath, EnvReply + "=" + repPath, EnvProtocol + "=" + c.Protocol}
	for _, f := range c.Files {
		p := filepath.Join(dir, f.Name)
		if err := os.WriteFile(p, f.Body, 0o600); err != nil {
			return res, err
		}
		env = append(env, f.Env+"="+p)
	}
	args := append(append([]string{}, c.Argv[1:]...), reqPath, repPath, c.Protocol)
	cmd := exec.CommandContext(ctx, c.Argv[0], args...) //nolint:gosec // the operator's own program
	cmd.Dir = c.Dir
	if cmd.Dir == "" {
		cmd.Dir = dir
	}
	cmd.Env = append(env, c.Env...)
	var stdout, stderr Tail
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The negative pid is the process group: the program and everything it started.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = c.WaitDelay
	err = cmd.Run()
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	if ctx.Err() != nil {
		return res, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return res, fmt.Errorf("%s %w", name, exit)
		}
		if !errors.Is(err, exec.ErrWaitDelay) {
			return res, fmt.Errorf("cannot run %s: %w", c.Argv[0], err)
		}
	}
	f, err := os.Open(repPath)
	if errors.Is(err, os.ErrNotExist) {
		return res, fmt.Errorf("%s wrote %w", name, ErrNoReply)
	}
	if err != nil {
		return res, fmt.Errorf("cannot read the reply: %w", err)
	}
	defer f.Close()
	res.Reply, err = io.ReadAll(io.LimitReader(f, c.MaxReply+1))
	if err != nil {
		return res, fmt.Errorf("cannot read the reply: %w", err)
	}
	if int64(len(res.Reply)) > c.MaxReply {
		st, _ := f.Stat()
		return res, fmt.Errorf("%s wrote a reply of %d bytes, over the limit of %d", name, st.Size(), c.MaxReply)
	}
	return res, nil
}

// Excerpt is the last max bytes of out on one line, valid UTF-8, for an error message; ""
// when out is blank.
func Excerpt(out []byte, max int) string {
	s := strings.Join(strings.Fields(string(out)), " ")
	if len(s) > max {
		s = "..." + strings.ToValidUTF8(s[len(s)-max:], "")
	}
	return s
}

// MaxTail is how much of stdout and of stderr a run keeps: their last bytes.
const MaxTail = 16 << 10

// Tail keeps the last MaxTail bytes written to it.
type Tail struct{ b []byte }

func (t *Tail) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= MaxTail {
		t.b = append(t.b[:0], p[len(p)-MaxTail:]...)
		return n, nil
	}
	if over := len(t.b) + len(p) - MaxTail; over > 0 {
		t.b = t.b[:copy(t.b, t.b[over:])]
	}
	t.b = append(t.b, p...)
	return n, nil
}

// Bytes is what the Tail kept.
func (t *Tail) Bytes() []byte { return t.b }
