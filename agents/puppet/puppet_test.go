package puppet

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/testenv"
)

// These tests run real Puppet: each node has its own puppet.conf, and runonce does a real
// puppet apply, so every file the agent reads is one Puppet wrote.

func TestStatusBeforeAnyRun(t *testing.T) {
	t.Parallel()
	n := newPuppetNode(t, goodManifest, nil)
	st := call(t, n.a, "status", nil)
	if st.Status != message.OK {
		t.Fatalf("status: %d %s", st.Status, st.Message)
	}
	want := map[string]any{"applying": false, "enabled": true, "daemon_present": false, "idling": false,
		"lastrun": int64(0), "status": "stopped", "disable_message": ""}
	for k, v := range want {
		if st.Data[k] != v {
			t.Errorf("status %s = %#v, want %#v", k, st.Data[k], v)
		}
	}
	since, _ := st.Data["since_lastrun"].(int64)
	if d := time.Now().Unix() - since; d < 0 || d > 5 {
		t.Errorf("since_lastrun = %v, want about the epoch now", st.Data["since_lastrun"])
	}
	if msg, _ := st.Data["message"].(string); !strings.HasPrefix(msg, "Currently stopped; last completed run ") || !strings.HasSuffix(msg, " seconds ago") {
		t.Errorf("message = %q", msg)
	}
	sum := call(t, n.a, "last_run_summary", nil)
	if sum.Status != message.OK || sum.Data["lastrun"] != int64(0) || sum.Data["failed_resources"] != int64(0) || sum.Data["config_version"] != "unknown" {
		t.Errorf("last_run_summary before a run: %d %s %v", sum.Status, sum.Message, sum.Data)
	}
	got, err := n.p.DataPlugin().Lookup(context.Background(), nil)
	if err != nil || got["enabled"] != true || got["status"] != "stopped" || got["lastrun"] != int64(0) {
		t.Errorf("puppet data = %v, %v", got, err)
	}
	if _, ok := got["message"]; ok {
		t.Error("puppet data has a message output")
	}
}

func TestRunonceGoodManifest(t *testing.T) {
	t.Parallel()
	n := newPuppetNode(t, goodManifest, nil)
	rep := n.runToEnd(t)
	wantCmd := n.p.opts.Command + " --onetime --no-daemonize --color=false --show_diff --verbose --no-splay"
	if rep.Data["summary"] != "Started a Puppet run using the '"+wantCmd+"' command" {
		t.Errorf("summary = %q", rep.Data["summary"])
	}
	st := call(t, n.a, "status", nil)
	if st.Data["status"] != "stopped" || !strings.HasPrefix(st.Data["message"].(string), "Currently stopped; last completed run ") {
		t.Errorf("status after run: %v", st.Data)
	}
	sum := call(t, n.a, "last_run_summary", nil)
	if sum.Status != message.OK {
		t.Fatalf("last_run_summary: %d %s", sum.Status, sum.Message)
	}
	d := sum.Data
	if d["failed_resources"] != int64(0) || d["changed_resources"] != int64(2) || d["out_of_sync_resources"] != int64(2) {
		t.Errorf("resources: failed %v changed %v out_of_sync %v", d["failed_resources"], d["changed_resources"], d["out_of_sync_resources"])
	}
	if total, _ := d["total_resources"].(int64); total < 2 {
		t.Errorf("total_resources = %#v", d["total_resources"])
	}
	if tt, _ := d["total_time"].(float64); tt < 1 {
		t.Errorf("total_time = %#v, want a float over 1s (the exec sleeps 1s)", d["total_time"])
	}
	if _, ok := d["config_retrieval_time"].(float64); !ok {
		t.Errorf("config_retrieval_time = %#v", d["config_retrieval_time"])
	}
	if _, ok := d["config_version"].(int64); !ok {
		t.Errorf("config_version = %#v", d["config_version"])
	}
	if logs, ok := d["logs"].(map[string]any); !ok || len(logs) != 0 {
		t.Errorf("logs = %#v, want {} when not asked for", d["logs"])
	}
	summary, _ := d["summary"].(map[string]any)
	if res, _ := summary["resources"].(map[string]any); res["failed"] != int64(0) {
		t.Errorf("summary = %#v", summary)
	}
	withLogs := call(t, n.a, "last_run_summary", map[string]any{"logs": true})
	logs, _ := withLogs.Data["logs"].([]any)
	found := false
	for _, l := range logs {
		m, _ := l.(map[string]any)
		found = found || m["msg"] == "hi" && m["level"] == "notice" && m["time"].(int64) > 0
	}
	if !found {
		t.Errorf("logs do not have the notify's line: %v", logs)
	}
}

func TestRunonceFailingManifest(t *testing.T) {
	t.Parallel()
	n := newPuppetNode(t, failManifest, nil)
	n.runToEnd(t)
	sum := call(t, n.a, "last_run_summary", nil)
	if failed, _ := sum.Data["failed_resources"].(int64); failed < 1 {
		t.Errorf("failed_resources = %#v, want > 0", sum.Data["failed_resources"])
	}
}

