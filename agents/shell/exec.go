package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Cmd is one process for the OS seam to run: an argv, never a shell string built from a
// request (the one shell command of a request is an argument of /bin/sh -c).
type Cmd struct {
	Argv []string
	Dir  string
	Env  []string // nil inherits mcod's environment
	// Cred, when set, runs the process as that user (uid, gid and supplementary groups).
	Cred *syscall.Credential
	// Stdout and Stderr receive the output; nil discards it. An *os.File is handed to the
	// process as it is, with no pipe through mcod.
	Stdout, Stderr io.Writer
	// ExtraFiles become the process's descriptors 3, 4, ...
	ExtraFiles []*os.File
	// Detach starts the process in a session of its own (setsid), so it outlives mcod and
	// never gets mcod's terminal signals. Otherwise it gets a process group of its own.
	// Either way its pid is its process group id.
	Detach bool
}

// Exit is how a process ended.
type Exit struct {
	Pid    int // also its process group id
	Code   int // the exit code, or 128+signal when a signal ended it, as sh's $? reports
	Signal int // the signal that ended it, 0 when it exited
	// Killed is true when ctx ended first and the process group was killed.
	Killed bool
}

// OS is the seam to the operating system: every process the agent starts and every signal
// it sends goes through it, so a simulator can replace the operating system below the
// agent.
type OS interface {
	// Run runs c to completion. When ctx ends first it kills c's whole process group
	// with SIGKILL and returns the Exit with Killed set. The error is for a process that
	// could not be started.
	Run(ctx context.Context, c Cmd) (Exit, error)
	// Signal sends sig to every process of the process group pgid. Signal 0 only checks
	// that the group has a process; syscall.ESRCH means it has none.
	Signal(pgid int, sig syscall.Signal) error
}

// RealOS is the operating system, through os/exec.
type RealOS struct {
	// WaitDelay bounds the wait for output after the process ended or was killed, when a
	// process that left its group still holds the pipes; 0 is 2 seconds.
	WaitDelay time.Duration
}

var _ OS = RealOS{}

// Run implements OS.
func (r RealOS) Run(ctx context.Context, c Cmd) (Exit, error) {
	if len(c.Argv) == 0 {
		return Exit{}, errors.New("run: empty argv")
	}
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Dir, cmd.Env = c.Dir, c.Env
	cmd.Stdout, cmd.Stderr = c.Stdout, c.Stderr
	cmd.ExtraFiles = c.ExtraFiles
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: !c.Detach, Setsid: c.Detach, Credential: c.Cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = r.WaitDelay
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 2 * time.Second
	}
	if err := cmd.Start(); err != nil {
		return Exit{}, fmt.Errorf("start %s: %w", c.Argv[0], err)
	}
	err := cmd.Wait()
	ex := Exit{Pid: cmd.Process.Pid, Killed: ctx.Err() != nil}
	st := cmd.ProcessState
	if st == nil {
		return ex, fmt.Errorf("wait for %s: %w", c.Argv[0], err)
	}
	ws, _ := st.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		ex.Signal = int(ws.Signal())
		ex.Code = 128 + ex.Signal
	default:
		ex.Code = st.ExitCode()
	}
	return ex, nil
}

// Signal implements OS.
func (RealOS) Signal(pgid int, sig syscall.Signal) error {
	if pgid <= 1 {
		return fmt.Errorf("signal process group %d: refusing a group id this low", pgid)
	}
	return syscall.Kill(-pgid, sig)
}
