package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/message"

	"github.com/mcorun/mcorun/runtime/plural"
)

// defaultTailPoll is the time between the status polls of shell run --tail and watch.
const defaultTailPoll = 500 * time.Millisecond

// killTimeout bounds the kill sent to a job after an interruption, when the verb's own
// context is already cancelled.
const killTimeout = 10 * time.Second

// handleRE is what the shell agent's DDL accepts as a job handle.
var handleRE = regexp.MustCompile(`^[0-9a-z-]+$`)

// prefixWriter prints whole lines of a stream, each prefixed, and keeps a partial last line
// until the rest of it comes (mco shell's PrefixStreamBuf).
type prefixWriter struct {
	w      io.Writer
	prefix string
	buf    string
}

func (p *prefixWriter) write(data string) {
	p.buf += data
	for {
		i := strings.IndexByte(p.buf, '\n')
		if i < 0 {
			return
		}
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		p.buf = p.buf[i+1:]
	}
}

func (p *prefixWriter) flush() {
	if p.buf != "" {
		p.write("\n")
	}
}

// jobWatch follows one node's job by its output offsets.
type jobWatch struct {
	Node     string `json:"sender"`
	Handle   string `json:"handle"`
	Status   string `json:"status"`             // the job's last status: running, stopped
	ExitCode *int64 `json:"exitcode,omitempty"` // once stopped
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	Error    string `json:"error,omitempty"` // why the job could not be followed
	Killed   bool   `json:"killed,omitempty"`

	out, err prefixWriter
	done     bool
}

func newJobWatch(w io.Writer, node, handle string) *jobWatch {
	return &jobWatch{Node: node, Handle: handle,
		out: prefixWriter{w: w, prefix: node + " stdout: "}, err: prefixWriter{w: w, prefix: node + " stderr: "}}
}

// take records a status reply: the new output, printed, and the status.
func (j *jobWatch) take(data map[string]any, print bool) {
	out, errOut := rubyString(data["stdout"]), rubyString(data["stderr"])
	if data["stdout"] == nil {
		out = ""
	}
	if data["stderr"] == nil {
		errOut = ""
	}
	j.Stdout += out
	j.Stderr += errOut
	if print {
		j.out.write(out)
		j.err.write(errOut)
	}
	j.Status = rubyString(data["status"])
	if j.Status == "stopped" {
		code := exitCode(data["exitcode"])
		j.ExitCode = &code
	}
}

func (j *jobWatch) finish(print bool) {
	j.done = true
	if print {
		j.out.flush()
		j.err.flush()
	}
}

// failed reports whether the job counts as a failed node: it could not be followed, was
// killed, or exited non-zero.
func (j *jobWatch) failed() bool {
	return j.Error != "" || j.Killed || j.ExitCode == nil || *j.ExitCode != 0
}

// tailDoc is the --json document of shell run --tail and watch.
type tailDoc struct {
	Action  string      `json:"action"`
	Command string      `json:"command,omitempty"`
	Jobs    []*jobWatch `json:"jobs"`
	OK      []string    `json:"ok"`
	Failed  []string    `json:"failed"`
	Missing []string    `json:"missing"`
}

// tail is shell run --tail: start the command, then follow every started job until it
// ends; an interruption kills the jobs still running.
func (sc *shellCall) tail(ctx context.Context, command string) int {
	cr, code, done := discoverAndCall(ctx, sc.s, sc.fl, "shell", "start", map[string]any{"command": command}, false)
	if done {
		return code
	}
	doc := tailDoc{Action: "run", Command: command, Failed: []string{}, Missing: nonNil(cr.res.Missing)}
	for _, r := range cr.replies {
		if r.Code != message.OK {
			doc.Failed = append(doc.Failed, r.Sender)
			if !sc.s.flags.json {
				fmt.Fprintf(sc.s.e.stdout, "%s: ERROR: %s\n", r.Sender, r.Message)
			}
			continue
		}
		doc.Jobs = append(doc.Jobs, newJobWatch(sc.s.e.stdout, r.Sender, rubyString(r.Data["handle"])))
	}
	interrupted := sc.follow(ctx, doc.Jobs, true)
	return sc.endFollow(doc, cr.discovered, interrupted)
}

