// Package puppet is the puppet agent of mcod, compatible with mcollective-puppet-agent 1.14:
// status, runonce, enable, disable, last_run_summary and resource, with the same inputs,
// outputs, status codes and messages, plus the puppet data plugin for compound filters
// (puppet().enabled=true). It works through Puppet's own files (last_run_summary.yaml, the
// disable and catalog run locks, the daemon's pidfile), located once with `puppet config
// print`, and starts runs with the configured command, detached from mcod.
package puppet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mcorun/mcorun/agents/data"
	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

// Options configure the agent. DefaultOptions gives MCollective's defaults and
// OptionsFromConfig reads the plugin.puppet.* keys over them.
type Options struct {
	// Command starts a run (plugin.puppet.command); the run's options are appended to it.
	Command string
	// Config is the puppet.conf to read settings from (plugin.puppet.config); "" is Puppet's own.
	Config string
	// Bin is the puppet executable used for `puppet config print` and `puppet resource`.
	Bin string
	// Splay and SplayLimit are the splay defaults of a runonce that does not give them
	// (plugin.puppet.splay, plugin.puppet.splaylimit).
	Splay      bool
	SplayLimit int
	// SignalDaemon makes runonce send USR1 to an idling agent daemon instead of starting a
	// run (plugin.puppet.signal_daemon).
	SignalDaemon bool
	// AllowServerOverride lets runonce take a server input (plugin.puppet.allow_server_override).
	AllowServerOverride bool
	// ResourceTypeWhitelist and ResourceTypeBlacklist are comma lists of the types the
	// resource action may or may not manage; "" is unset and "none" whitelists nothing. With
	// neither set, every type is denied.
	ResourceTypeWhitelist string
	ResourceTypeBlacklist string
	// ResourceNameWhitelist and ResourceNameBlacklist are comma lists of resource names by
	// type (plugin.puppet.resource_name_whitelist.TYPE, ..._blacklist.TYPE).
	ResourceNameWhitelist map[string]string
	ResourceNameBlacklist map[string]string
	// ResourceAllowManaged lets the resource action change resources the last catalog
	// managed (plugin.puppet.resource_allow_managed_resources).
	ResourceAllowManaged bool

	// Paths, when set, are used as they are instead of asking Puppet for them.
	Paths *Paths
	// ConfigPrint answers `puppet config print`; nil runs Bin with Config.
	ConfigPrint func(ctx context.Context, keys []string) (map[string]string, error)
	// Launch, when set, starts a run in place of the detached process: argv is the
	// command split on spaces followed by the run's options, such as ["puppet", "agent",
	// "--onetime", "--no-daemonize", ...]. It returns once the run has started; the run
	// outlives ctx, which is the request's. The sandbox's simulated Puppet uses it.
	Launch func(ctx context.Context, argv []string) error
	// Now is the clock; nil is time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultOptions returns the plugin's defaults: command "puppet agent", splay on with a
// limit of 30 seconds, daemon signalling on, no server override, every resource type denied.
func DefaultOptions() Options {
	return Options{Command: "puppet agent", Bin: "puppet", Splay: true, SplayLimit: 30, SignalDaemon: true}
}

// OptionsFromConfig returns DefaultOptions overlaid with the plugin.puppet.* keys of cfg.
func OptionsFromConfig(cfg *config.Config) (Options, error) {
	o := DefaultOptions()
	o.Command = cfg.PluginString("puppet.command", o.Command)
	o.Config = cfg.PluginString("puppet.config", "")
	o.ResourceTypeWhitelist = cfg.PluginString("puppet.resource_type_whitelist", "")
	o.ResourceTypeBlacklist = cfg.PluginString("puppet.resource_type_blacklist", "")
	var err, e error
	o.Splay, e = cfg.PluginBool("puppet.splay", o.Splay)
	err = errors.Join(err, e)
	o.SplayLimit, e = cfg.PluginInt("puppet.splaylimit", o.SplayLimit)
	err = errors.Join(err, e)
	o.SignalDaemon, e = cfg.PluginBool("puppet.signal_daemon", o.SignalDaemon)
	err = errors.Join(err, e)
	o.AllowServerOverride, e = cfg.PluginBool("puppet.allow_server_override", false)
	err = errors.Join(err, e)
	o.ResourceAllowManaged, e = cfg.PluginBool("puppet.resource_allow_managed_resources", false)
	err = errors.Join(err, e)
	if err != nil {
		return Options{}, fmt.Errorf("puppet options: %w", err)
	}
	for k, v := range cfg.Plugin {
		if typ, ok := strings.CutPrefix(k, "puppet.resource_name_whitelist."); ok {
			if o.ResourceNameWhitelist == nil {
				o.ResourceNameWhitelist = map[string]string{}
			}
			o.ResourceNameWhitelist[typ] = v
		}
		if typ, ok := strings.CutPrefix(k, "puppet.resource_name_blacklist."); ok {
			if o.ResourceNameBlacklist == nil {
				o.ResourceNameBlacklist = map[string]string{}
			}
			o.ResourceNameBlacklist[typ] = v
		}
	}
	return o, nil
}

// Puppet is a configured puppet agent: its files, options and run launcher.
type Puppet struct {
	opts Options
	mgr  *manager
	log  *slog.Logger
}

// New locates the Puppet agent's files (opts.Paths, or `puppet config print`, bounded by
// ctx) and returns the agent.
func New(ctx context.Context, opts Options) (*Puppet, error) {
	if opts.Command == "" {
		opts.Command = "puppet agent"
	}
	if opts.Bin == "" {
		opts.Bin = "puppet"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var paths Paths
	if opts.Paths != nil {
		paths = *opts.Paths
	} else {
		print := opts.ConfigPrint
		if print == nil {
			print = ConfigPrinter(opts.Bin, opts.Config)
		}
		settings, err := print(ctx, settingKeys)
		if err != nil {
			return nil, fmt.Errorf("puppet: locate puppet's files: %w", err)
		}
		if paths, err = fromSettings(settings); err != nil {
			return nil, fmt.Errorf("puppet: locate puppet's files: %w", err)
		}
	}
	return &Puppet{opts: opts, mgr: &manager{paths: paths, now: opts.Now}, log: opts.Logger}, nil
}

// Paths returns the Puppet files the agent uses.
func (p *Puppet) Paths() Paths { return p.mgr.paths }

// Status returns the agent's state with the fields of the status action.
func (p *Puppet) Status(context.Context) (map[string]any, error) { return p.mgr.status() }

// Agent returns the puppet agent for mcod to serve.
func (p *Puppet) Agent() *agent.Agent {
	d, err := ddl.Builtin("puppet")
	if err != nil {
		panic(err) // the embedded DDL is tested; failure is a build defect
	}
	actions := map[string]agent.Action{
		"status":           p.statusAction,
		"runonce":          p.runonce,
		"enable":           p.enable,
		"disable":          p.disable,
		"last_run_summary": p.lastRunSummary,
		"resource":         p.resource,
	}
	return &agent.Agent{DDL: d, Actions: actions}
}

// DataPlugin returns the puppet data plugin over this agent's state.
func (p *Puppet) DataPlugin() *agent.DataPlugin { return data.Puppet(p.Status) }

func (p *Puppet) statusAction(_ context.Context, _ *agent.Request, rep *agent.Reply) {
	st, err := p.mgr.status()
	if err != nil {
		rep.Fail(message.UnknownError, err.Error())
		return
	}
	for k, v := range st {
		rep.Data[k] = v
	}
}

func (p *Puppet) enable(_ context.Context, _ *agent.Request, rep *agent.Reply) {
	if err := p.mgr.enable(); err != nil {
		msg := "Could not enable Puppet: " + err.Error()
		rep.Data["status"] = msg
		rep.Fail(message.Aborted, msg)
	} else {
		rep.Data["status"] = "Succesfully enabled the Puppet agent"
	}
	rep.Data["enabled"] = !p.mgr.disabled()
}

func (p *Puppet) disable(_ context.Context, req *agent.Request, rep *agent.Reply) {
	msg, ok := req.Data["message"].(string)
	if !ok {
		msg = fmt.Sprintf("Disabled via MCollective by %s at %s", req.CallerID, p.opts.Now().Format("2006-01-02 15:04"))
	}
	if err := p.mgr.disable(msg); err != nil {
		status := "Could not disable Puppet: " + err.Error()
		rep.Data["status"] = status
		rep.Fail(message.Aborted, status)
	} else {
		rep.Data["status"] = "Succesfully locked the Puppet agent: " + msg
	}
	rep.Data["enabled"] = !p.mgr.disabled()
}

func (p *Puppet) lastRunSummary(_ context.Context, req *agent.Request, rep *agent.Reply) {
	summary, err := p.mgr.loadSummary()
	if err != nil {
		rep.Fail(message.UnknownError, err.Error())
		return
	}
	if logs, _ := req.Data["logs"].(bool); logs {
		l, err := p.mgr.lastRunLogs()
		if err != nil {
			rep.Fail(message.UnknownError, err.Error())
			return
		}
		rep.Data["logs"] = l
	} else {
		rep.Data["logs"] = map[string]any{}
	}
	res := summary["resources"].(map[string]any)
	tm := summary["time"].(map[string]any)
	ver := summary["version"].(map[string]any)
	get := func(m map[string]any, k string, def any) any {
		if v, ok := m[k]; ok {
			return v
		}
		return def
	}
	rep.Data["type_distribution"] = p.mgr.typeDistribution()
	rep.Data["out_of_sync_resources"] = get(res, "out_of_sync", int64(0))
	rep.Data["failed_resources"] = get(res, "failed", int64(0))
	rep.Data["corrected_resources"] = get(res, "corrective_change", int64(0))
	rep.Data["changed_resources"] = get(res, "changed", int64(0))
	rep.Data["total_resources"] = get(res, "total", int64(0))
	rep.Data["total_time"] = get(tm, "total", int64(0))
	rep.Data["config_retrieval_time"] = get(tm, "config_retrieval", int64(0))
	last := lastRun(summary)
	rep.Data["lastrun"] = last
	rep.Data["since_lastrun"] = p.opts.Now().Unix() - last
	rep.Data["config_version"] = get(ver, "config", "unknown")
	rep.Data["summary"] = summary
}
