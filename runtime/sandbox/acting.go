package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/mcorun/mcorun/agents"
	"github.com/mcorun/mcorun/agents/nettest"
	pkgagent "github.com/mcorun/mcorun/agents/package"
	"github.com/mcorun/mcorun/agents/service"
	"github.com/mcorun/mcorun/agents/shell"
	"github.com/mcorun/mcorun/runtime/clock"
)

// ServiceSpec is one service of a template's services block, simulated on its nodes by the
// service agent's sim provider. Nodes are chosen by their number {n}, as in PuppetSpec.
//
//	services:
//	  nginx:
//	    state: running          # running (the default) or stopped
//	    stopped: [3]            # node numbers where it is stopped instead
//	    fail_start: [5]         # node numbers where start and restart fail
//	    fail_message: "nginx: [emerg] bind() to 0.0.0.0:80 failed"
//	    restart_time: 2s        # how long a restart takes (default none)
type ServiceSpec struct {
	State       string `yaml:"state"`
	Stopped     []int  `yaml:"stopped"`
	FailStart   []int  `yaml:"fail_start"`
	FailMessage string `yaml:"fail_message"`
	RestartTime string `yaml:"restart_time"`
}

// PackageSpec is one package of a template's packages block, simulated on its nodes by the
// package agent's sim provider.
//
//	packages:
//	  nginx:
//	    version: 1.22.1-1       # the installed version; empty: not installed
//	    available: [1.24.0-1]   # versions the repositories offer besides it, oldest first
//	    absent: [4]             # node numbers where it is not installed
//	    outdated: [2]           # node numbers where it is installed but not upgradable
//	    fail: [6]               # node numbers where every change of it fails
//	    fail_message: "E: Unable to fetch some archives"
type PackageSpec struct {
	Version     string   `yaml:"version"`
	Available   []string `yaml:"available"`
	Absent      []int    `yaml:"absent"`
	Fail        []int    `yaml:"fail"`
	FailMessage string   `yaml:"fail_message"`
}

func (s ServiceSpec) check(name string) error {
	switch s.State {
	case "", service.Running, service.Stopped:
	default:
		return fmt.Errorf("services.%s.state %q: want running or stopped", name, s.State)
	}
	if s.RestartTime != "" {
		if d, err := time.ParseDuration(s.RestartTime); err != nil || d < 0 {
			return fmt.Errorf("services.%s.restart_time %q: want a duration such as 2s", name, s.RestartTime)
		}
	}
	return checkNumbers("services."+name, map[string][]int{"stopped": s.Stopped, "fail_start": s.FailStart})
}

func (p PackageSpec) check(name string) error {
	if p.Version == "" && len(p.Available) == 0 {
		return fmt.Errorf("packages.%s: give a version or available versions", name)
	}
	return checkNumbers("packages."+name, map[string][]int{"absent": p.Absent, "fail": p.Fail})
}

func checkNumbers(prefix string, lists map[string][]int) error {
	for _, name := range slices.Sorted(maps.Keys(lists)) {
		for _, n := range lists[name] {
			if n < 1 {
				return fmt.Errorf("%s.%s: node numbers start at 1, got %d", prefix, name, n)
			}
		}
	}
	return nil
}

// checkActing validates a template's services and packages blocks.
func (t Template) checkActing() error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(t.Services)) {
		errs = append(errs, t.Services[name].check(name))
	}
	for _, name := range slices.Sorted(maps.Keys(t.Packages)) {
		errs = append(errs, t.Packages[name].check(name))
	}
	return errors.Join(errs...)
}

// simServices are the simulated services of the template's node number num, by name.
func (t Template) simServices(num int) []service.SimService {
	var out []service.SimService
	for _, name := range slices.Sorted(maps.Keys(t.Services)) {
		s := t.Services[name]
		state := s.State
		if state == "" {
			state = service.Running
		}
		if slices.Contains(s.Stopped, num) {
			state = service.Stopped
		}
		d, _ := time.ParseDuration(s.RestartTime) // checked when parsed
		out = append(out, service.SimService{Name: name, State: state, RestartTime: d,
			FailStart: slices.Contains(s.FailStart, num), FailMessage: s.FailMessage})
	}
	return out
}

// simPackages are the simulated packages of the template's node number num.
func (t Template) simPackages(num int) pkgagent.SimConfig {
	cfg := pkgagent.SimConfig{Packages: map[string]pkgagent.SimPackage{}}
	for name, p := range t.Packages {
		sp := pkgagent.SimPackage{Available: slices.Clone(p.Available)}
		if p.Version != "" {
			sp.Installed = p.Version
			if !slices.Contains(sp.Available, p.Version) {
				sp.Available = append([]string{p.Version}, sp.Available...)
			}
		}
		if slices.Contains(p.Absent, num) {
			sp.Installed = ""
		}
		if slices.Contains(p.Fail, num) {
			sp.Fail = p.FailMessage
			if sp.Fail == "" {
				sp.Fail = "simulated failure of " + name
			}
		}
		cfg.Packages[name] = sp
	}
	return cfg
}

// Acting are the settings of the node's acting agents, as the sandbox and the test fleet
// serve them: service and package over their sim providers with the node's simulated
// services and packages, the real nettest, and, unless the fleet file turns it off, the
// real shell agent, whose commands run on this machine in the node's Dir, with its
// jobs under the node's Dir too (shell/). The node's Dir must be set.
func (n Node) Acting(c clock.Clock, log *slog.Logger) agents.Acting {
	a := agents.Acting{
		Service: service.Options{Provider: "sim", Sim: n.Services, Clock: c, Logger: log},
		Package: pkgagent.Options{Provider: "sim", Sim: n.Packages, Clock: c, Logger: log},
		Nettest: nettest.Options{Clock: c},
	}
	if n.Shell {
		a.Shell = &shell.Options{StatePath: filepath.Join(n.Dir, "shell"), Dir: n.Dir, Clock: c}
	}
	return a
}
