package pkgagent

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mcorun/mcorun/runtime/clock"
)

// SimConfig is one simulated node's packages, for the sandbox and the test fleet.
type SimConfig struct {
	// Manager is the package manager simulated, "apt" (the default) or "yum"; it is also
	// the provider output.
	Manager string `json:"manager,omitempty"`
	// Packages by name.
	Packages map[string]SimPackage `json:"packages,omitempty"`
	// Delay is how long each change (install, update, removal, refresh) takes, on the clock.
	Delay time.Duration `json:"delay,omitempty"`
}

// SimPackage is one simulated package.
type SimPackage struct {
	// Installed is the installed version; "" is not installed.
	Installed string `json:"installed,omitempty"`
	// Available are the versions the repositories offer, oldest first; the last is the
	// one install and update choose.
	Available []string `json:"available,omitempty"`
	// Arch is the architecture, "amd64" (apt) or "x86_64" (yum) when empty.
	Arch string `json:"arch,omitempty"`
	// Fail, when set, makes every change of this package fail with this output.
	Fail string `json:"fail,omitempty"`
	// ConfigLeft marks a package that is not installed but whose configuration is left: its
	// ensure is absent rather than purged.
	ConfigLeft bool `json:"config_left,omitempty"`
}

// sim is the simulated provider: state changes persist in memory for the provider's life.
type sim struct {
	clock   clock.Clock
	manager string
	delay   time.Duration

	mu   sync.Mutex
	pkgs map[string]SimPackage
}

// NewSim returns a simulated provider over a copy of cfg, waiting on c.
func NewSim(cfg SimConfig, c clock.Clock) (Provider, error) {
	m := cfg.Manager
	if m == "" {
		m = "apt"
	}
	if m != "apt" && m != "yum" {
		return nil, fmt.Errorf("simulated package manager %q: use apt or yum", cfg.Manager)
	}
	if c == nil {
		c = clock.Real{}
	}
	pkgs := make(map[string]SimPackage, len(cfg.Packages))
	for n, p := range cfg.Packages {
		p.Available = append([]string(nil), p.Available...)
		pkgs[n] = p
	}
	return &sim{clock: c, manager: m, delay: cfg.Delay, pkgs: pkgs}, nil
}

func (s *sim) Name() string    { return s.manager }
func (s *sim) Manager() string { return s.manager }

func (s *sim) arch(p SimPackage) string {
	switch {
	case p.Arch != "":
		return p.Arch
	case s.manager == "yum":
		return "x86_64"
	}
	return "amd64"
}

func (s *sim) status(name string, p SimPackage, ok bool) Status {
	st := Status{Name: name, Provider: s.manager}
	switch {
	case ok && p.Installed != "":
		st.Ensure = p.Installed
		st.Epoch, st.Version, st.Release = splitVersion(p.Installed)
		st.Arch = s.arch(p)
	case ok && p.ConfigLeft, s.manager == "yum":
		st.Ensure = Absent
	default:
		st.Ensure = Purged
	}
	return st
}

func (s *sim) Status(_ context.Context, name string) (Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pkgs[name]
	return s.status(name, p, ok), nil
}

