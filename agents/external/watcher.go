package external

import (
	"context"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
)

// Registry is the set of agents a node serves, which the watcher changes: a
// *server.Server. Add refuses a name already served, so a built-in agent is never replaced.
type Registry interface {
	Add(a *agent.Agent) error
	Replace(a *agent.Agent) error
	Remove(name string) error
}

// Options configures a Watcher.
type Options struct {
	// LibDirs are searched for LIBDIR/mcollective/agent/NAME.json and its executable.
	LibDirs []string
	// ConfigDir is the directory of the node's config file: an agent's own config is
	// ConfigDir/plugin.d/NAME.
	ConfigDir string
	// Facts gives the node's facts, written for the agent as JSON on every run.
	Facts func() map[string]any
	// Rescan is the time between scans; zero scans only once.
	Rescan time.Duration
	// Settle is how long a changed file must stay unchanged before a rescan acts on it, so
	// that a file being copied in is not read half-written. The first scan does not wait.
	Settle time.Duration
	// ActivationTimeout bounds the activation check; default DefaultActivationTimeout.
	ActivationTimeout time.Duration
	// Grace is the time an action's process gets beyond its DDL timeout; default
	// DefaultGrace.
	Grace time.Duration
	// MaxReply is the largest reply file read, in bytes; default DefaultMaxReply.
	MaxReply int64
	Logger   *slog.Logger
}

// Watcher keeps a node's external agents in step with its libdirs.
type Watcher struct {
	opts Options
	reg  Registry
	r    *runner

	mu      sync.Mutex
	scanned bool
	known   map[string]*state // by agent name: what the last scans decided
	skips   map[string]string // by path: the reason last logged for skipping it
}

// state is what the watcher decided for one agent found on disk.
type state struct {
	stamp   string
	version string
	served  bool // false: not activated, or refused by the registry
}

// New returns a watcher that changes reg's agents.
func New(o Options, reg Registry) *Watcher {
	if o.ActivationTimeout <= 0 {
		o.ActivationTimeout = DefaultActivationTimeout
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.MaxReply <= 0 {
		o.MaxReply = DefaultMaxReply
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Facts == nil {
		o.Facts = func() map[string]any { return nil }
	}
	// The agents run in the temporary directory: their paths must not be relative.
	libs := make([]string, 0, len(o.LibDirs))
	for _, d := range o.LibDirs {
		if abs, err := filepath.Abs(d); err == nil {
			d = abs
		}
		libs = append(libs, d)
	}
	o.LibDirs = libs
	return &Watcher{
		opts: o, reg: reg,
		r: &runner{facts: o.Facts, configDir: o.ConfigDir, grace: o.Grace, activation: o.ActivationTimeout,
			maxReply: o.MaxReply, log: o.Logger},
		known: map[string]*state{}, skips: map[string]string{},
	}
}

// Watch rescans every Rescan until ctx ends; with no Rescan it returns at once. Scan first
// (before the node starts serving, so that its agents are served from the start).
func (w *Watcher) Watch(ctx context.Context) {
	if w.opts.Rescan <= 0 {
		return
	}
	t := time.NewTicker(w.opts.Rescan)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Scan(ctx)
		}
	}
}

// Scan reads the libdirs once and adds, upgrades and removes agents to match, logging each
// change and each file skipped (once per reason).
func (w *Watcher) Scan(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	log := w.opts.Logger
	agents, skips := scan(w.opts.LibDirs)
	seen := map[string]bool{}
	for _, s := range skips {
		seen[s.path] = true
		if w.skips[s.path] != s.reason {
			w.skips[s.path] = s.reason
			log.Warn("external agent skipped", "file", s.path, "reason", s.reason)
		}
	}
	for p := range w.skips {
		if !seen[p] {
			delete(w.skips, p)
		}
	}
	settling := map[string]bool{}
	now := time.Now()
	for _, name := range slices.Sorted(maps.Keys(agents)) {
		f := agents[name]
		old := w.known[name]
		if old != nil && old.stamp == f.stamp {
			continue
		}
		if w.scanned && now.Sub(f.newest) < w.opts.Settle {
			settling[name] = true
			log.Debug("external agent changed recently; waiting for it to settle", "agent", name, "ddl", f.ddlPath)
			continue
		}
		w.load(ctx, f, old)
	}
	for _, name := range slices.Sorted(maps.Keys(w.known)) {
		if _, ok := agents[name]; ok || settling[name] {
			continue
		}
		if w.known[name].served {
			if err := w.reg.Remove(name); err != nil {
				log.Error("cannot remove external agent", "agent", name, "err", err)
				continue
			}
			log.Info("external agent removed", "agent", name, "reason", "its DDL or executable is gone or can no longer be served")
		}
		delete(w.known, name)
	}
	w.scanned = true
}

// load activates and serves one agent found new or changed on disk.
func (w *Watcher) load(ctx context.Context, f found, old *state) {
	log := w.opts.Logger.With("agent", f.name, "version", f.ddl.Metadata.Version, "ddl", f.ddlPath, "executable", f.exe)
	st := &state{stamp: f.stamp, version: f.ddl.Metadata.Version}
	w.known[f.name] = st
	wasServed := old != nil && old.served
	active, err := w.r.activate(ctx, f.name, f.exe)
	if err != nil || !active {
		if err != nil {
			log.Warn("external agent not activated: its activation check failed", "err", err)
		} else {
			log.Info("external agent not activated: it declined to run on this node")
		}
		if wasServed {
			if err := w.reg.Remove(f.name); err != nil {
				log.Error("cannot remove external agent", "err", err)
				return
			}
			log.Info("external agent removed", "reason", "no longer activated")
		}
		return
	}
	a := w.r.newAgent(f.ddl, f.exe)
	if wasServed {
		if err := w.reg.Replace(a); err != nil {
			log.Error("cannot upgrade external agent; the next scan tries again", "err", err)
			st.stamp = ""
			return
		}
		st.served = true
		log.Info("external agent upgraded", "from_version", old.version)
		return
	}
	if err := w.reg.Add(a); err != nil {
		log.Warn("external agent refused", "err", err)
		return
	}
	st.served = true
	log.Info("external agent added", "actions", slices.Sorted(maps.Keys(f.ddl.Actions)))
}

// Served lists the external agents served, sorted.
func (w *Watcher) Served() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for name, st := range w.known {
		if st.served {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
