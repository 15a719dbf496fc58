// Package pkgagent is the package agent of mcod, compatible with choria's package-agent 5.x:
// install, update, uninstall, purge, status, search, count, md5, refresh, checkupdates,
// apt_update, apt_checkupdates, yum_checkupdates and yum_clean, with the same inputs,
// outputs, status codes and messages, plus the package data plugin (package('x').installed).
// The work is done by a Provider: apt (dpkg), yum (rpm) or sim, a simulated node.
package pkgagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

// Options configure the agent.
type Options struct {
	// Provider is "apt", "yum", "sim", or "" to detect it as the Ruby agent does: yum when
	// /usr/bin/yum exists, else apt when /usr/bin/apt-get does (plugin.package.provider).
	Provider string
	// YumBin is the yum command, "yum" or "dnf" (plugin.package.yum_bin); "" is yum.
	YumBin string
	// YumCleanMode is yum_clean's mode when the request gives none
	// (plugin.package.yum_clean_mode); "" is all.
	YumCleanMode string
	// Sim is the simulated node's packages when Provider is "sim".
	Sim SimConfig
	// Backend, when set, is used instead of the provider Provider names: it lets an agent
	// and its data plugin share one simulated node.
	Backend Provider
	// Run runs the OS commands; nil is ExecRunner.
	Run Runner
	// Exists reports whether a file exists, for detection; nil asks the file system.
	Exists func(path string) bool
	// Clock is the simulator's time source; nil is clock.Real{}.
	Clock  clock.Clock
	Logger *slog.Logger
}

// OptionsFromConfig reads the plugin.package.* keys of cfg.
func OptionsFromConfig(cfg *config.Config) Options {
	return Options{
		Provider:     cfg.PluginString("package.provider", ""),
		YumBin:       cfg.PluginString("package.yum_bin", ""),
		YumCleanMode: cfg.PluginString("package.yum_clean_mode", ""),
	}
}

// Package is a configured package agent and data plugin over one provider.
type Package struct {
	p         Provider
	cleanMode string
	log       *slog.Logger
}

// Open chooses the provider and returns the agent and data plugin over it.
func Open(opts Options) (*Package, error) {
	if opts.Run == nil {
		opts.Run = ExecRunner
	}
	if opts.Exists == nil {
		opts.Exists = func(p string) bool { _, err := os.Stat(p); return err == nil }
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.YumCleanMode == "" {
		opts.YumCleanMode = "all"
	}
	p := opts.Backend
	if p == nil {
		var err error
		if p, err = newProvider(opts); err != nil {
			return nil, err
		}
	}
	return &Package{p: p, cleanMode: opts.YumCleanMode, log: opts.Logger}, nil
}

func newProvider(opts Options) (Provider, error) {
	name := opts.Provider
	if name == "" || name == "puppet" { // puppet: the Ruby agent's default, here detected
		switch {
		case opts.Exists("/usr/bin/yum"):
			name = "yum"
		case opts.Exists("/usr/bin/apt-get"):
			name = "apt"
		default:
			return nil, errors.New("package agent: no yum or apt-get on this node: set plugin.package.provider to apt, yum or sim")
		}
	}
	switch name {
	case "apt":
		return NewApt(opts.Run), nil
	case "yum":
		return NewYum(opts.Run, opts.YumBin), nil
	case "sim":
		return NewSim(opts.Sim, opts.Clock)
	}
	return nil, fmt.Errorf("package agent: unknown provider %q: set plugin.package.provider to apt, yum or sim", name)
}

// New returns the package agent.
func New(opts Options) (*agent.Agent, error) {
	p, err := Open(opts)
	if err != nil {
		return nil, err
	}
	return p.Agent(), nil
}

// NewData returns the package data plugin.
func NewData(opts Options) (*agent.DataPlugin, error) {
	p, err := Open(opts)
	if err != nil {
		return nil, err
	}
	return p.DataPlugin(), nil
}

// Provider returns the provider the agent works through.
func (a *Package) Provider() Provider { return a.p }

// Agent returns the package agent for mcod to serve.
func (a *Package) Agent() *agent.Agent {
	d, err := ddl.Builtin("package")
	if err != nil {
		panic(err) // the embedded DDL is tested; failure is a build defect
	}
	return &agent.Agent{DDL: d, Actions: map[string]agent.Action{
		"install":          a.change("install"),
		"update":           a.change("update"),
		"uninstall":        a.change("uninstall"),
		"purge":            a.change("purge"),
		"status":           a.status,
		"search":           a.search,
		"count":            a.inventory(func(i Inventory) any { return fmt.Sprint(i.Count) }),
		"md5":              a.inventory(func(i Inventory) any { return i.MD5 }),
		"yum_clean":        a.yumClean,
		"refresh":          a.refresh,
		"apt_update":       a.aptUpdate,
		"checkupdates":     a.checkUpdates(""),
		"apt_checkupdates": a.checkUpdates("apt"),
		"yum_checkupdates": a.checkUpdates("yum"),
	}}
}

// fail ends an action with the Ruby agent's status for a raised error, 5.
func fail(rep *agent.Reply, err error) { rep.Fail(message.UnknownError, err.Error()) }

// checkName refuses what shellsafe lets through but a package manager would read as an
// option or as several arguments.
func checkName(what, s string) error {
	if strings.HasPrefix(s, "-") || strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("%s %q is not a package: give a name without spaces or a leading '-'", what, s)
	}
	return nil
}

