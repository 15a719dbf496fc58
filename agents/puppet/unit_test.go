package puppet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/message"
)

// These tests need no Puppet: the agent works on files in a temp dir, and the run command is
// a script that records its arguments.

// fakeNode returns an agent over Paths in a temp dir whose command writes its arguments to
// the returned file.
func fakeNode(t *testing.T, tweak func(*Options)) (*Puppet, string) {
	t.Helper()
	dir := t.TempDir()
	args := filepath.Join(dir, "args")
	cmd := filepath.Join(dir, "record")
	writeFile(t, cmd, "#!/bin/sh\necho \"$@\" > "+args+".tmp && mv "+args+".tmp "+args+"\n")
	if err := os.Chmod(cmd, 0o755); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	opts := DefaultOptions()
	opts.Command = cmd
	opts.Paths = &Paths{
		LastRunFile: filepath.Join(dir, "last_run_summary.yaml"), LastRunReport: filepath.Join(state, "last_run_report.yaml"),
		DisabledLock: filepath.Join(state, "agent_disabled.lock"), CatalogRunLock: filepath.Join(state, "agent_catalog_run.lock"),
		PidFile: filepath.Join(dir, "agent.pid"), ResourceFile: filepath.Join(state, "resources.txt"),
	}
	opts.Now = func() time.Time { return time.Unix(1700000000, 0) }
	if tweak != nil {
		tweak(&opts)
	}
	p, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, args
}

func TestRunonceCommandLine(t *testing.T) {
	tests := []struct {
		name  string
		opts  func(*Options)
		in    map[string]any
		flags string
	}{
		{"defaults splay", nil, nil, "--splay --splaylimit 30"},
		{"force", nil, map[string]any{"force": true, "splay": true}, "--no-splay"},
		{"config no splay", func(o *Options) { o.Splay = false }, nil, "--no-splay"},
		{"request splay", func(o *Options) { o.Splay = false }, map[string]any{"splay": true, "splaylimit": int64(5)}, "--splay --splaylimit 5"},
		{"everything", nil, map[string]any{"force": true, "noop": true, "tags": "a,b::c", "environment": "prod",
			"use_cached_catalog": false, "ignoreschedules": true},
			"--tags a,b::c --no-splay --noop --environment prod --ignoreschedules --no-use_cached_catalog"},
		{"server", func(o *Options) { o.AllowServerOverride = true }, map[string]any{"force": true, "server": "puppet.example.com:8141", "noop": false, "use_cached_catalog": true},
			"--no-splay --no-noop --server puppet.example.com --masterport 8141 --use_cached_catalog"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, args := fakeNode(t, tt.opts)
			rep := call(t, p.Agent(), "runonce", tt.in)
			want := "--onetime --no-daemonize --color=false --show_diff --verbose " + tt.flags
			if rep.Status != message.OK || rep.Data["summary"] != fmt.Sprintf("Started a Puppet run using the '%s %s' command", p.opts.Command, want) {
				t.Fatalf("runonce: %d %q %v", rep.Status, rep.Message, rep.Data)
			}
			if rep.Data["initiated_at"] != int64(1700000000) {
				t.Errorf("initiated_at = %#v", rep.Data["initiated_at"])
			}
			waitFor(t, 10*time.Second, "the command to run", func() bool {
				b, _ := os.ReadFile(args)
				return strings.TrimSpace(string(b)) == want
			})
		})
	}
}

func TestRunonceRefusals(t *testing.T) {
	tests := []struct {
		name   string
		in     map[string]any
		status message.Status
		msg    string
	}{
		{"server not allowed", map[string]any{"server": "puppet"}, message.Aborted, "Passing 'server' option is not allowed in module configuration"},
		{"bad tag", map[string]any{"tags": "a,b-c"}, message.InvalidData, "Cannot validate input tags: Invalid variable name 'b-c' specified"},
		{"unsafe tag", map[string]any{"tags": "a;b"}, message.InvalidData, "Cannot validate input tags: value should not have ; in it"},
		{"bad environment", map[string]any{"environment": "x y"}, message.InvalidData, "Cannot validate input environment: Invalid variable name 'x y' specified"},
		{"bad server", map[string]any{"server": "-x:80"}, message.InvalidData, "Cannot validate input server: The hostname '-x' is not a valid hostname"},
		{"bad port", map[string]any{"server": "[::1]:x"}, message.InvalidData, "Cannot validate input server: The port 'x' is not a valid puppet master port"},
		{"float splaylimit", map[string]any{"splaylimit": 10.0}, message.Aborted, "Invalid splaylimit '10.0' specified"},
		{"huge float splaylimit", map[string]any{"splaylimit": 1e20}, message.Aborted, "Invalid splaylimit '1.0e+20' specified"},
		{"string force", map[string]any{"force": "yes"}, message.InvalidData, "Cannot validate input force: value should be a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, _ := fakeNode(t, nil)
			rep := call(t, p.Agent(), "runonce", tt.in)
			if rep.Status != tt.status || rep.Message != tt.msg {
				t.Errorf("runonce %v: %d %q; want %d %q", tt.in, rep.Status, rep.Message, tt.status, tt.msg)
			}
		})
	}
}

