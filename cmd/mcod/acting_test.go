package main

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/config"
)

func parseCfg(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse(strings.NewReader(text), "server.cfg")
	if err != nil {
		t.Fatal(err)
	}
	cfg.LookupEnv = func(string) (string, bool) { return "", false }
	return cfg
}

func TestShellServedOnlyWhenEnabled(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	a, err := actingFromConfig(parseCfg(t, "identity = n1\n"), log)
	if err != nil || a.Shell != nil {
		t.Fatalf("default: shell %+v, err %v; want not served", a.Shell, err)
	}
	dir := t.TempDir()
	a, err = actingFromConfig(parseCfg(t, "plugin.shell.enabled = yes\nplugin.mcod.state_dir = "+dir+"\n"), log)
	if err != nil || a.Shell == nil || a.Shell.StatePath != dir+"/shell" {
		t.Fatalf("enabled: shell %+v, err %v; want served with its jobs under the state dir", a.Shell, err)
	}
	a, err = actingFromConfig(parseCfg(t, "plugin.shell.enabled = true\nplugin.shell.state_path = "+dir+"/jobs\n"), log)
	if err != nil || a.Shell == nil || a.Shell.StatePath != dir+"/jobs" {
		t.Fatalf("state_path: shell %+v, err %v", a.Shell, err)
	}
	// a typo in the switch is an error that stops mcod, never a shell served by accident
	for _, bad := range []string{"ture", "on", "t", "enabled"} {
		if _, err := actingFromConfig(parseCfg(t, "plugin.shell.enabled = "+bad+"\n"), log); err == nil || !strings.Contains(err.Error(), "shell.enabled") {
			t.Errorf("plugin.shell.enabled = %s: err %v, want one naming the key", bad, err)
		}
	}
	if _, err := nodePlugins(parseCfg(t, "plugin.service.provider = upstart\n"), log); err == nil || !strings.Contains(err.Error(), "upstart") {
		t.Errorf("unknown service provider: err %v", err)
	}
}

func TestExternalRescanSetting(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, bad := range []string{"soon", "-1"} {
		_, err := externalAgents(t.Context(), parseCfg(t, "plugin.mcod.external.rescan = "+bad+"\n"), nil, nil, log)
		if err == nil || !strings.Contains(err.Error(), "mcod.external.rescan") || !strings.Contains(err.Error(), "docs/agents.md") {
			t.Errorf("plugin.mcod.external.rescan = %s: err %v, want one naming the key and the docs", bad, err)
		}
	}
}
