package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// sysv manages services with their LSB init scripts: /etc/init.d/NAME ACTION, or
// SERVICECMD NAME ACTION when a service command (such as /usr/sbin/service) is configured.
// status exit 0 is running; any other (LSB 3 stopped, 4 unknown, 1 dead with a pidfile) is
// stopped, as Puppet's init provider and service-agent's service provider read it. A
// missing init script is a stopped service.
type sysv struct {
	serviceCmd string // "" runs the init script itself
	initDir    string
	run        Runner
}

func (s *sysv) Name() string { return "sysv" }

func (s *sysv) argv(name, action string) []string {
	if s.serviceCmd != "" {
		return []string{s.serviceCmd, name, action}
	}
	return []string{filepath.Join(s.initDir, name), action}
}

func (s *sysv) Status(ctx context.Context, name string) (string, error) {
	argv := s.argv(name, "status")
	_, _, exit, err := s.run(ctx, argv[0], argv[1:]...)
	if errors.Is(err, fs.ErrNotExist) {
		return Stopped, nil
	}
	if err != nil {
		return "", fmt.Errorf("execution of '%s' failed: %w", strings.Join(argv, " "), err)
	}
	if exit == 0 {
		return Running, nil
	}
	return Stopped, nil
}

func (s *sysv) do(ctx context.Context, name, action string) error {
	err := run(ctx, s.run, s.argv(name, action)...)
	if errors.Is(err, fs.ErrNotExist) {
		// Puppet's init provider's words, which the Ruby agent replies with
		return rubyError{msg: fmt.Sprintf("Could not find init script for '%s'", name),
			err: fmt.Errorf("%s has no init script in %s: check the service name: %w", name, s.initDir, err)}
	}
	return err
}

func (s *sysv) Start(ctx context.Context, name string) error   { return s.do(ctx, name, "start") }
func (s *sysv) Stop(ctx context.Context, name string) error    { return s.do(ctx, name, "stop") }
func (s *sysv) Restart(ctx context.Context, name string) error { return s.do(ctx, name, "restart") }