func TestRunonceSignalsDaemon(t *testing.T) {
	p, args := fakeNode(t, nil)
	got := filepath.Join(filepath.Dir(args), "usr1")
	ready := got + ".ready"
	daemon := exec.Command("/bin/sh", "-c", "trap 'echo usr1 > "+got+"' USR1; touch "+ready+"; while :; do sleep 0.1; done")
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = daemon.Process.Kill(); _ = daemon.Wait() })
	waitFor(t, 10*time.Second, "the daemon to trap USR1", func() bool { _, err := os.Stat(ready); return err == nil })
	writeFile(t, p.Paths().PidFile, fmt.Sprintf("%d\n", daemon.Process.Pid))
	a := p.Agent()
	st := call(t, a, "status", nil)
	if st.Data["daemon_present"] != true || st.Data["idling"] != true || st.Data["status"] != "idling" {
		t.Errorf("status with a daemon: %v", st.Data)
	}
	rep := call(t, a, "runonce", map[string]any{"noop": true})
	if rep.Status != message.Aborted || rep.Message != "Cannot specify any custom puppet options when the daemon is running" {
		t.Errorf("runonce noop with a daemon: %d %q", rep.Status, rep.Message)
	}
	rep = call(t, a, "runonce", map[string]any{"force": true})
	if rep.Status != message.OK || rep.Data["summary"] != "Signalled the running Puppet Daemon" {
		t.Fatalf("runonce with a daemon: %d %q %v", rep.Status, rep.Message, rep.Data)
	}
	waitFor(t, 10*time.Second, "the daemon to get USR1", func() bool { _, err := os.Stat(got); return err == nil })
}

func TestLastRunSummaryFile(t *testing.T) {
	p, _ := fakeNode(t, nil)
	writeFile(t, p.Paths().LastRunFile, "---\nversion:\n  config: abc\n  puppet: 7.23.0\nresources:\n  changed: 1\n  total: 7\ntime:\n  total: 2.5\n  last_run: 1699999000\n")
	writeFile(t, p.Paths().ResourceFile, "file[/etc/motd]\nfile[/etc/hosts]\nfoo::bar[x]\n")
	rep := call(t, p.Agent(), "last_run_summary", nil)
	d := rep.Data
	if d["changed_resources"] != int64(1) || d["total_resources"] != int64(7) || d["failed_resources"] != int64(0) ||
		d["total_time"] != 2.5 || d["config_retrieval_time"] != int64(0) || d["lastrun"] != int64(1699999000) ||
		d["since_lastrun"] != int64(1000) || d["config_version"] != "abc" {
		t.Errorf("last_run_summary = %v", d)
	}
	dist, _ := d["type_distribution"].(map[string]any)
	if dist["File"] != int64(2) || dist["Foo::Bar"] != int64(1) {
		t.Errorf("type_distribution = %v", dist)
	}
	st := call(t, p.Agent(), "status", nil)
	if st.Data["message"] != "Currently stopped; last completed run 16 minutes 40 seconds ago" {
		t.Errorf("message = %q", st.Data["message"])
	}
	rep = call(t, p.Agent(), "resource", map[string]any{"type": "file", "name": "/etc/motd"})
	if rep.Message != "The file type is not listed in the type whitelist" {
		t.Errorf("resource: %q", rep.Message)
	}
	q, _ := fakeNode(t, func(o *Options) { o.ResourceTypeWhitelist = "file" })
	writeFile(t, q.Paths().ResourceFile, "file[/etc/motd]\n")
	rep = call(t, q.Agent(), "resource", map[string]any{"type": "file", "name": "/etc/motd"})
	if rep.Message != "Puppet is managing the resource 'File[/etc/motd]', refusing to create conflicting states" {
		t.Errorf("resource managed: %q", rep.Message)
	}
	r, _ := fakeNode(t, func(o *Options) { o.ResourceTypeBlacklist = "exec" })
	rep = call(t, r.Agent(), "resource", map[string]any{"type": "Exec", "name": "rm"})
	if rep.Message != "The exec type is listed in the type blacklist" {
		t.Errorf("resource blacklisted: %q", rep.Message)
	}
}

func TestSecondsToHuman(t *testing.T) {
	tests := map[int64]string{
		0: "00 seconds", 5: "05 seconds", 123: "2 minutes 03 seconds", 3600: "1 hours 0 minutes 00 seconds",
		86400 + 3661: "1 day 1 hours 1 minutes 01 seconds", 3 * 86400: "3 days 0 hours 0 minutes 00 seconds",
		-5: "23 hours 59 minutes 55 seconds",
	}
	for in, want := range tests {
		if got := secondsToHuman(in); got != want {
			t.Errorf("secondsToHuman(%d) = %q, want %q", in, got, want)
		}
	}
}
