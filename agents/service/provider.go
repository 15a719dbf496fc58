package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// The two states a provider reports, as service-agent's providers report them.
const (
	Running = "running"
	Stopped = "stopped"
)

// Provider is one way of managing the node's services. Status answers Running or Stopped;
// a service the backend does not know is Stopped, as Puppet's service providers (the Ruby
// agent's default) report it. Start, Stop and Restart do the change and return an error
// when the backend refused it; the agent reads the state afterwards with Status.
type Provider interface {
	Name() string
	Status(ctx context.Context, service string) (string, error)
	Start(ctx context.Context, service string) error
	Stop(ctx context.Context, service string) error
	Restart(ctx context.Context, service string) error
}

// Runner runs one OS command with its argv, never through a shell. exit is the command's
// exit status; err is set only when the command could not be run or was cut short (not
// found, ctx ended), not for a non-zero exit. It is the seam where a test or simulator
// replaces the OS.
type Runner func(ctx context.Context, name string, args ...string) (stdout, stderr []byte, exit int, err error)

// ExecRun is the Runner of production: os/exec, killed when ctx ends. An init script that
// leaves a daemon holding its output open is waited on for at most two more seconds.
func ExecRun(ctx context.Context, name string, args ...string) (stdout, stderr []byte, exit int, err error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 2 * time.Second
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil && ee.Exited() {
		return out.Bytes(), errb.Bytes(), ee.ExitCode(), nil
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		// The command finished; only a child kept its output open.
		return out.Bytes(), errb.Bytes(), cmd.ProcessState.ExitCode(), nil
	}
	if err != nil {
		return out.Bytes(), errb.Bytes(), -1, fmt.Errorf("run %s: %w", name, err)
	}
	return out.Bytes(), errb.Bytes(), 0, nil
}

// run runs argv and turns a failure to run or a non-zero exit into an error quoting the
// command and what it printed, in the words of Puppet's "Execution of '...' returned N".
func run(ctx context.Context, r Runner, argv ...string) error {
	stdout, stderr, exit, err := r(ctx, argv[0], argv[1:]...)
	if err != nil {
		return fmt.Errorf("execution of '%s' failed: %w", strings.Join(argv, " "), err)
	}
	if exit != 0 {
		out := strings.TrimSpace(strings.TrimSpace(string(stdout)) + " " + strings.TrimSpace(string(stderr)))
		return fmt.Errorf("execution of '%s' returned %d: %s", strings.Join(argv, " "), exit, out)
	}
	return nil
}
