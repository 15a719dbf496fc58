// Package shell is the shell agent of mcod, compatible with choria-plugins/shell-agent 1.1:
// run a command to completion (run), or in the background (start) and then follow it
// (status), list the background jobs (list) and kill one (kill), with the same inputs,
// outputs and DDL.
//
// A request's command is a shell command by the agent's contract: it runs as
// `/bin/sh -c COMMAND`, an argv, in the working directory Options.Dir. Where the Ruby agent is
// loose, this one is strict:
//
//   - run's timeout (the timeout input, else Options.Timeout, always bounded by the
//     request's context and so by the DDL timeout) kills the command's whole process group,
//     and the reply fails saying it timed out, with the output so far.
//   - run's stdout and stderr are each kept to Options.MaxOutput bytes, followed by a
//     marker saying how much was dropped; the pipes are drained to their end, so memory
//     stays bounded however much the command writes.
//   - the user input is honoured when mcod runs as root (setuid and setgid with the user's
//     groups, HOME, USER and LOGNAME set) and refused otherwise, unless it names mcod's own
//     user; an unknown user is refused. Nothing runs when a user is refused.
//   - background jobs live on disk under Options.StatePath, one directory per job (see
//     jobs.go), run by a shell supervisor detached from mcod, so they outlive it and a new
//     agent over the same StatePath follows, lists and kills the old jobs.
//
// mcod serves the agent only when plugin.shell.enabled is true; ConfigKeys lists the keys.
package shell

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/ddl"
)

// DefaultMaxOutput is the default cap on each of run's stdout and stderr, and on the output
// one status reply returns: 1 MiB.
const DefaultMaxOutput = 1 << 20

// DefaultStatePath is where background jobs live when mcod gives no state path, as the Ruby
// agent's default.
const DefaultStatePath = "/var/run/mcollective-shell"

// ConfigKeys are the server.cfg keys of the agent (each under "plugin."), with what they
// mean. mcod reads plugin.shell.enabled itself; OptionsFromConfig reads the others.
func ConfigKeys() map[string]string {
	return map[string]string{
		"plugin.shell.enabled":    "serve the shell agent (boolean, default false): it runs any command it is sent",
		"plugin.shell.state_path": "the directory of background jobs, one subdirectory per job (default " + DefaultStatePath + ", mcod gives a directory under its state dir)",
		"plugin.shell.max_output": "the bytes of stdout and of stderr a reply carries at most (default 1048576)",
		"plugin.shell.timeout":    "seconds a run may take when the request gives no timeout (default 0: only the DDL timeout of 180 s)",
		"plugin.shell.directory":  "the working directory of commands (default /)",
	}
}

// Options configure the agent.
type Options struct {
	// StatePath is the directory of background jobs (plugin.shell.state_path).
	StatePath string
	// MaxOutput caps each of run's stdout and stderr, and each output of one status reply,
	// in bytes (plugin.shell.max_output); 0 is DefaultMaxOutput.
	MaxOutput int
	// Timeout bounds a run whose request gives no timeout (plugin.shell.timeout); 0 leaves
	// only the request's own deadline.
	Timeout time.Duration
	// Dir is the commands' working directory (plugin.shell.directory); "" is "/".
	Dir string
	// Env is the commands' environment; nil is mcod's.
	Env []string
	// KillGrace is how long kill waits for a job to end after SIGTERM before it sends SIGKILL
	// to the job's group; 0 is 5 seconds.
	KillGrace time.Duration

	// OS runs the processes; nil is RealOS{}.
	OS OS
	// Clock times the waits; nil is clock.Real{}.
	Clock clock.Clock
	// LookupUser resolves the user input; nil is LookupUser.
	LookupUser func(name string) (Identity, error)
	// IsRoot reports whether mcod may switch users; nil checks the effective uid is 0.
	IsRoot func() bool
	// NewHandle makes a job's handle; nil is a random version 4 UUID.
	NewHandle func() (string, error)
}