// watch follows the jobs with the given handles on the nodes that have them.
func (sc *shellCall) watch(ctx context.Context, handles []string) int {
	cr, code, done := discoverAndCall(ctx, sc.s, sc.fl, "shell", "list", nil, false)
	if done {
		return code
	}
	doc := tailDoc{Action: "watch", Failed: []string{}, Missing: nonNil(cr.res.Missing)}
	for _, r := range cr.replies {
		for h := range jobsOf(r) {
			if r.Code == message.OK && contains(handles, h) {
				doc.Jobs = append(doc.Jobs, newJobWatch(sc.s.e.stdout, r.Sender, h))
			}
		}
	}
	if len(doc.Jobs) == 0 {
		fmt.Fprintf(sc.s.e.stderr, "mcorun shell: no matching node has a job %s; 'mcorun shell list' shows the jobs\n", strings.Join(handles, " or "))
		return exitFailure
	}
	interrupted := sc.follow(ctx, doc.Jobs, false)
	return sc.endFollow(doc, len(doc.Jobs)+len(doc.Failed)+len(doc.Missing), interrupted)
}

// endFollow prints the --json document or the closing line of a followed run, and returns
// the exit code.
func (sc *shellCall) endFollow(doc tailDoc, targets int, interrupted bool) int {
	e := sc.s.e
	for _, j := range doc.Jobs {
		if j.failed() {
			doc.Failed = append(doc.Failed, j.Node)
		} else {
			doc.OK = append(doc.OK, j.Node)
		}
	}
	doc.OK, doc.Failed = nonNil(doc.OK), nonNil(doc.Failed)
	sortStrings(doc.Failed)
	if doc.Jobs == nil {
		doc.Jobs = []*jobWatch{}
	}
	if sc.s.flags.json {
		if err := writeJSON(e.stdout, doc); err != nil {
			return sc.s.fail(err)
		}
	} else {
		for _, j := range doc.Jobs {
			if j.Error != "" {
				fmt.Fprintf(e.stdout, "%s: ERROR: %s\n", j.Node, j.Error)
			} else if j.ExitCode != nil && *j.ExitCode != 0 {
				fmt.Fprintf(e.stdout, "%s: exitcode: %d\n", j.Node, *j.ExitCode)
			}
		}
		fmt.Fprintf(e.stdout, "\nFinished following %s: %d ok, %d failed\n", plural.Count(len(doc.Jobs), "job", "jobs"), len(doc.OK), len(doc.Failed))
		if len(doc.Missing) > 0 {
			fmt.Fprintf(e.stdout, "\n%s\n\n%s", sc.s.color.red("No response from:"), columns(doc.Missing))
		}
	}
	if interrupted {
		return exitInterrupted
	}
	return exitForCounts(targets, len(doc.Failed), len(doc.Missing))
}

// follow polls the status of every job with its offsets, printing the new output unless
// --json, until each job stopped or could not be followed. When ctx is cancelled it stops
// polling, sends kill to the jobs still running if kill is set, and reports interrupted.
func (sc *shellCall) follow(ctx context.Context, jobs []*jobWatch, kill bool) (interrupted bool) {
	e, print := sc.s.e, !sc.s.flags.json
	poll := e.tailPoll
	if poll <= 0 {
		poll = defaultTailPoll
	}
	clk := e.clockOrReal()
	for {
		running := 0
		for _, j := range jobs {
			if j.done || ctx.Err() != nil {
				continue
			}
			sc.poll(ctx, j, print)
			if !j.done {
				running++
			}
		}
		if ctx.Err() == nil && running == 0 {
			return false
		}
		if ctx.Err() != nil || clock.Sleep(ctx, clk, poll) != nil {
			break
		}
	}
	for _, j := range jobs {
		if j.done {
			continue
		}
		if kill {
			sc.kill(ctx, clk, j)
		}
		j.finish(print)
	}
	return true
}

