package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/mcorun/mcorun/agents/external"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/server"
)

// defaultRescan is plugin.mcod.external.rescan's default, in seconds.
const defaultRescan = 20

// externalAgents serves the external agents of the config's libdirs on srv: it scans them
// once now, before the node starts serving, and returns the watcher that rescans them every
// plugin.mcod.external.rescan seconds (0: never) once it runs.
func externalAgents(ctx context.Context, cfg *config.Config, srv *server.Server, facts func() map[string]any, logger *slog.Logger) (*external.Watcher, error) {
	rescan, err := cfg.PluginSeconds("mcod.external.rescan", defaultRescan)
	if err != nil {
		return nil, fmt.Errorf("%w (see docs/agents.md, \"External agents\")", err)
	}
	w := external.New(external.Options{
		LibDirs:   cfg.LibDir,
		ConfigDir: filepath.Dir(cfg.ConfigFile),
		Facts:     facts,
		Rescan:    rescan,
		Settle:    external.DefaultSettle,
		Logger:    logger,
	}, srv)
	w.Scan(ctx)
	if served := w.Served(); len(served) > 0 {
		logger.Info("external agents served", "agents", served, "libdirs", cfg.LibDir, "rescan", rescan)
	}
	return w, nil
}
