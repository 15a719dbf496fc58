package pkgagent

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Provider is one package backend: apt (dpkg), yum (rpm) or sim. The agent's actions are
// written once over it.
type Provider interface {
	// Name is the provider output of the package actions ("apt", "yum").
	Name() string
	// Manager is the package manager the node has, "apt" or "yum": it decides which of the
	// apt_* and yum_* actions apply and is the package_manager output of checkupdates.
	Manager() string
	// Status reports a package from the package database alone: no lock, no cache refresh.
	Status(ctx context.Context, name string) (Status, error)
	// Install installs name, at version when it is not "".
	Install(ctx context.Context, name, version string) (output string, err error)
	Update(ctx context.Context, name string) (output string, err error)
	Uninstall(ctx context.Context, name string) (output string, err error)
	Purge(ctx context.Context, name string) (output string, err error)
	// Search lists the available versions of the packages matching pattern.
	Search(ctx context.Context, pattern string) ([]Status, error)
	// Inventory counts the installed packages and digests their list (count and md5).
	Inventory(ctx context.Context) (Inventory, error)
	// CheckUpdates lists the packages with a newer version available.
	CheckUpdates(ctx context.Context) (Updates, error)
	// Refresh updates the available packages cache and then checks for updates.
	Refresh(ctx context.Context) (Updates, error)
	// Clean cleans the package manager's cache in mode (yum clean MODE).
	Clean(ctx context.Context, mode string) (Result, error)
}

// Status is one package's state. Ensure is the full version when installed, else "absent"
// (removed, configuration left) or "purged" (unknown to the package database).
type Status struct {
	Name     string
	Ensure   string
	Epoch    string
	Version  string
	Release  string
	Arch     string
	Provider string
	// Dpkg is dpkg's own view of the package (apt only): its want, error flag and state
	// ("install", "ok", "installed") and its apt mark, which Puppet's dpkg provider, and so
	// the Ruby agent, also reports as desired, error, status and mark.
	Dpkg DpkgState
}

// DpkgState is dpkg's status line of a package, plus its apt mark.
type DpkgState struct {
	Desired, Error, Status, Mark string
}

// Ensure values of a package that is not installed.
const (
	Absent = "absent"
	Purged = "purged"
)

// Installed reports whether the package is installed.
func (s Status) Installed() bool { return s.Ensure != Absent && s.Ensure != Purged && s.Ensure != "" }

// fill writes the status into reply data as the Ruby agent does: every value a string, and
// the version fields only when the package has them.
func (s Status) fill(data map[string]any) {
	data["name"] = s.Name
	data["ensure"] = s.Ensure
	data["provider"] = s.Provider
	if s.Installed() {
		data["epoch"] = s.Epoch
		data["version"] = s.Version
		data["release"] = s.Release
		data["arch"] = s.Arch
	}
	if s.Dpkg.Status != "" {
		data["desired"], data["error"], data["status"], data["mark"] = s.Dpkg.Desired, s.Dpkg.Error, s.Dpkg.Status, s.Dpkg.Mark
	}
}

// asMap is the status as one entry of search's available_packages.
func (s Status) asMap() map[string]any {
	return map[string]any{"name": s.Name, "ensure": s.Ensure, "epoch": s.Epoch, "version": s.Version,
		"release": s.Release, "arch": s.Arch, "provider": s.Provider}
}

// Inventory is what count and md5 report.
type Inventory struct {
	Count    int
	MD5      string
	ExitCode int
}

// Result is a package manager command's output and exit code.
type Result struct {
	Output   string
	ExitCode int
}

// Update is one outdated package of checkupdates.
type Update struct {
	Package, Version, Repo string
}

// Updates is the result of a check for updates.
type Updates struct {
	Result
	Outdated []Update
}

// Cmd is one OS command: argv, and environment entries added to mcod's own.
type Cmd struct {
	Name string
	Args []string
	Env  []string
}

func (c Cmd) String() string { return strings.Join(append([]string{c.Name}, c.Args...), " ") }

// Runner runs a command and returns its output and exit code; err is set only when the
// command could not run at all (not found, ctx ended), not for a non-zero exit.
type Runner func(ctx context.Context, c Cmd) (stdout, stderr []byte, exit int, err error)

// ExecRunner runs commands with os/exec, never through a shell.
func ExecRunner(ctx context.Context, c Cmd) (stdout, stderr []byte, exit int, err error) {
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	if len(c.Env) > 0 {
		cmd.Env = append(cmd.Environ(), c.Env...)
	}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return []byte(out.String()), []byte(errb.String()), ee.ExitCode(), nil
	}
	if err != nil {
		return []byte(out.String()), []byte(errb.String()), -1, fmt.Errorf("run %s: %w", c.Name, err)
	}
	return []byte(out.String()), []byte(errb.String()), 0, nil
}

// ExecError is a package manager command that exited non-zero; its message is Puppet's.
type ExecError struct {
	Cmd    Cmd
	Exit   int
	Output string
}

func (e *ExecError) Error() string {
	return fmt.Sprintf("Execution of '%s' returned %d: %s", e.Cmd, e.Exit, strings.TrimSpace(e.Output))
}

// run runs c and fails with an *ExecError on a non-zero exit; the output is stdout and
// stderr together.
func run(ctx context.Context, r Runner, c Cmd) (string, error) {
	out, errb, exit, err := r(ctx, c)
	text := string(out) + string(errb)
	if err != nil {
		return text, err
	}
	if exit != 0 {
		return text, &ExecError{Cmd: c, Exit: exit, Output: text}
	}
	return text, nil
}

// splitVersion splits [epoch:]version[-release] as dpkg and rpm print it: the epoch before
// the first colon ("0" when there is none), the release after the last hyphen.
func splitVersion(full string) (epoch, version, release string) {
	epoch, version = "0", full
	if e, v, ok := strings.Cut(full, ":"); ok {
		epoch, version = e, v
	}
	if i := strings.LastIndex(version, "-"); i >= 0 {
		version, release = version[:i], version[i+1:]
	}
	return epoch, version, release
}

// inventory runs a package manager's listing command and reads it with parse; the
// messages are the Ruby agent's ("dpkg command failed, exit code was N").
func inventory(ctx context.Context, run Runner, c Cmd, parse func(string) Inventory) (Inventory, error) {
	out, _, exit, err := run(ctx, c)
	if err != nil {
		return Inventory{}, fmt.Errorf("list packages with %s: %w", c.Name, err)
	}
	if exit != 0 {
		return Inventory{ExitCode: exit}, fmt.Errorf("%s command failed, exit code was %d", c.Name, exit)
	}
	return parse(string(out)), nil
}
