// Package service is the service agent of mcod, compatible with service-agent 4.x: status,
// start, stop and restart of one OS service, with the same inputs, outputs, status codes and
// messages, plus the service data plugin for compound filters (service('nginx').status=running).
// The agent answers as the Ruby agent does with its default (puppet) provider, whatever
// backend manages the services here: systemd, SysV init scripts, or a simulation.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

// Settle is how long the agent waits after a change before it reads the service's state for
// the reply, as the Ruby agent's puppet provider sleeps half a second.
const Settle = 500 * time.Millisecond

// Options configure the agent. OptionsFromConfig reads them from plugin.service.* keys.
type Options struct {
	// Provider is the backend (plugin.service.provider): "systemd", "sysv", "sim", or ""
	// to detect the native one (systemd when SystemdDir exists, else sysv). "puppet", the Ruby
	// agent's default that a migrated configuration names, also means the native one;
	// "service", the Ruby agent's other provider, means sysv.
	Provider string
	// Sim are the services of the sim provider.
	Sim []SimService
	// Clock waits the settle time and the sim's restarts; nil is clock.Real{}.
	Clock clock.Clock
	// Logger; nil discards.
	Logger *slog.Logger
	// Run runs the OS commands of the systemd and sysv providers; nil is ExecRun.
	Run Runner
	// Systemctl is the systemctl command; "" is "systemctl".
	Systemctl string
	// ServiceCmd, when set, makes the sysv provider run SERVICECMD NAME ACTION instead of
	// the init script (plugin.service.sysv.servicecmd, or the Ruby agent's
	// plugin.service.service.servicecmd).
	ServiceCmd string
	// InitDir holds the init scripts; "" is /etc/init.d.
	InitDir string
	// SystemdDir exists when systemd runs the node; "" is /run/systemd/system.
	SystemdDir string
}

// OptionsFromConfig reads plugin.service.provider and the service command of the sysv
// provider from cfg.
func OptionsFromConfig(cfg *config.Config) Options {
	return Options{
		Provider:   cfg.PluginString("service.provider", ""),
		ServiceCmd: cfg.PluginString("service.sysv.servicecmd", cfg.PluginString("service.service.servicecmd", "")),
	}
}

// NewProvider returns the backend opts name, detecting the native one when asked to. An
// unknown name is an error.
func NewProvider(opts Options) (Provider, error) {
	opts = withDefaults(opts)
	name := strings.ToLower(strings.TrimSpace(opts.Provider))
	switch name {
	case "", "auto", "puppet":
		native := "sysv"
		if fi, err := os.Stat(opts.SystemdDir); err == nil && fi.IsDir() {
			native = "systemd"
		}
		if name == "puppet" {
			opts.Logger.Info("plugin.service.provider = puppet: managing services with the native provider instead", "provider", native)
		} else {
			opts.Logger.Debug("service provider detected", "provider", native)
		}
		name = native
	case "service":
		name = "sysv"
	}
	switch name {
	case "systemd":
		return &systemd{cmd: opts.Systemctl, run: opts.Run}, nil
	case "sysv":
		return &sysv{serviceCmd: opts.ServiceCmd, initDir: opts.InitDir, run: opts.Run}, nil
	case "sim":
		return newSim(opts.Clock, opts.Sim)
	}
	return nil, fmt.Errorf("unknown service provider %q: set plugin.service.provider to systemd, sysv, sim or puppet", opts.Provider)
}

func withDefaults(opts Options) Options {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Run == nil {
		opts.Run = ExecRun
	}
	if opts.Systemctl == "" {
		opts.Systemctl = "systemctl"
	}
	if opts.InitDir == "" {
		opts.InitDir = "/etc/init.d"
	}
	if opts.SystemdDir == "" {
		opts.SystemdDir = "/run/systemd/system"
	}
	return opts
}

