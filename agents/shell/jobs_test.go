package shell

import (
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

func TestBackgroundJob(t *testing.T) {
	ts := newTestShell(t, nil)
	h := ts.mustOK("start", map[string]any{"command": "echo one; sleep 1; echo two; echo warn >&2"})["handle"].(string)
	if !handleRE.MatchString(h) {
		t.Fatalf("handle %q is not a UUID", h)
	}
	d := ts.mustOK("status", map[string]any{"handle": h})
	if d["status"] != symbol("running") || d["exitcode"] != nil {
		t.Errorf("status right after start: %v exitcode %v, want running and none", d["status"], d["exitcode"])
	}
	d = ts.waitStatus(h, "stopped")
	if d["exitcode"] != int64(0) || d["stdout"] != "one\ntwo\n" || d["stderr"] != "warn\n" {
		t.Errorf("stopped job: %v", d)
	}
	d = ts.mustOK("status", map[string]any{"handle": h, "stdout_offset": int64(4), "stderr_offset": int64(5)})
	if d["stdout"] != "two\n" || d["stderr"] != "" {
		t.Errorf("from the offsets: stdout %q stderr %q, want only the new output", d["stdout"], d["stderr"])
	}
	jobs := ts.mustOK("list", nil)["jobs"].(map[string]any)
	want := map[marshal.Symbol]any{"id": h, "command": "echo one; sleep 1; echo two; echo warn >&2", "status": symbol("stopped"), "signal": int64(0)}
	got, _ := jobs[h].(map[marshal.Symbol]any)
	if len(jobs) != 1 || len(got) != len(want) {
		t.Fatalf("list = %v", jobs)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("list: %s = %#v, want %#v", k, got[k], v)
		}
	}
}

func TestBackgroundExitCode(t *testing.T) {
	ts := newTestShell(t, nil)
	h := ts.mustOK("start", map[string]any{"command": "exit 7"})["handle"].(string)
	if d := ts.waitStatus(h, "stopped"); d["exitcode"] != int64(7) {
		t.Errorf("exitcode %v, want 7", d["exitcode"])
	}
}

// TestStatusPages: one status reply carries at most MaxOutput bytes of each output; the
// offsets read on.
func TestStatusPages(t *testing.T) {
	ts := newTestShell(t, func(o *Options) { o.MaxOutput = 4 })
	h := ts.mustOK("start", map[string]any{"command": "printf abcdefghij"})["handle"].(string)
	ts.waitStatus(h, "stopped")
	var all string
	for off := int64(0); off < 20; off += 4 {
		all += ts.mustOK("status", map[string]any{"handle": h, "stdout_offset": off})["stdout"].(string)
	}
	if all != "abcdefghij" {
		t.Errorf("paged output %q", all)
	}
}

func TestKillJob(t *testing.T) {
	ts := newTestShell(t, nil)
	h := ts.mustOK("start", map[string]any{"command": "sleep 100 & echo $!; sleep 100; wait"})["handle"].(string)
	var d map[string]any
	for d == nil || d["stdout"] == "" {
		d = ts.waitStatus(h, "running")
	}
	grandchild := pids(t, d["stdout"].(string))
	j, err := ts.s.jobs.load(h)
	if err != nil || j.pgid == 0 {
		t.Fatalf("job %s: pgid %d, %v", h, j.pgid, err)
	}
	ts.mustOK("kill", map[string]any{"handle": h})
	waitGone(t, j.pgid, grandchild...)
	d = ts.mustOK("status", map[string]any{"handle": h})
	if d["status"] != symbol("stopped") || d["exitcode"] != int64(143) {
		t.Errorf("after kill: %v exitcode %v, want stopped 143 (SIGTERM)", d["status"], d["exitcode"])
	}
	sig := ts.mustOK("list", nil)["jobs"].(map[string]any)[h].(map[marshal.Symbol]any)["signal"]
	if sig != int64(15) {
		t.Errorf("list signal %v, want 15", sig)
	}
	// Killing a stopped job is no error and changes nothing.
	ts.mustOK("kill", map[string]any{"handle": h})
}

// TestKillEscalates: a job that ignores SIGTERM is killed with SIGKILL after the grace.
func TestKillEscalates(t *testing.T) {
	ts := newTestShell(t, func(o *Options) { o.KillGrace = 300_000_000 })
	h := ts.mustOK("start", map[string]any{"command": "trap '' TERM; echo ready; sleep 100"})["handle"].(string)
	for d := ts.waitStatus(h, "running"); d["stdout"] == ""; d = ts.waitStatus(h, "running") {
	}
	ts.mustOK("kill", map[string]any{"handle": h})
	j, _ := ts.s.jobs.load(h)
	waitGone(t, j.pgid)
	if d := ts.mustOK("status", map[string]any{"handle": h}); d["status"] != symbol("stopped") {
		t.Errorf("after kill: %v", d)
	}
}

// TestRestart: jobs outlive the agent that started them; a new agent over the same state
// path sees them, their exit codes, and kills them.
func TestRestart(t *testing.T) {
	a := newTestShell(t, nil)
	short := a.mustOK("start", map[string]any{"command": "sleep 1; echo done; exit 3"})["handle"].(string)
	long := a.mustOK("start", map[string]any{"command": "sleep 100"})["handle"].(string)
	state := a.s.opts.StatePath
	a = nil

	b := newTestShell(t, func(o *Options) { o.StatePath = state })
	jobs := b.mustOK("list", nil)["jobs"].(map[string]any)
	if len(jobs) != 2 || jobs[short] == nil || jobs[long] == nil {
		t.Fatalf("list after restart: %v", jobs)
	}
	d := b.waitStatus(short, "stopped")
	if d["exitcode"] != int64(3) || d["stdout"] != "done\n" {
		t.Errorf("the short job after restart: %v", d)
	}
	if d := b.mustOK("status", map[string]any{"handle": long}); d["status"] != symbol("running") {
		t.Errorf("the long job after restart: %v", d)
	}
	b.mustOK("kill", map[string]any{"handle": long})
	if d := b.mustOK("status", map[string]any{"handle": long}); d["status"] != symbol("stopped") || d["exitcode"] != int64(143) {
		t.Errorf("the long job killed after restart: %v", d)
	}
}

func TestJobBadInput(t *testing.T) {
	ts := newTestShell(t, nil)
	cases := []struct {
		action string
		data   map[string]any
		status message.Status
		msg    string
	}{
		{"status", map[string]any{"handle": "0f8fad5b-d9cb-469f-a165-70867728950e"}, message.Aborted, "no such job: the list action shows the jobs"},
		{"kill", map[string]any{"handle": "0f8fad5b-d9cb-469f-a165-70867728950e"}, message.Aborted, "no such job"},
		{"status", map[string]any{"handle": ""}, message.Aborted, " is not a job handle"},
		{"status", map[string]any{"handle": "0f8fad5b-d9cb-469f-a165-70867728950e", "stdout_offset": int64(-1)}, message.InvalidData, "offset -1 is negative"},
		{"status", map[string]any{"handle": "../x"}, message.InvalidData, "Cannot validate input handle"},
	}
	for _, c := range cases {
		rep := ts.call(c.action, c.data)
		if rep.Status != c.status || !strings.Contains(rep.Message, c.msg) {
			t.Errorf("%s %v: %v %q, want %v %q", c.action, c.data, rep.Status, rep.Message, c.status, c.msg)
		}
	}
}