func TestDisableEnable(t *testing.T) {
	t.Parallel()
	n := newPuppetNode(t, goodManifest, nil)
	rep := call(t, n.a, "disable", map[string]any{"message": "maintenance window"})
	if rep.Status != message.OK || rep.Data["status"] != "Succesfully locked the Puppet agent: maintenance window" || rep.Data["enabled"] != false {
		t.Fatalf("disable: %d %q %v", rep.Status, rep.Message, rep.Data)
	}
	st := call(t, n.a, "status", nil)
	if st.Data["enabled"] != false || st.Data["status"] != "disabled" || st.Data["disable_message"] != "maintenance window" {
		t.Errorf("status when disabled: %v", st.Data)
	}
	if got, _ := n.p.DataPlugin().Lookup(context.Background(), nil); got["enabled"] != false {
		t.Errorf("puppet data enabled = %v", got["enabled"])
	}
	run := call(t, n.a, "runonce", map[string]any{"force": true})
	if run.Status != message.Aborted || run.Message != "Puppet is disabled: 'maintenance window'" || run.Data["summary"] != run.Message || run.Data["initiated_at"] != int64(0) {
		t.Errorf("runonce when disabled: %d %q %v", run.Status, run.Message, run.Data)
	}
	again := call(t, n.a, "disable", nil)
	if again.Status != message.Aborted || again.Message != "Could not disable Puppet: Already disabled" || again.Data["enabled"] != false {
		t.Errorf("disable twice: %d %q %v", again.Status, again.Message, again.Data)
	}
	en := call(t, n.a, "enable", nil)
	if en.Status != message.OK || en.Data["status"] != "Succesfully enabled the Puppet agent" || en.Data["enabled"] != true {
		t.Errorf("enable: %d %q %v", en.Status, en.Message, en.Data)
	}
	en = call(t, n.a, "enable", nil)
	if en.Status != message.Aborted || en.Message != "Could not enable Puppet: Already enabled" || en.Data["status"] != en.Message {
		t.Errorf("enable twice: %d %q %v", en.Status, en.Message, en.Data)
	}

	// Puppet's own lock: puppet agent --disable writes it and the agent reads it.
	out, err := exec.Command(testenv.RequirePuppet(t), "agent", "--disable", "locked by puppet", "--config", n.conf).CombinedOutput()
	if err != nil {
		t.Fatalf("puppet agent --disable: %v\n%s", err, out)
	}
	st = call(t, n.a, "status", nil)
	if st.Data["enabled"] != false || st.Data["disable_message"] != "locked by puppet" {
		t.Errorf("status after puppet agent --disable: %v", st.Data)
	}
	def := call(t, n.a, "disable", nil)
	if def.Status != message.Aborted {
		t.Errorf("disable over puppet's lock: %d %q", def.Status, def.Message)
	}
	if en := call(t, n.a, "enable", nil); en.Status != message.OK {
		t.Errorf("enable over puppet's lock: %d %q", en.Status, en.Message)
	}
	// The default message names the caller and the time.
	def = call(t, n.a, "disable", nil)
	if s, _ := def.Data["status"].(string); !strings.HasPrefix(s, "Succesfully locked the Puppet agent: Disabled via MCollective by uid=0 at ") {
		t.Errorf("default disable status = %q", s)
	}
	if _, err := os.Stat(n.p.Paths().DisabledLock); err != nil {
		t.Errorf("disable lock: %v", err)
	}
}

func TestApplyingWhileRunning(t *testing.T) {
	t.Parallel()
	n := newPuppetNode(t, slowManifest, nil)
	rep := call(t, n.a, "runonce", map[string]any{"force": true})
	if rep.Status != message.OK {
		t.Fatalf("runonce: %d %s", rep.Status, rep.Message)
	}
	at := rep.Data["initiated_at"].(int64)
	waitFor(t, 30*time.Second, "status applying", func() bool {
		return call(t, n.a, "status", nil).Data["applying"] == true
	})
	st := call(t, n.a, "status", nil)
	if st.Data["status"] != "applying a catalog" || st.Data["idling"] != false {
		t.Errorf("status while applying: %v", st.Data)
	}
	if got, _ := n.p.DataPlugin().Lookup(context.Background(), nil); got["applying"] != true {
		t.Errorf("puppet data applying = %v", got["applying"])
	}
	busy := call(t, n.a, "runonce", map[string]any{"force": true})
	if busy.Status != message.Aborted || busy.Message != "Puppet is currently applying a catalog, cannot run now" {
		t.Errorf("runonce while applying: %d %q", busy.Status, busy.Message)
	}
	waitFor(t, 60*time.Second, "the run to finish", func() bool {
		st := call(t, n.a, "status", nil)
		return st.Data["applying"] == false && st.Data["lastrun"].(int64) >= at
	})
}

func TestResource(t *testing.T) {
	t.Parallel()
	n := newPuppetNode(t, goodManifest, nil)
	target := filepath.Join(n.dir, "made-by-resource")
	rep := call(t, n.a, "resource", map[string]any{"type": "file", "name": target, "ensure": "present"})
	if rep.Status != message.Aborted || rep.Message != "The file type is not listed in the type whitelist" {
		t.Errorf("resource by default: %d %q", rep.Status, rep.Message)
	}
	if _, err := os.Stat(target); err == nil {
		t.Error("a denied resource was applied")
	}

	allowed := newPuppetNode(t, goodManifest, func(o *Options) { o.ResourceTypeWhitelist = "file,package" })
	rep = call(t, allowed.a, "resource", map[string]any{"type": "File", "name": target, "ensure": "present"})
	if rep.Status != message.OK || rep.Data["changed"] != true {
		t.Fatalf("whitelisted resource: %d %q %v", rep.Status, rep.Message, rep.Data)
	}
	if _, err := os.Stat(target); err != nil {
		t.Errorf("resource not applied: %v", err)
	}
	rep = call(t, allowed.a, "resource", map[string]any{"type": "user", "name": "nobody"})
	if rep.Status != message.Aborted || rep.Message != "The user type is not listed in the type whitelist" {
		t.Errorf("resource user: %d %q", rep.Status, rep.Message)
	}
}
