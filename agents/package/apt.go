package pkgagent

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// apt manages packages with dpkg-query, apt-get and apt-cache.
type apt struct{ run Runner }

// NewApt returns the apt provider running its commands through r.
func NewApt(r Runner) Provider { return &apt{run: r} }

func (*apt) Name() string    { return "apt" }
func (*apt) Manager() string { return "apt" }

// dpkgFormat is the dpkg-query line of one package: status, version, architecture, name.
const dpkgFormat = "${Status}\t${Version}\t${Architecture}\t${Package}\n"

func aptStatusCmd(name string) Cmd {
	return Cmd{Name: "dpkg-query", Args: []string{"-W", "-f=" + dpkgFormat, "--", name}}
}

// aptGet is apt-get run non-interactively, keeping changed configuration files as Puppet's
// apt provider does.
func aptGet(args ...string) Cmd {
	return Cmd{Name: "apt-get", Args: append([]string{"-q", "-y", "-o", "DPkg::Options::=--force-confold"}, args...),
		Env: []string{"DEBIAN_FRONTEND=noninteractive"}}
}

func (a *apt) Status(ctx context.Context, name string) (Status, error) {
	out, errb, exit, err := a.run(ctx, aptStatusCmd(name))
	if err != nil {
		return Status{}, fmt.Errorf("query dpkg for %s: %w", name, err)
	}
	if exit != 0 {
		if strings.Contains(string(errb), "no packages found") {
			return Status{Name: name, Ensure: Purged, Provider: "apt"}, nil
		}
		return Status{}, &ExecError{Cmd: aptStatusCmd(name), Exit: exit, Output: string(out) + string(errb)}
	}
	return parseDpkgStatus(name, string(out)), nil
}

// parseDpkgStatus reads dpkg-query lines in dpkgFormat. With several architectures of one
// package the first installed one answers. A package dpkg knows but has not installed is
// purged when nothing of it is left and absent when its configuration files are.
func parseDpkgStatus(name, out string) Status {
	st := Status{Name: name, Ensure: Purged, Provider: "apt"}
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 4 {
			continue
		}
		words := strings.Fields(f[0]) // want, error flag, status: "install ok installed"
		state := ""
		var dpkg DpkgState
		if len(words) == 3 {
			state = words[2]
			// apt's mark is "hold" when dpkg's want is hold, else none: dpkg-query
			// knows no other mark without apt's database.
			mark := "none"
			if words[0] == "hold" {
				mark = "hold"
			}
			dpkg = DpkgState{Desired: words[0], Error: words[1], Status: state, Mark: mark}
		}
		switch state {
		case "installed", "triggers-awaited", "triggers-pending":
			e, v, r := splitVersion(f[1])
			return Status{Name: name, Ensure: f[1], Epoch: e, Version: v, Release: r, Arch: f[2], Provider: "apt", Dpkg: dpkg}
		case "config-files", "half-installed", "unpacked", "half-configured":
			st.Ensure, st.Dpkg = Absent, dpkg
		}
	}
	return st
}

func (a *apt) Install(ctx context.Context, name, version string) (string, error) {
	if version != "" {
		return run(ctx, a.run, aptGet("--allow-downgrades", "install", "--", name+"="+version))
	}
	return run(ctx, a.run, aptGet("install", "--", name))
}

// Update installs the candidate version, as Puppet's ensure => latest does.
func (a *apt) Update(ctx context.Context, name string) (string, error) {
	return run(ctx, a.run, aptGet("install", "--only-upgrade", "--", name))
}

func (a *apt) Uninstall(ctx context.Context, name string) (string, error) {
	return run(ctx, a.run, aptGet("remove", "--", name))
}

func (a *apt) Purge(ctx context.Context, name string) (string, error) {
	return run(ctx, a.run, aptGet("purge", "--", name))
}

