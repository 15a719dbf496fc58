package pkgagent

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// The Ruby agent's failures for a node without the package manager an action needs. The
// wire carries them verbatim, so they keep Ruby's capitals.
var (
	errNoYum = errors.New("Cannot find yum at /usr/bin/yum")         //nolint:staticcheck // the wire message
	errNoApt = errors.New("Cannot find apt-get at /usr/bin/apt-get") //nolint:staticcheck // the wire message
)

// yum manages packages with rpm and yum (or dnf, which takes the same arguments).
type yum struct {
	run Runner
	bin string
}

// NewYum returns the yum provider running bin ("yum" or "dnf") and rpm through r.
func NewYum(r Runner, bin string) Provider {
	if bin == "" {
		bin = "yum"
	}
	return &yum{run: r, bin: bin}
}

func (*yum) Name() string    { return "yum" }
func (*yum) Manager() string { return "yum" }

// rpmFormat is the rpm -q line of one package.
const rpmFormat = "%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n"

func rpmStatusCmd(name string) Cmd {
	return Cmd{Name: "rpm", Args: []string{"-q", "--queryformat", rpmFormat, name}}
}

func (y *yum) Status(ctx context.Context, name string) (Status, error) {
	out, errb, exit, err := y.run(ctx, rpmStatusCmd(name))
	if err != nil {
		return Status{}, fmt.Errorf("query rpm for %s: %w", name, err)
	}
	if exit != 0 {
		if strings.Contains(string(out)+string(errb), "is not installed") {
			return Status{Name: name, Ensure: Absent, Provider: "yum"}, nil
		}
		return Status{}, &ExecError{Cmd: rpmStatusCmd(name), Exit: exit, Output: string(out) + string(errb)}
	}
	return parseRPMStatus(name, string(out)), nil
}

// parseRPMStatus reads the first rpm -q line in rpmFormat. Ensure is version-release, with
// the epoch in front when it is not 0, as Puppet's rpm provider writes it.
func parseRPMStatus(name, out string) Status {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			continue
		}
		epoch := f[1]
		if epoch == "(none)" || epoch == "" {
			epoch = "0"
		}
		return Status{Name: name, Ensure: rpmEnsure(epoch, f[2], f[3]), Epoch: epoch, Version: f[2], Release: f[3], Arch: f[4], Provider: "yum"}
	}
	return Status{Name: name, Ensure: Absent, Provider: "yum"}
}

func rpmEnsure(epoch, version, release string) string {
	e := version + "-" + release
	if epoch != "0" {
		e = epoch + ":" + e
	}
	return e
}

func (y *yum) cmd(args ...string) Cmd {
	return Cmd{Name: y.bin, Args: append([]string{"-y", "-q"}, args...)}
}

// Install installs name, or name-version when a version is asked for.
func (y *yum) Install(ctx context.Context, name, version string) (string, error) {
	if version != "" {
		name += "-" + version
	}
	return run(ctx, y.run, y.cmd("install", name))
}

func (y *yum) Update(ctx context.Context, name string) (string, error) {
	return run(ctx, y.run, y.cmd("update", name))
}

func (y *yum) Uninstall(ctx context.Context, name string) (string, error) {
	return run(ctx, y.run, y.cmd("remove", name))
}

// Purge is a removal: rpm keeps no configuration to purge.
func (y *yum) Purge(ctx context.Context, name string) (string, error) {
	return run(ctx, y.run, y.cmd("remove", name))
}

// Search lists the installed and available versions of pattern.
func (y *yum) Search(ctx context.Context, pattern string) ([]Status, error) {
	c := Cmd{Name: y.bin, Args: []string{"-q", "list", "--showduplicates", pattern}}
	out, errb, exit, err := y.run(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("search yum for %s: %w", pattern, err)
	}
	if exit != 0 && exit != 1 { // 1: nothing matched
		return nil, &ExecError{Cmd: c, Exit: exit, Output: string(out) + string(errb)}
	}
	return parseYumList(string(out)), nil
}

// parseYumList reads `yum list` rows: "name.arch  [epoch:]version-release  repo", skipping
// the section headers.
func parseYumList(out string) []Status {
	var list []Status
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || strings.HasSuffix(line, ":") {
			continue
		}
		i := strings.LastIndex(f[0], ".")
		if i < 0 {
			continue
		}
		e, v, r := splitVersion(f[1])
		list = append(list, Status{Name: f[0][:i], Arch: f[0][i+1:], Ensure: v + "-" + r, Epoch: e, Version: v, Release: r, Provider: "yum"})
	}
	return list
}

// Inventory counts the lines of rpm -qa and digests its whole output, as the Ruby agent does.
func (y *yum) Inventory(ctx context.Context) (Inventory, error) {
	return inventory(ctx, y.run, Cmd{Name: "rpm", Args: []string{"-qa"}}, rpmInventory)
}

func rpmInventory(out string) Inventory {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if line != "" {
			n++
		}
	}
	sum := md5.Sum([]byte(out))
	return Inventory{Count: n, MD5: hex.EncodeToString(sum[:])}
}

// CheckUpdates runs yum -q check-update, whose exit code is 100 when updates exist; like
// the Ruby agent it reports the exit code rather than failing on it.
func (y *yum) CheckUpdates(ctx context.Context) (Updates, error) {
	out, _, exit, err := y.run(ctx, Cmd{Name: y.bin, Args: []string{"-q", "check-update"}})
	if err != nil {
		return Updates{}, fmt.Errorf("check for yum updates: %w", err)
	}
	return Updates{Result: Result{Output: string(out), ExitCode: exit}, Outdated: parseYumCheckUpdate(string(out))}, nil
}

var obsoleting = regexp.MustCompile(`(?i)^Obsoleting\sPackages`)

// parseYumCheckUpdate reads "package version repo" rows up to the obsoletes section.
func parseYumCheckUpdate(out string) []Update {
	var list []Update
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if obsoleting.MatchString(line) {
			break
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		list = append(list, Update{Package: f[0], Version: f[1], Repo: f[2]})
	}
	return list
}

// Refresh cleans yum's metadata and checks for updates.
func (y *yum) Refresh(ctx context.Context) (Updates, error) {
	if _, err := y.Clean(ctx, "metadata"); err != nil {
		return Updates{}, err
	}
	return y.CheckUpdates(ctx)
}

// validCleanMode reports whether yum_clean accepts mode.
func validCleanMode(mode string) bool {
	switch mode {
	case "all", "headers", "packages", "metadata", "dbcache", "plugins", "expire-cache":
		return true
	}
	return false
}

func (y *yum) Clean(ctx context.Context, mode string) (Result, error) {
	if !validCleanMode(mode) {
		return Result{}, fmt.Errorf("Unsupported yum clean mode: %s", mode)
	}
	out, _, exit, err := y.run(ctx, Cmd{Name: y.bin, Args: []string{"clean", mode}})
	if err != nil {
		return Result{}, fmt.Errorf("clean the yum cache: %w", err)
	}
	if exit != 0 {
		return Result{Output: string(out), ExitCode: exit}, fmt.Errorf("Yum clean failed, exit code was %d", exit)
	}
	return Result{Output: string(out), ExitCode: exit}, nil
}