// OptionsFromConfig reads the plugin.shell.* keys of cfg, over the defaults.
func OptionsFromConfig(cfg *config.Config) (Options, error) {
	o := Options{
		StatePath: cfg.PluginString("shell.state_path", DefaultStatePath),
		Dir:       cfg.PluginString("shell.directory", "/"),
	}
	var err, e error
	o.MaxOutput, e = cfg.PluginInt("shell.max_output", DefaultMaxOutput)
	err = errors.Join(err, e)
	secs, e := cfg.PluginFloat("shell.timeout", 0)
	err = errors.Join(err, e)
	if err != nil {
		return Options{}, fmt.Errorf("shell options: %w", err)
	}
	if o.MaxOutput <= 0 {
		return Options{}, fmt.Errorf("shell options: plugin.shell.max_output is %d: set a positive number of bytes", o.MaxOutput)
	}
	if secs < 0 || secs > 1e9 {
		return Options{}, fmt.Errorf("shell options: plugin.shell.timeout is %v: set a non-negative number of seconds", secs)
	}
	o.Timeout = time.Duration(secs * float64(time.Second))
	return o, nil
}

// Shell is a configured shell agent.
type Shell struct {
	opts Options
	jobs *jobStore
}

// New checks opts, makes the state directory and returns the shell agent.
func New(opts Options) (*agent.Agent, error) {
	s, err := newShell(opts)
	if err != nil {
		return nil, err
	}
	return s.agent()
}

func newShell(opts Options) (*Shell, error) {
	if opts.StatePath == "" {
		return nil, errors.New("shell: no state path: set plugin.shell.state_path")
	}
	if opts.MaxOutput < 0 {
		return nil, fmt.Errorf("shell: max output %d: set a positive number of bytes", opts.MaxOutput)
	}
	if opts.MaxOutput == 0 {
		opts.MaxOutput = DefaultMaxOutput
	}
	if opts.Dir == "" {
		opts.Dir = "/"
	}
	if opts.KillGrace == 0 {
		opts.KillGrace = 5 * time.Second
	}
	if opts.OS == nil {
		opts.OS = RealOS{}
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.LookupUser == nil {
		opts.LookupUser = LookupUser
	}
	if opts.IsRoot == nil {
		opts.IsRoot = func() bool { return os.Geteuid() == 0 }
	}
	if opts.NewHandle == nil {
		opts.NewHandle = newUUID
	}
	// 0711: users a job runs as reach their job's files through descriptors, not paths, and
	// nobody lists the handles.
	if err := os.MkdirAll(opts.StatePath, 0o711); err != nil {
		return nil, fmt.Errorf("shell: make the state path: %w (check plugin.shell.state_path)", err)
	}
	s := &Shell{opts: opts}
	s.jobs = &jobStore{dir: opts.StatePath, os: opts.OS}
	return s, nil
}

func (s *Shell) agent() (*agent.Agent, error) {
	d, err := ddl.Builtin("shell")
	if err != nil {
		return nil, fmt.Errorf("shell: %w", err)
	}
	return &agent.Agent{DDL: d, Actions: map[string]agent.Action{
		"run":    s.run,
		"start":  s.start,
		"status": s.status,
		"list":   s.list,
		"kill":   s.kill,
	}}, nil
}

// shellArgv is how a request's command runs: as a shell command, an argument of sh -c.
func shellArgv(command string) []string { return []string{"/bin/sh", "-c", command} }

// runTimeout is the timeout of one run: the request's when it gives a positive one, else
// the configured default (0 is none beyond ctx).
func (s *Shell) runTimeout(in any) (time.Duration, error) {
	f, ok := in.(float64)
	if !ok {
		return s.opts.Timeout, nil
	}
	if f < 0 || f > 1e9 {
		return 0, fmt.Errorf("timeout %v: give a positive number of seconds, or none", f)
	}
	if f == 0 {
		return s.opts.Timeout, nil
	}
	return time.Duration(f * float64(time.Second)), nil
}

// ctxTimeout bounds ctx by d when d is positive.
func (s *Shell) ctxTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return s.opts.Clock.WithTimeout(ctx, d)
}