func (a *Package) change(action string) agent.Action {
	return func(ctx context.Context, req *agent.Request, rep *agent.Reply) {
		name, _ := req.Data["package"].(string)
		version, _ := req.Data["version"].(string)
		if err := errors.Join(checkName("package", name), checkName("version", version)); err != nil {
			rep.Fail(message.InvalidData, err.Error())
			return
		}
		before, err := a.p.Status(ctx, name)
		if err != nil {
			fail(rep, err)
			return
		}
		var refuse string
		switch {
		case action == "install" && before.Installed() && version == "":
			refuse = "Package is already installed"
		case (action == "update" || action == "uninstall") && !before.Installed():
			refuse = "Package is not present on the system"
		case action == "purge" && before.Ensure == Purged:
			refuse = "Package is not present on the system"
		}
		if refuse != "" {
			before.fill(rep.Data)
			rep.Fail(message.UnknownError, refuse)
			return
		}
		var out string
		switch action {
		case "install":
			out, err = a.p.Install(ctx, name, version)
		case "update":
			out, err = a.p.Update(ctx, name)
		case "uninstall":
			out, err = a.p.Uninstall(ctx, name)
		case "purge":
			out, err = a.p.Purge(ctx, name)
		}
		a.log.Info("package change", "action", action, "package", name, "version", version, "error", err)
		after, serr := a.p.Status(ctx, name)
		if serr == nil {
			after.fill(rep.Data)
		}
		if err = errors.Join(err, serr); err != nil {
			fail(rep, err)
			return
		}
		rep.Data["output"] = out
	}
}

func (a *Package) status(ctx context.Context, req *agent.Request, rep *agent.Reply) {
	name, _ := req.Data["package"].(string)
	if err := checkName("package", name); err != nil {
		rep.Fail(message.InvalidData, err.Error())
		return
	}
	st, err := a.p.Status(ctx, name)
	if err != nil {
		fail(rep, err)
		return
	}
	st.fill(rep.Data)
}

func (a *Package) search(ctx context.Context, req *agent.Request, rep *agent.Reply) {
	name, _ := req.Data["package"].(string)
	if err := checkName("package", name); err != nil {
		rep.Fail(message.InvalidData, err.Error())
		return
	}
	found, err := a.p.Search(ctx, name)
	if err != nil {
		fail(rep, err)
		return
	}
	list := make([]any, 0, len(found))
	for _, s := range found {
		list = append(list, s.asMap())
	}
	rep.Data["available_packages"] = list
	if len(found) == 0 {
		rep.Fail(message.UnknownError, "Package not found")
		return
	}
	rep.Data["package_count"] = fmt.Sprintf("%d packages found", len(found))
}

