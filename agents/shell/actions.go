package shell

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"syscall"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

// start starts the command as a background job and replies its handle.
func (s *Shell) start(ctx context.Context, req *agent.Request, rep *agent.Reply) {
	command, _ := req.Data["command"].(string)
	user, _ := req.Data["user"].(string)
	id, err := s.identity(user)
	if err != nil {
		rep.Fail(message.Aborted, err.Error())
		return
	}
	handle, err := s.opts.NewHandle()
	if err != nil {
		rep.Fail(message.Aborted, err.Error())
		return
	}
	j, files, err := s.jobs.create(handle, command, user, s.opts.Clock.Now())
	if err != nil {
		rep.Fail(message.Aborted, fmt.Sprintf("could not start the command: %v (check plugin.shell.state_path)", err))
		return
	}
	ex, err := s.opts.OS.Run(ctx, Cmd{
		Argv: launcherArgv(command), Dir: s.opts.Dir, Env: s.env(id), Cred: id.Cred,
		Stdout: files[0], Stderr: files[1], ExtraFiles: files[2:], Detach: true,
	})
	for _, f := range files {
		f.Close()
	}
	if err == nil && ex.Code != 0 {
		err = fmt.Errorf("the launcher shell exited %d", ex.Code)
	}
	if err == nil {
		err = writeFile(j.path("pgid"), strconv.Itoa(ex.Pid)+"\n")
	}
	if err != nil {
		_ = writeFile(j.path("error"), err.Error()+"\n")
		rep.Fail(message.Aborted, fmt.Sprintf("could not start the command: %v", err))
		return
	}
	rep.Data["handle"] = handle
}

// status replies a job's status, its output from the given offsets on (at most MaxOutput
// bytes of each: a client reading on from offset+len gets the rest), and its exit code once
// it stopped.
func (s *Shell) status(_ context.Context, req *agent.Request, rep *agent.Reply) {
	handle, _ := req.Data["handle"].(string)
	outOff, err := offset(req.Data["stdout_offset"])
	if err == nil {
		var errOff int64
		if errOff, err = offset(req.Data["stderr_offset"]); err == nil {
			s.statusFrom(handle, outOff, errOff, rep)
			return
		}
	}
	rep.Fail(message.InvalidData, err.Error())
}

func (s *Shell) statusFrom(handle string, outOff, errOff int64, rep *agent.Reply) {
	j, err := s.jobs.load(handle)
	if err != nil {
		failNoJob(rep, err)
		return
	}
	st := s.jobs.status(j)
	rep.Data["status"] = marshal.Symbol(st)
	for name, off := range map[string]int64{"stdout": outOff, "stderr": errOff} {
		out, err := readFrom(j.path(name), off, s.opts.MaxOutput)
		if err != nil {
			rep.Fail(message.Aborted, err.Error())
			return
		}
		rep.Data[name] = out
	}
	if st == statusStopped && j.exited {
		rep.Data["exitcode"] = int64(j.exit)
	}
}

// offset reads an optional output offset input.
func offset(v any) (int64, error) {
	var n int64
	switch x := v.(type) {
	case nil:
		return 0, nil
	case int64:
		n = x
	case int:
		n = int64(x)
	case *big.Int:
		return 0, fmt.Errorf("offset %s is too large: give an offset within the output", x)
	default:
		return 0, fmt.Errorf("offset %v is not an integer", v)
	}
	if n < 0 {
		return 0, fmt.Errorf("offset %d is negative: give 0 or more", n)
	}
	return n, nil
}

// failNoJob fails a reply for a handle that could not be read.
func failNoJob(rep *agent.Reply, err error) {
	if errors.Is(err, errNoJob) {
		rep.Fail(message.Aborted, err.Error()+": the list action shows the jobs")
		return
	}
	rep.Fail(message.Aborted, err.Error())
}

// list replies every job by handle: its id, command, status and, once stopped, the signal
// that ended it (0 for none), as the Ruby agent's hash of symbols.
func (s *Shell) list(_ context.Context, _ *agent.Request, rep *agent.Reply) {
	jobs, err := s.jobs.list()
	if err != nil {
		rep.Fail(message.Aborted, err.Error())
		return
	}
	out := make(map[string]any, len(jobs))
	for _, j := range jobs {
		st := s.jobs.status(j)
		var sig any
		if j.exited {
			sig = int64(j.signal())
		}
		out[j.handle] = map[marshal.Symbol]any{
			"id":      j.handle,
			"command": j.command,
			"status":  marshal.Symbol(st),
			"signal":  sig,
		}
	}
	rep.Data["jobs"] = out
}

// killPoll is how often kill looks whether the job ended.
const killPoll = 50 * time.Millisecond

// kill ends a job: SIGTERM to its whole process group, then SIGKILL when it has not ended
// within KillGrace. A job that already stopped is left as it is.
func (s *Shell) kill(ctx context.Context, req *agent.Request, rep *agent.Reply) {
	handle, _ := req.Data["handle"].(string)
	j, err := s.jobs.load(handle)
	if err != nil {
		failNoJob(rep, err)
		return
	}
	switch s.jobs.status(j) {
	case statusStopped, statusFailed:
		return
	case statusStarting:
		rep.Fail(message.Aborted, fmt.Sprintf("job %s is still starting: kill it again in a moment", handle))
		return
	}
	if err := s.endJob(ctx, j); err != nil {
		rep.Fail(message.Aborted, fmt.Sprintf("could not kill job %s: %v", handle, err))
	}
}

// endJob signals j's group and waits for it to end, recording an exit status when the
// supervisor could not.
func (s *Shell) endJob(ctx context.Context, j *job) error {
	c := s.opts.Clock
	for _, step := range []struct {
		sig   syscall.Signal
		grace time.Duration
	}{{syscall.SIGTERM, s.opts.KillGrace}, {syscall.SIGKILL, time.Second}} {
		if err := s.opts.OS.Signal(j.pgid, step.sig); errors.Is(err, syscall.ESRCH) {
			return j.recordExit(128 + int(step.sig))
		} else if err != nil {
			return err
		}
		until := c.Now().Add(step.grace)
		for c.Now().Before(until) {
			if err := clock.Sleep(ctx, c, killPoll); err != nil {
				return fmt.Errorf("the job was sent %s but had not ended when the request ended: %w", step.sig, err)
			}
			if j.readExit(); j.exited {
				return nil
			}
			if err := s.opts.OS.Signal(j.pgid, 0); errors.Is(err, syscall.ESRCH) {
				return j.recordExit(128 + int(step.sig))
			}
		}
	}
	// Killed, its supervisor too; members that stay are zombies nobody reaped yet.
	return j.recordExit(128 + int(syscall.SIGKILL))
}