// poll asks one job's status from its offsets on.
func (sc *shellCall) poll(ctx context.Context, j *jobWatch, print bool) {
	args := map[string]any{"handle": j.Handle, "stdout_offset": int64(len(j.Stdout)), "stderr_offset": int64(len(j.Stderr))}
	r, err := sc.callOne(ctx, "status", j.Node, args, time.Duration(sc.s.flags.timeout))
	switch {
	case ctx.Err() != nil:
		return
	case err != nil:
		j.Error = err.Error()
	case r == nil:
		j.Error = "no reply to the status request"
	case r.Code != message.OK:
		j.Error = r.Message
	default:
		j.take(r.Data, print)
		if j.Status != "stopped" {
			return
		}
	}
	j.finish(print)
}

// kill sends kill to a job after an interruption, on a context of its own.
func (sc *shellCall) kill(ctx context.Context, clk clock.Clock, j *jobWatch) {
	e := sc.s.e
	fmt.Fprintf(e.stderr, "Sending kill to %s %s\n", j.Node, j.Handle)
	kctx, cancel := clk.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	r, err := sc.callOne(kctx, "kill", j.Node, map[string]any{"handle": j.Handle}, killTimeout)
	switch {
	case err != nil:
		j.Error = fmt.Sprintf("kill: %v", err)
	case r == nil:
		j.Error = "kill: no reply"
	case r.Code != message.OK:
		j.Error = "kill: " + r.Message
	default:
		j.Killed = true
	}
	if j.Error != "" {
		fmt.Fprintf(e.stderr, "mcorun shell: %s %s: %s; 'mcorun shell kill %s -I %s' tries again\n", j.Node, j.Handle, j.Error, j.Handle, j.Node)
	}
}

// callOne calls action on one node directly; r is nil when the node did not reply.
func (sc *shellCall) callOne(ctx context.Context, action, node string, args map[string]any, timeout time.Duration) (*client.Result, error) {
	c := sc.s.flags
	res, err := sc.fl.Call(ctx, "shell", action, args, client.CallOptions{
		Filter: sc.s.filter, Nodes: []string{node}, Timeout: timeout, Collective: c.collective,
	})
	if err != nil {
		return nil, err
	}
	for _, rs := range [][]client.Result{res.OK, res.Failed} {
		for i := range rs {
			if rs[i].Sender == node {
				return &rs[i], nil
			}
		}
	}
	return nil, nil
}

// onOwners runs status or kill of a job on the nodes that have it: a list first finds them,
// so that the other nodes are not asked (they would fail).
func (sc *shellCall) onOwners(ctx context.Context, action, handle string) int {
	s, e := sc.s, sc.s.e
	list, code, done := discoverAndCall(ctx, s, sc.fl, "shell", "list", nil, false)
	if done {
		return code
	}
	var owners []string
	for _, r := range list.replies {
		if _, ok := jobsOf(r)[handle]; ok && r.Code == message.OK {
			owners = append(owners, r.Sender)
		}
	}
	if len(owners) == 0 {
		fmt.Fprintf(e.stderr, "mcorun shell: no matching node has a job %s; 'mcorun shell list' shows the jobs\n", handle)
		return exitFailure
	}
	start := time.Now()
	res, err := sc.fl.Call(ctx, "shell", action, map[string]any{"handle": handle}, s.flags.callOptions(s.filter, owners, true))
	if err != nil {
		return s.fail(fmt.Errorf("shell#%s: %w", action, err))
	}
	cr := callResult{res: res, nodes: owners, discovery: list.discovery, agentTime: time.Since(start), discovered: len(owners)}
	cr.replies = append(append([]client.Result(nil), res.OK...), res.Failed...)
	sortResults(cr.replies)
	if !s.flags.json {
		if action == "status" {
			fmt.Fprint(e.stdout, shellStatusText(cr.replies))
		} else {
			fmt.Fprint(e.stdout, senderLines(s.color, cr.replies, func(client.Result) (string, bool) { return "killed", true }))
		}
	}
	return finishCall(s, "shell", action, sc.act, cr)
}

// shellStatusText prints each node's job status, then its output so far as run does.
func shellStatusText(replies []client.Result) string {
	var b strings.Builder
	for _, r := range replies {
		if r.Code == message.OK {
			fmt.Fprintf(&b, "%s: %s\n", r.Sender, rubyString(r.Data["status"]))
			r.Sender = "" // the run layout below, without its header
		}
		text := shellRunText([]client.Result{r})
		b.WriteString(strings.TrimPrefix(text, ":\n"))
	}
	return b.String()
}
