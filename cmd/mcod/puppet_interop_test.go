package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/testenv"
)

// PuppetPluginDirEnv names a checkout of the public puppet plugin (agent/, data/,
// validator/ ... at its top), kept outside this repository. When it is set, stock mco loads
// the plugin's own DDL from it; otherwise the test renders a Ruby DDL from mcorun's JSON one.
const PuppetPluginDirEnv = "MCORUN_PUPPET_PLUGIN_DIR"

// TestMcoRPCPuppet drives mcod's puppet agent, on a node running real Puppet, with stock
// mco rpc puppet status and runonce.
func TestMcoRPCPuppet(t *testing.T) {
	bin := testenv.RequirePuppet(t)
	f := newFleet(t)
	pd := filepath.Join(f.dir, "puppet")
	lock := filepath.Join(pd, "var/state/agent_catalog_run.lock")
	if err := os.MkdirAll(filepath.Join(pd, "var/state"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(pd, "site.pp"), "notify { 'hello': message => 'hi' }\n")
	write(t, filepath.Join(pd, "puppet.conf"), fmt.Sprintf("[main]\nvardir = %[1]s/var\nstatedir = %[1]s/var/state\nlogdir = %[1]s/log\nrundir = %[1]s/run\ncodedir = %[1]s/code\npublicdir = %[1]s/public\n", pd))
	wrapper := filepath.Join(pd, "run-puppet")
	write(t, wrapper, fmt.Sprintf("#!/bin/sh\necho $$ > %[2]s\n%[3]s apply --config %[1]s/puppet.conf %[1]s/site.pp > %[1]s/run.log 2>&1\nrc=$?\nrm -f %[2]s\nexit $rc\n", pd, lock, bin))
	if err := os.Chmod(wrapper, 0o755); err != nil {
		t.Fatal(err)
	}
	f.start(nodeSpec{identity: "pup1", facts: "role: web\n", extra: fmt.Sprintf(
		"plugin.puppet.config = %s/puppet.conf\nplugin.puppet.command = %s\nplugin.puppet.splay = false\n", pd, wrapper)})
	f.waitLog(t, "pup1", "puppet agent served", 5*time.Second)
	f.puppetClient(t)

	st := f.mcoRPC(t, "puppet", "status", "-I", "pup1")
	if len(st) != 1 || st[0].StatusCode != 0 {
		t.Fatalf("mco rpc puppet status: %+v", st)
	}
	d := st[0].Data
	for k, v := range map[string]any{"applying": false, "enabled": true, "daemon_present": false, "idling": false,
		"lastrun": float64(0), "status": "stopped", "disable_message": ""} {
		if d[k] != v {
			t.Errorf("status %s = %#v, want %#v", k, d[k], v)
		}
	}
	if msg, _ := d["message"].(string); !strings.HasPrefix(msg, "Currently stopped; last completed run ") {
		t.Errorf("status message = %q", msg)
	}

	start := time.Now()
	ro := f.mcoRPC(t, "puppet", "runonce", "force=true", "-I", "pup1")
	if len(ro) != 1 || ro[0].StatusCode != 0 {
		t.Fatalf("mco rpc puppet runonce: %+v", ro)
	}
	want := "Started a Puppet run using the '" + wrapper + " --onetime --no-daemonize --color=false --show_diff --verbose --no-splay' command"
	if ro[0].Data["summary"] != want {
		t.Errorf("runonce summary = %q, want %q", ro[0].Data["summary"], want)
	}
	at, _ := ro[0].Data["initiated_at"].(float64)
	if at < float64(start.Unix()) {
		t.Fatalf("initiated_at = %v", ro[0].Data["initiated_at"])
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		d := f.mcoRPC(t, "puppet", "status", "-I", "pup1")[0].Data
		if last, _ := d["lastrun"].(float64); last >= at && d["applying"] == false {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run never finished: %v", d)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("runonce to a finished run, seen through mco: %s", time.Since(start).Round(10*time.Millisecond))

	// mco puppet runall discovers with the puppet data plugin: puppet().enabled=true.
	found := f.mco(t, "find", "-S", "puppet().enabled=true")
	if strings.TrimSpace(found) != "pup1" {
		t.Errorf("mco find -S puppet().enabled=true: %q", found)
	}
}

// puppetClient writes the client config with a libdir that holds the puppet agent and data
// plugin DDLs: the public plugin's own when PuppetPluginDirEnv names a checkout, else ones
// rendered from mcorun's JSON DDLs.
func (f *fleet) puppetClient(t *testing.T) {
	t.Helper()
	lib := filepath.Join(f.dir, "clientlib")
	if dir := os.Getenv(PuppetPluginDirEnv); dir != "" {
		if err := os.MkdirAll(lib, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(dir, filepath.Join(lib, "mcollective")); err != nil {
			t.Fatal(err)
		}
	} else {
		d, err := ddl.Builtin("puppet")
		if err != nil {
			t.Fatal(err)
		}
		dd, err := ddl.BuiltinData("puppet")
		if err != nil {
			t.Fatal(err)
		}
		for _, sub := range []string{"agent", "data"} {
			if err := os.MkdirAll(filepath.Join(lib, "mcollective", sub), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		write(t, filepath.Join(lib, "mcollective/agent/puppet.ddl"), ddl.RenderRuby(d))
		write(t, filepath.Join(lib, "mcollective/data/puppet_data.ddl"), ddl.RenderRubyData(dd))
	}
	write(t, filepath.Join(f.dir, "client.cfg"), f.common()+`identity = mco-test-client
libdir = `+lib+`:/usr/share/mcollective/plugins
logger_type = console
loglevel = error
`)
}
