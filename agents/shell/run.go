package shell

import (
	"context"
	"fmt"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/message"
)

// run runs the command to completion under its timeout and replies its capped output, its
// exit code and whether it succeeded. A run the timeout ended fails, saying so, with the
// output it wrote until then.
func (s *Shell) run(ctx context.Context, req *agent.Request, rep *agent.Reply) {
	command, _ := req.Data["command"].(string)
	timeout, err := s.runTimeout(req.Data["timeout"])
	if err != nil {
		rep.Fail(message.InvalidData, err.Error())
		return
	}
	user, _ := req.Data["user"].(string)
	id, err := s.identity(user)
	if err != nil {
		rep.Fail(message.Aborted, err.Error())
		return
	}
	rctx, cancel := s.ctxTimeout(ctx, timeout)
	defer cancel()
	stdout, stderr := newCappedBuffer(s.opts.MaxOutput), newCappedBuffer(s.opts.MaxOutput)
	ex, err := s.opts.OS.Run(rctx, Cmd{
		Argv: shellArgv(command), Dir: s.opts.Dir, Env: s.env(id), Cred: id.Cred,
		Stdout: stdout, Stderr: stderr,
	})
	if err != nil {
		rep.Fail(message.Aborted, fmt.Sprintf("could not run the command: %v", err))
		return
	}
	rep.Data["stdout"] = stdout.String()
	rep.Data["stderr"] = stderr.String()
	rep.Data["exitcode"] = int64(ex.Code)
	rep.Data["success"] = ex.Code == 0 && !ex.Killed
	if !ex.Killed {
		return
	}
	if ctx.Err() != nil {
		rep.Fail(message.Aborted, "the command did not finish within the agent's timeout: its process group was killed")
		return
	}
	rep.Fail(message.Aborted, fmt.Sprintf("the command timed out after %s: its process group was killed", timeout))
}