func (a *Package) inventory(output func(Inventory) any) agent.Action {
	return func(ctx context.Context, _ *agent.Request, rep *agent.Reply) {
		inv, err := a.p.Inventory(ctx)
		if err != nil {
			fail(rep, err)
			return
		}
		rep.Data["exitcode"] = int64(inv.ExitCode)
		rep.Data["output"] = output(inv)
	}
}

func (a *Package) yumClean(ctx context.Context, req *agent.Request, rep *agent.Reply) {
	if a.p.Manager() != "yum" {
		fail(rep, errNoYum)
		return
	}
	mode, _ := req.Data["mode"].(string)
	if mode == "" {
		mode = a.cleanMode
	}
	res, err := a.p.Clean(ctx, mode)
	if err != nil {
		fail(rep, err)
		return
	}
	rep.Data["exitcode"] = int64(res.ExitCode)
	rep.Data["output"] = res.Output
}

func (a *Package) refresh(ctx context.Context, _ *agent.Request, rep *agent.Reply) {
	u, err := a.p.Refresh(ctx)
	if err != nil {
		fail(rep, err)
		return
	}
	rep.Data["exitcode"] = int64(u.ExitCode)
	rep.Data["output"] = u.Output
}

func (a *Package) aptUpdate(ctx context.Context, _ *agent.Request, rep *agent.Reply) {
	if a.p.Manager() != "apt" {
		fail(rep, errNoApt)
		return
	}
	u, err := a.p.Refresh(ctx)
	if err != nil {
		fail(rep, err)
		return
	}
	fillUpdates(rep, u)
}

// checkUpdates is checkupdates (manager "") or its apt_ and yum_ forms, which fail as the
// Ruby agent does on a node without that package manager.
func (a *Package) checkUpdates(manager string) agent.Action {
	return func(ctx context.Context, _ *agent.Request, rep *agent.Reply) {
		if manager != "" && a.p.Manager() != manager {
			if manager == "yum" {
				fail(rep, errNoYum)
			} else {
				fail(rep, errNoApt)
			}
			return
		}
		u, err := a.p.CheckUpdates(ctx)
		if err != nil {
			fail(rep, err)
			return
		}
		fillUpdates(rep, u)
		if manager == "" {
			rep.Data["package_manager"] = a.p.Manager()
		}
	}
}

// fillUpdates writes a check's result; outdated packages are Symbol-keyed hashes, as Ruby's.
func fillUpdates(rep *agent.Reply, u Updates) {
	list := make([]any, 0, len(u.Outdated))
	for _, o := range u.Outdated {
		list = append(list, map[marshal.Symbol]any{"package": o.Package, "version": o.Version, "repo": o.Repo})
	}
	rep.Data["exitcode"] = int64(u.ExitCode)
	rep.Data["output"] = u.Output
	rep.Data["outdated_packages"] = list
}

// DataPlugin returns the package data plugin: package('x') gives status, the installed
// version, and installed. A failed query is logged and answers the DDL defaults, as the
// Ruby plugin does.
func (a *Package) DataPlugin() *agent.DataPlugin {
	d, err := ddl.BuiltinData("package")
	if err != nil {
		panic(err) // the embedded DDL is tested; failure is a build defect
	}
	return &agent.DataPlugin{DDL: d, Query: func(ctx context.Context, q any) (map[string]any, error) {
		name, _ := q.(string)
		st, err := a.p.Status(ctx, name)
		if err != nil {
			a.log.Warn("could not get the status of a package", "package", name, "error", err)
			return map[string]any{}, nil
		}
		return map[string]any{"status": st.Ensure, "installed": st.Installed()}, nil
	}}
}