// change waits the configured delay, then applies f to the package under the lock.
func (s *sim) change(ctx context.Context, name string, f func(p *SimPackage) (string, error)) (string, error) {
	if err := clock.Sleep(ctx, s.clock, s.delay); err != nil {
		return "", fmt.Errorf("simulated change of %s: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pkgs[name]
	if !ok {
		return "", fmt.Errorf("E: Unable to locate package %s", name)
	}
	if p.Fail != "" {
		return p.Fail, errors.New(p.Fail)
	}
	out, err := f(&p)
	if err == nil {
		s.pkgs[name] = p
	}
	return out, err
}

func latest(p *SimPackage) string {
	if len(p.Available) == 0 {
		return ""
	}
	return p.Available[len(p.Available)-1]
}

func (s *sim) Install(ctx context.Context, name, version string) (string, error) {
	return s.change(ctx, name, func(p *SimPackage) (string, error) {
		want := latest(p)
		if version != "" {
			want = ""
			for _, v := range p.Available {
				if v == version {
					want = v
				}
			}
			if want == "" {
				return "", fmt.Errorf("E: Version '%s' for '%s' was not found", version, name)
			}
		}
		if want == "" {
			return "", fmt.Errorf("E: Package '%s' has no installation candidate", name)
		}
		p.Installed, p.ConfigLeft = want, false
		return fmt.Sprintf("Setting up %s (%s) ...\n", name, want), nil
	})
}

func (s *sim) Update(ctx context.Context, name string) (string, error) {
	return s.change(ctx, name, func(p *SimPackage) (string, error) {
		if want := latest(p); want != "" && want != p.Installed {
			p.Installed = want
			return fmt.Sprintf("Setting up %s (%s) ...\n", name, want), nil
		}
		return fmt.Sprintf("%s is already the newest version (%s).\n", name, p.Installed), nil
	})
}

func (s *sim) Uninstall(ctx context.Context, name string) (string, error) {
	return s.change(ctx, name, func(p *SimPackage) (string, error) {
		p.Installed, p.ConfigLeft = "", s.manager == "apt"
		return fmt.Sprintf("Removing %s ...\n", name), nil
	})
}

func (s *sim) Purge(ctx context.Context, name string) (string, error) {
	return s.change(ctx, name, func(p *SimPackage) (string, error) {
		p.Installed, p.ConfigLeft = "", false
		return fmt.Sprintf("Purging configuration files for %s ...\n", name), nil
	})
}

// Search matches pattern as a shell glob against the package names.
func (s *sim) Search(_ context.Context, pattern string) ([]Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []Status
	for _, name := range s.names() {
		if ok, _ := path.Match(pattern, name); !ok {
			continue
		}
		p := s.pkgs[name]
		for _, v := range p.Available {
			e, ver, r := splitVersion(v)
			list = append(list, Status{Name: name, Ensure: v, Epoch: e, Version: ver, Release: r, Arch: s.arch(p), Provider: s.manager})
		}
	}
	return list, nil
}

func (s *sim) names() []string {
	names := make([]string, 0, len(s.pkgs))
	for n := range s.pkgs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Inventory counts the installed packages and digests "name version" lines.
func (s *sim) Inventory(context.Context) (Inventory, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []string
	for _, n := range s.names() {
		if v := s.pkgs[n].Installed; v != "" {
			lines = append(lines, n+" "+v)
		}
	}
	sum := md5.Sum([]byte(strings.Join(lines, "\n")))
	return Inventory{Count: len(lines), MD5: hex.EncodeToString(sum[:])}, nil
}

func (s *sim) CheckUpdates(context.Context) (Updates, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var u Updates
	for _, n := range s.names() {
		p := s.pkgs[n]
		if want := latest(&p); p.Installed != "" && want != "" && want != p.Installed {
			u.Outdated = append(u.Outdated, Update{Package: n, Version: want, Repo: "sim"})
			u.Output += fmt.Sprintf("Inst %s [%s] (%s sim [%s])\n", n, p.Installed, want, s.arch(p))
		}
	}
	if s.manager == "yum" && len(u.Outdated) > 0 {
		u.ExitCode = 100
	}
	return u, nil
}

func (s *sim) Refresh(ctx context.Context) (Updates, error) {
	if err := clock.Sleep(ctx, s.clock, s.delay); err != nil {
		return Updates{}, fmt.Errorf("simulated refresh: %w", err)
	}
	return s.CheckUpdates(ctx)
}

func (s *sim) Clean(ctx context.Context, mode string) (Result, error) {
	if s.manager != "yum" {
		return Result{}, errNoYum
	}
	if !validCleanMode(mode) {
		return Result{}, fmt.Errorf("Unsupported yum clean mode: %s", mode)
	}
	if err := clock.Sleep(ctx, s.clock, s.delay); err != nil {
		return Result{}, fmt.Errorf("simulated yum clean: %w", err)
	}
	return Result{Output: "Cleaning repos: sim\n"}, nil
}
