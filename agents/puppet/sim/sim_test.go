package sim

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/agent/agenttest"
)

// newSim starts a simulated Puppet in a temp dir with short runs unless opts says otherwise.
func newSim(t *testing.T, opts Options) *Puppet {
	t.Helper()
	opts.Dir = t.TempDir()
	if opts.MinRunTime == 0 && opts.MaxRunTime == 0 {
		opts.MinRunTime, opts.MaxRunTime = 20*time.Millisecond, 40*time.Millisecond
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// call runs an action as mcod's pipeline does (agenttest.Call).
func call(t *testing.T, a *agent.Agent, action string, in map[string]any) *agent.Reply {
	t.Helper()
	return agenttest.Call(t, a, action, in)
}

// runToEnd starts a forced run and waits until status shows it finished, as a playbook does.
func runToEnd(t *testing.T, a *agent.Agent) {
	t.Helper()
	rep := call(t, a, "runonce", map[string]any{"force": true})
	if rep.Status != 0 {
		t.Fatalf("runonce: %d %s", rep.Status, rep.Message)
	}
	at := rep.Data["initiated_at"].(int64)
	if st := call(t, a, "status", nil); st.Data["applying"] != true {
		t.Fatalf("status right after runonce: %v, want applying", st.Data)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := call(t, a, "status", nil)
		if last, _ := st.Data["lastrun"].(int64); st.Data["applying"] == false && last >= at {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run did not finish: %v", st.Data)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunWritesSummary(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		failed int64
		logs   []string
	}{
		{name: "ok", opts: Options{Seed: 1}, logs: []string{"Applying configuration version", "Applied catalog in"}},
		{name: "failing", opts: Options{FailedResources: 2}, failed: 2, logs: []string{"change from 'notrun' to ['0'] failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, tt.opts)
			a := s.Agent()
			before := call(t, a, "last_run_summary", nil)
			if since := before.Data["since_lastrun"].(int64); since < 1700 {
				t.Errorf("initial since_lastrun = %d, want about 1800", since)
			}
			runToEnd(t, a)
			rep := call(t, a, "last_run_summary", map[string]any{"logs": true})
			if rep.Status != 0 {
				t.Fatalf("last_run_summary: %d %s", rep.Status, rep.Message)
			}
			if got := rep.Data["failed_resources"]; got != tt.failed {
				t.Errorf("failed_resources = %#v, want %d", got, tt.failed)
			}
			if got := rep.Data["total_resources"]; got != int64(DefaultResources) {
				t.Errorf("total_resources = %#v", got)
			}
			total, _ := rep.Data["total_time"].(float64)
			if total < 0.02 || total > 0.04 {
				t.Errorf("total_time = %#v, want 0.02 to 0.04", rep.Data["total_time"])
			}
			summary := rep.Data["summary"].(map[string]any)
			for _, k := range []string{"version", "application", "resources", "time", "changes", "events"} {
				if _, ok := summary[k].(map[string]any); !ok {
					t.Errorf("summary lacks section %s: %v", k, summary)
				}
			}
			if v := summary["version"].(map[string]any)["puppet"]; v != puppetVersion {
				t.Errorf("version.puppet = %#v", v)
			}
			if ev := summary["events"].(map[string]any)["failure"]; ev != tt.failed {
				t.Errorf("events.failure = %#v, want %d", ev, tt.failed)
			}
			var msgs []string
			for _, l := range rep.Data["logs"].([]any) {
				msgs = append(msgs, l.(map[string]any)["msg"].(string))
			}
			for _, w := range tt.logs {
				if !strings.Contains(strings.Join(msgs, "\n"), w) {
					t.Errorf("logs lack %q: %q", w, msgs)
				}
			}
			if dist := rep.Data["type_distribution"].(map[string]any); dist["File"] != int64(16) {
				t.Errorf("type_distribution = %v", dist)
			}
			if s.Runs() != 1 {
				t.Errorf("runs = %d, want 1", s.Runs())
			}
		})
	}
}

func TestDisabled(t *testing.T) {
	s := newSim(t, Options{Disabled: "maintenance: disk swap"})
	a := s.Agent()
	st := call(t, a, "status", nil)
	if st.Data["enabled"] != false || st.Data["disable_message"] != "maintenance: disk swap" || st.Data["status"] != "disabled" {
		t.Errorf("status = %v", st.Data)
	}
	d, err := s.DataPlugin().Lookup(context.Background(), nil)
	if err != nil || d["enabled"] != false {
		t.Errorf("data plugin = %v, %v", d, err)
	}
	rep := call(t, a, "runonce", map[string]any{"force": true})
	if rep.Status == 0 || !strings.Contains(rep.Message, "Puppet is disabled: 'maintenance: disk swap'") {
		t.Errorf("runonce on a disabled agent: %d %s", rep.Status, rep.Message)
	}
	if rep := call(t, a, "enable", nil); rep.Status != 0 || rep.Data["enabled"] != true {
		t.Fatalf("enable: %d %s %v", rep.Status, rep.Message, rep.Data)
	}
	runToEnd(t, a)
}

func TestHangAndClose(t *testing.T) {
	s := newSim(t, Options{Hang: true})
	a := s.Agent()
	if rep := call(t, a, "runonce", map[string]any{"force": true}); rep.Status != 0 {
		t.Fatalf("runonce: %d %s", rep.Status, rep.Message)
	}
	time.Sleep(100 * time.Millisecond) // many run times
	st := call(t, a, "status", nil)
	if st.Data["applying"] != true {
		t.Errorf("a hanging run: status %v, want applying", st.Data)
	}
	rep := call(t, a, "runonce", map[string]any{"force": true})
	if rep.Status == 0 || !strings.Contains(rep.Message, "currently applying a catalog") {
		t.Errorf("runonce while applying: %d %s", rep.Status, rep.Message)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Paths().CatalogRunLock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run lock after Close: %v", err)
	}
	if err := s.launch(context.Background(), []string{"puppet", "agent"}); !errors.Is(err, ErrClosed) {
		t.Errorf("launch after Close: %v, want ErrClosed", err)
	}
}

func TestSeedRepeats(t *testing.T) {
	times := func(seed uint64) []any {
		s := newSim(t, Options{Seed: seed, MinRunTime: 10 * time.Millisecond, MaxRunTime: 50 * time.Millisecond})
		var out []any
		for range 3 {
			runToEnd(t, s.Agent())
			rep := call(t, s.Agent(), "last_run_summary", nil)
			out = append(out, rep.Data["total_time"], rep.Data["changed_resources"])
		}
		return out
	}
	a, b, c := times(7), times(7), times(8)
	if !equal(a, b) {
		t.Errorf("seed 7 twice: %v and %v", a, b)
	}
	if equal(a, c) {
		t.Errorf("seeds 7 and 8 gave the same runs: %v", a)
	}
}

func TestNoop(t *testing.T) {
	s := newSim(t, Options{Seed: 3})
	a := s.Agent()
	rep := call(t, a, "runonce", map[string]any{"force": true, "noop": true})
	if rep.Status != 0 || !strings.Contains(rep.Data["summary"].(string), "--noop") {
		t.Fatalf("runonce noop: %d %s %v", rep.Status, rep.Message, rep.Data)
	}
	deadline := time.Now().Add(5 * time.Second)
	for call(t, a, "status", nil).Data["applying"] == true && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	sum := call(t, a, "last_run_summary", nil)
	if sum.Data["changed_resources"] != int64(0) {
		t.Errorf("noop run changed %v resources", sum.Data["changed_resources"])
	}
}

func equal(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