// Search lists what apt-cache madison knows of pattern: one entry per version and source.
func (a *apt) Search(ctx context.Context, pattern string) ([]Status, error) {
	out, err := run(ctx, a.run, Cmd{Name: "apt-cache", Args: []string{"madison", "--", pattern}})
	if err != nil {
		return nil, err
	}
	return parseMadison(out), nil
}

// parseMadison reads `apt-cache madison` lines: "name | version | source [arch] Packages".
func parseMadison(out string) []Status {
	var list []Status
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "|")
		if len(f) != 3 {
			continue
		}
		name, full := strings.TrimSpace(f[0]), strings.TrimSpace(f[1])
		src := strings.Fields(f[2]) // "http://... bookworm/main amd64 Packages"; Sources are not installable
		n := len(src)
		if n < 2 || src[n-1] != "Packages" {
			continue
		}
		arch := src[n-2]
		e, v, r := splitVersion(full)
		list = append(list, Status{Name: name, Ensure: full, Epoch: e, Version: v, Release: r, Arch: arch, Provider: "apt"})
	}
	return list
}

// Inventory counts the "ii" lines of dpkg --list, as the Ruby agent does, and digests them.
func (a *apt) Inventory(ctx context.Context) (Inventory, error) {
	return inventory(ctx, a.run, Cmd{Name: "dpkg", Args: []string{"--list"}, Env: []string{"COLUMNS=80"}}, dpkgInventory)
}

func dpkgInventory(out string) Inventory {
	var ii []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "ii") {
			ii = append(ii, line)
		}
	}
	sum := md5.Sum([]byte(strings.Join(ii, "\n")))
	return Inventory{Count: len(ii), MD5: hex.EncodeToString(sum[:])}
}

// CheckUpdates simulates a dist-upgrade and lists what it would install.
func (a *apt) CheckUpdates(ctx context.Context) (Updates, error) {
	c := Cmd{Name: "apt-get", Args: []string{"--simulate", "dist-upgrade"}, Env: []string{"DEBIAN_FRONTEND=noninteractive"}}
	out, _, exit, err := a.run(ctx, c)
	if err != nil {
		return Updates{}, fmt.Errorf("check for apt updates: %w", err)
	}
	if exit != 0 {
		return Updates{Result: Result{Output: string(out), ExitCode: exit}}, fmt.Errorf("Apt check-update failed, exit code was %d", exit)
	}
	return Updates{Result: Result{Output: string(out)}, Outdated: parseAptSimulate(string(out))}, nil
}

// aptInst is an upgrade line of apt-get --simulate:
// "Inst emacs23 [23.1+1-4ubuntu7] (23.1+1-4ubuntu7.1 Ubuntu:10.04/lucid-updates) []".
var aptInst = regexp.MustCompile(`Inst (.+?) \[.+?\] \((.+?)\s(.+?)\)`)

func parseAptSimulate(out string) []Update {
	var list []Update
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "Inst") {
			continue
		}
		if m := aptInst.FindStringSubmatch(line); m != nil {
			list = append(list, Update{Package: strings.TrimSpace(m[1]), Version: strings.TrimSpace(m[2]), Repo: strings.TrimSpace(m[3])})
		}
	}
	return list
}

// Refresh runs apt-get update, then reports the updates it made visible.
func (a *apt) Refresh(ctx context.Context) (Updates, error) {
	c := Cmd{Name: "apt-get", Args: []string{"update"}, Env: []string{"DEBIAN_FRONTEND=noninteractive"}}
	_, _, exit, err := a.run(ctx, c)
	if err != nil {
		return Updates{}, fmt.Errorf("update the apt cache: %w", err)
	}
	if exit != 0 {
		return Updates{Result: Result{ExitCode: exit}}, errors.New("apt-get update failed, exit code was " + strconv.Itoa(exit))
	}
	return a.CheckUpdates(ctx)
}

func (*apt) Clean(context.Context, string) (Result, error) { return Result{}, errNoYum }
