package main

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/mcorun/mcorun/agents/puppet"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/server"
)

// registerPuppet adds the puppet agent and the puppet data plugin to srv when server.cfg
// configures Puppet: when any plugin.puppet.* key is set (plugin.puppet.enable = 1 is enough
// on its own), unless plugin.puppet.enable = 0. MCollective serves any agent found in its
// libdir; mcod serves puppet where the config asks for it, so a node without Puppet pays
// nothing (locating Puppet's files runs `puppet config print`, about a second). When
// Puppet's files cannot be located the agent is left out with a warning and mcod serves the
// rest.
func registerPuppet(ctx context.Context, cfg *config.Config, srv *server.Server, logger *slog.Logger) {
	configured := false
	for k := range cfg.Plugin {
		configured = configured || strings.HasPrefix(k, "puppet.")
	}
	enabled, err := cfg.PluginBool("puppet.enable", configured)
	if err != nil {
		logger.Warn("puppet agent not served", "err", err)
		return
	}
	if !enabled {
		logger.Debug("puppet agent not served: no plugin.puppet.* keys in the config")
		return
	}
	opts, err := puppet.OptionsFromConfig(cfg)
	if err != nil {
		logger.Warn("puppet agent not served", "err", err)
		return
	}
	opts.Logger = logger
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	p, err := puppet.New(ctx, opts)
	if err != nil {
		logger.Warn("puppet agent not served", "err", err)
		return
	}
	srv.Register(p.Agent())
	srv.RegisterData(p.DataPlugin())
	logger.Info("puppet agent served", "command", opts.Command, "lastrunfile", p.Paths().LastRunFile)
}
