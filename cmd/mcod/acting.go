package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/mcorun/mcorun/agents"
	"github.com/mcorun/mcorun/agents/data"
	"github.com/mcorun/mcorun/agents/nettest"
	pkgagent "github.com/mcorun/mcorun/agents/package"
	"github.com/mcorun/mcorun/agents/service"
	"github.com/mcorun/mcorun/agents/shell"
	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/security"
)

// defaultStateDir is mcod's state directory (plugin.mcod.state_dir): the one place for what
// a node keeps across restarts: the shell agent's background jobs (its shell/ subdirectory,
// unless plugin.shell.state_path names another) and the ed25519 provider's replay cache
// (replay/).
const defaultStateDir = "/var/lib/mcod"

// actingFromConfig reads the settings of the agents that act on the node: service,
// package, nettest and, when plugin.shell.enabled is true, shell; and the paths the fstat
// data plugin may examine.
func actingFromConfig(cfg *config.Config, logger *slog.Logger) (agents.Acting, error) {
	a := agents.Acting{Service: service.OptionsFromConfig(cfg), Package: pkgagent.OptionsFromConfig(cfg)}
	a.Service.Logger, a.Package.Logger = logger, logger
	var err error
	if a.Nettest, err = nettest.OptionsFromConfig(cfg); err != nil {
		return a, err
	}
	if a.FstatPaths, err = data.ParsePaths(cfg.PluginString("fstat.allowed_paths", "")); err != nil {
		return a, fmt.Errorf("%s: plugin.fstat.allowed_paths: %w", cfg.ConfigFile, err)
	}
	switch {
	case a.FstatPaths != nil:
		logger.Info("fstat limited", "allowed_paths", a.FstatPaths)
	case strings.EqualFold(cfg.SecurityProvider, "ssl") || strings.EqualFold(cfg.SecurityProvider, "ed25519"):
		logger.Warn("fstat may examine every path, so any caller can learn the size, owner and md5 of any file through filters, " +
			"before authorization; set plugin.fstat.allowed_paths to the paths your filters need (docs/security.md)")
	}
	enabled, err := cfg.PluginBool("shell.enabled", false)
	if err != nil {
		return a, err
	}
	if !enabled {
		logger.Debug("shell agent not served: plugin.shell.enabled is not true")
		return a, nil
	}
	o, err := shell.OptionsFromConfig(cfg)
	if err != nil {
		return a, err
	}
	if _, set := cfg.Plugin["shell.state_path"]; !set {
		o.StatePath = filepath.Join(cfg.PluginString("mcod.state_dir", defaultStateDir), "shell")
	}
	a.Shell = &o
	logger.Info("shell agent served: it runs any command it is sent, subject to actionpolicy", "state_path", o.StatePath)
	return a, nil
}

// nodePlugins is the server.Options.Plugins of this node.
func nodePlugins(cfg *config.Config, logger *slog.Logger) (func(agent.Node) ([]*agent.Agent, []*agent.DataPlugin), error) {
	a, err := actingFromConfig(cfg, logger)
	if err != nil {
		return nil, err
	}
	p, err := agents.Plugins(a)
	if err != nil {
		return nil, fmt.Errorf("%w (see docs/agents.md for the agents' settings)", err)
	}
	return p, nil
}

// replayPersister is a security provider that can keep its replay cache in the state
// directory (ed25519).
type replayPersister interface {
	PersistReplays(dir string) error
}

// nodeSecurity is the node's security provider. One that refuses replays keeps the request
// ids it accepted in <plugin.mcod.state_dir>/replay, so that a restart does not forget them.
func nodeSecurity(cfg *config.Config, logger *slog.Logger) (security.Provider, error) {
	sec, err := security.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	if p, ok := sec.(replayPersister); ok {
		dir := filepath.Join(cfg.PluginString("mcod.state_dir", defaultStateDir), "replay")
		if err := p.PersistReplays(dir); err != nil {
			return nil, fmt.Errorf("%w: %w; set plugin.mcod.state_dir in %s to a directory mcod may write", errConfig, err, cfg.ConfigFile)
		}
		logger.Info("replay cache kept across restarts", "dir", dir)
	}
	return sec, nil
}
