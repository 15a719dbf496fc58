package service

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
)

// systemd manages services with systemctl. It reads a unit's state with
// `systemctl show -p ActiveState,SubState,LoadState,UnitFileState NAME` (KEY=VALUE lines) and
// reports it as Puppet's systemd provider does through `systemctl is-active`: running when
// ActiveState is active or reloading, stopped otherwise. A unit that does not exist
// (LoadState=not-found) is stopped, as the Ruby agent answers for an unknown service.
type systemd struct {
	cmd string // systemctl
	run Runner
}

func (s *systemd) Name() string { return "systemd" }

// unitState is what systemctl show says of a unit.
type unitState struct {
	Active, Sub, Load, UnitFile string
}

// parseShow reads the KEY=VALUE lines of systemctl show. Keys it was not asked for are
// ignored; ActiveState and LoadState must be there.
func parseShow(out []byte) (unitState, error) {
	var u unitState
	var seenActive, seenLoad bool
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		switch k {
		case "ActiveState":
			u.Active, seenActive = v, true
		case "SubState":
			u.Sub = v
		case "LoadState":
			u.Load, seenLoad = v, true
		case "UnitFileState":
			u.UnitFile = v
		}
	}
	if !seenActive || !seenLoad {
		return u, fmt.Errorf("systemctl show printed no ActiveState or LoadState (%q): is systemd running this node?", strings.TrimSpace(string(out)))
	}
	return u, nil
}

// state maps a unit's state to running or stopped.
func (u unitState) state() string {
	if u.Load != "not-found" && (u.Active == "active" || u.Active == "reloading") {
		return Running
	}
	return Stopped
}

func (s *systemd) Status(ctx context.Context, name string) (string, error) {
	argv := []string{s.cmd, "show", "-p", "ActiveState,SubState,LoadState,UnitFileState", name}
	stdout, stderr, exit, err := s.run(ctx, argv[0], argv[1:]...)
	if err != nil {
		return "", fmt.Errorf("execution of '%s' failed: %w", strings.Join(argv, " "), err)
	}
	if exit != 0 {
		return "", fmt.Errorf("execution of '%s' returned %d: %s", strings.Join(argv, " "), exit, strings.TrimSpace(string(stderr)))
	}
	u, err := parseShow(stdout)
	if err != nil {
		return "", err
	}
	return u.state(), nil
}

func (s *systemd) Start(ctx context.Context, name string) error {
	return run(ctx, s.run, s.cmd, "start", name)
}

func (s *systemd) Stop(ctx context.Context, name string) error {
	return run(ctx, s.run, s.cmd, "stop", name)
}

func (s *systemd) Restart(ctx context.Context, name string) error {
	return run(ctx, s.run, s.cmd, "restart", name)
}