// New returns the service agent and the service data plugin over one backend, so that a
// filter sees what the agent changed.
func New(opts Options) (*agent.Agent, *agent.DataPlugin, error) {
	opts = withDefaults(opts)
	p, err := NewProvider(opts)
	if err != nil {
		return nil, nil, err
	}
	d, err := ddl.Builtin("service")
	if err != nil {
		return nil, nil, fmt.Errorf("service agent: %w", err)
	}
	dd, err := ddl.BuiltinData("service")
	if err != nil {
		return nil, nil, fmt.Errorf("service data plugin: %w", err)
	}
	s := &svc{p: p, clock: opts.Clock, log: opts.Logger}
	a := &agent.Agent{DDL: d, Actions: map[string]agent.Action{
		"status":  s.status,
		"start":   s.start,
		"stop":    s.stop,
		"restart": s.restart,
	}}
	return a, &agent.DataPlugin{DDL: dd, Query: s.query}, nil
}

// svc runs the actions over one provider.
type svc struct {
	p     Provider
	clock clock.Clock
	log   *slog.Logger
}

// fail answers a backend error as MCollective answers an exception raised by an action:
// UnknownError with its message, the status left at its default. An error that carries the
// Ruby agent's own message for the case (rubyError) gives that message as it is.
func fail(rep *agent.Reply, verb, name string, err error) {
	var re rubyError
	if errors.As(err, &re) {
		rep.Fail(message.UnknownError, re.msg)
		return
	}
	rep.Fail(message.UnknownError, fmt.Sprintf("Could not %s Service[%s]: %v", verb, name, err))
}

// rubyError is a backend error whose reply message is the one the Ruby agent gives for the
// same case, word for word (its provider's exception), so that scripts matching on it keep
// working.
type rubyError struct {
	msg string
	err error
}

func (e rubyError) Error() string { return e.msg + ": " + e.err.Error() }
func (e rubyError) Unwrap() error { return e.err }

func (s *svc) status(ctx context.Context, req *agent.Request, rep *agent.Reply) {
	name, _ := req.Data["service"].(string)
	st, err := s.p.Status(ctx, name)
	if err != nil {
		fail(rep, "get the status of", name, err)
		return
	}
	rep.Data["status"] = st
}

// settled waits Settle, then reads the state for the reply.
func (s *svc) settled(ctx context.Context, rep *agent.Reply, name string) {
	if err := clock.Sleep(ctx, s.clock, Settle); err != nil {
		fail(rep, "get the status of", name, err)
		return
	}
	s.status(ctx, &agent.Request{Data: map[string]any{"service": name}}, rep)
}

// change starts or stops name unless it already is in the state the change leads to, which
// fails the request with the Ruby agent's message ("Could not start 'x': Service is already
// running").
func (s *svc) change(ctx context.Context, req *agent.Request, rep *agent.Reply, verb, already string, do func(context.Context, string) error) {
	name, _ := req.Data["service"].(string)
	st, err := s.p.Status(ctx, name)
	if err != nil {
		fail(rep, "get the status of", name, err)
		return
	}
	if st == already {
		rep.Data["status"] = st
		rep.Fail(message.Aborted, fmt.Sprintf("Could not %s '%s': Service is already %s", verb, name, already))
		return
	}
	if err := do(ctx, name); err != nil {
		s.log.Warn("service action failed", "action", verb, "service", name, "provider", s.p.Name(), "error", err)
		fail(rep, verb, name, err)
		return
	}
	s.settled(ctx, rep, name)
}

func (s *svc) start(ctx context.Context, req *agent.Request, rep *agent.Reply) {
	s.change(ctx, req, rep, "start", Running, s.p.Start)
}

func (s *svc) stop(ctx context.Context, req *agent.Request, rep *agent.Reply) {
	s.change(ctx, req, rep, "stop", Stopped, s.p.Stop)
}

func (s *svc) restart(ctx context.Context, req *agent.Request, rep *agent.Reply) {
	name, _ := req.Data["service"].(string)
	if err := s.p.Restart(ctx, name); err != nil {
		s.log.Warn("service action failed", "action", "restart", "service", name, "provider", s.p.Name(), "error", err)
		fail(rep, "restart", name, err)
		return
	}
	s.settled(ctx, rep, name)
}

// query answers service('NAME').status. A backend error leaves status unset, as the Ruby
// plugin logs it and answers nothing.
func (s *svc) query(ctx context.Context, q any) (map[string]any, error) {
	name, _ := q.(string)
	st, err := s.p.Status(ctx, name)
	if err != nil {
		s.log.Warn("could not get the status of a service", "service", name, "error", err)
		return map[string]any{}, nil
	}
	return map[string]any{"status": st}, nil
}
