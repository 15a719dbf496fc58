package service

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/clock"
)

// fakeSystemctl answers systemctl through the command seam: `show` prints the fixture of
// the unit's current state (testdata/systemctl-show, hand-written fixtures of systemctl's
// documented format, not captures), start/stop/restart move it between fixtures. It records
// every argv.
type fakeSystemctl struct {
	t     *testing.T
	state map[string]string // unit -> fixture name
	argv  [][]string
}

func (f *fakeSystemctl) run(ctx context.Context, name string, args ...string) ([]byte, []byte, int, error) {
	f.argv = append(f.argv, append([]string{name}, args...))
	if name != "systemctl" || len(args) == 0 {
		f.t.Errorf("unexpected command %s %v", name, args)
		return nil, nil, 1, nil
	}
	unit := args[len(args)-1]
	fixture, known := f.state[unit]
	switch args[0] {
	case "show":
		if !known {
			fixture = "not-found"
		}
		b, err := os.ReadFile(filepath.Join("testdata", "systemctl-show", fixture+".txt"))
		if err != nil {
			f.t.Fatal(err)
		}
		return b, nil, 0, nil
	case "start", "restart":
		if !known {
			return nil, []byte("Failed to " + args[0] + " " + unit + ".service: Unit " + unit + ".service not found.\n"), 5, nil
		}
		if fixture == "failed" {
			return nil, []byte("Job for " + unit + ".service failed because the control process exited with error code.\n"), 1, nil
		}
		f.state[unit] = "active-running"
	case "stop":
		if !known {
			return nil, []byte("Failed to stop " + unit + ".service: Unit " + unit + ".service not loaded.\n"), 5, nil
		}
		f.state[unit] = "inactive-dead"
	}
	return nil, nil, 0, nil
}

func systemdAgent(t *testing.T, state map[string]string) (*agent.Agent, *fakeSystemctl) {
	t.Helper()
	f := &fakeSystemctl{t: t, state: state}
	a, _, err := New(Options{Provider: "systemd", Run: f.run, Clock: clock.NewFake(t0)})
	if err != nil {
		t.Fatal(err)
	}
	return a, f
}

func TestParseShowFixtures(t *testing.T) {
	for fixture, want := range map[string]unitState{
		"active-running": {"active", "running", "loaded", "enabled"},
		"inactive-dead":  {"inactive", "dead", "loaded", "disabled"},
		"failed":         {"failed", "failed", "loaded", "enabled"},
		"not-found":      {"inactive", "dead", "not-found", ""},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", "systemctl-show", fixture+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseShow(b)
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", fixture, got, err, want)
		}
	}
	if _, err := parseShow([]byte("Id=x.service\n")); err == nil || !strings.Contains(err.Error(), "is systemd running") {
		t.Errorf("output without the states: %v", err)
	}
}

func TestSystemdStatusFixtures(t *testing.T) {
	a, f := systemdAgent(t, map[string]string{
		"nginx": "active-running", "cron": "inactive-dead", "bad": "failed",
		"slow": "activating", "sshd": "reloading",
	})
	for unit, st := range map[string]string{
		"nginx": Running, "cron": Stopped, "bad": Stopped, "slow": Stopped, "sshd": Running,
		"nosuch": Stopped, // LoadState=not-found: stopped, as the Ruby agent answers
	} {
		f.argv = nil
		want(t, call(t, a, "status", svcIn(unit)), 0, "", st)
		wantArgv := [][]string{{"systemctl", "show", "-p", "ActiveState,SubState,LoadState,UnitFileState", unit}}
		if !reflect.DeepEqual(f.argv, wantArgv) {
			t.Fatalf("status %s ran %q, want %q", unit, f.argv, wantArgv)
		}
	}
}

func TestSystemdActions(t *testing.T) {
	a, f := systemdAgent(t, map[string]string{"nginx": "active-running", "cron": "inactive-dead", "bad": "failed"})

	f.argv = nil
	want(t, call(t, a, "start", svcIn("cron")), 0, "", Running)
	show := func(u string) []string {
		return []string{"systemctl", "show", "-p", "ActiveState,SubState,LoadState,UnitFileState", u}
	}
	if wantArgv := [][]string{show("cron"), {"systemctl", "start", "cron"}, show("cron")}; !reflect.DeepEqual(f.argv, wantArgv) {
		t.Fatalf("start ran %q, want %q", f.argv, wantArgv)
	}
	want(t, call(t, a, "start", svcIn("nginx")), 1, "Could not start 'nginx': Service is already running", Running)

	f.argv = nil
	want(t, call(t, a, "stop", svcIn("nginx")), 0, "", Stopped)
	if wantArgv := [][]string{show("nginx"), {"systemctl", "stop", "nginx"}, show("nginx")}; !reflect.DeepEqual(f.argv, wantArgv) {
		t.Fatalf("stop ran %q, want %q", f.argv, wantArgv)
	}
	want(t, call(t, a, "stop", svcIn("nginx")), 1, "Could not stop 'nginx': Service is already stopped", Stopped)

	f.argv = nil
	want(t, call(t, a, "restart", svcIn("nginx")), 0, "", Running)
	if wantArgv := [][]string{{"systemctl", "restart", "nginx"}, show("nginx")}; !reflect.DeepEqual(f.argv, wantArgv) {
		t.Fatalf("restart ran %q, want %q", f.argv, wantArgv)
	}

	want(t, call(t, a, "start", svcIn("bad")), 5,
		"Could not start Service[bad]: execution of 'systemctl start bad' returned 1: Job for bad.service failed because the control process exited with error code.", "unknown")
	want(t, call(t, a, "start", svcIn("nosuch")), 5,
		"Could not start Service[nosuch]: execution of 'systemctl start nosuch' returned 5: Failed to start nosuch.service: Unit nosuch.service not found.", "unknown")
	want(t, call(t, a, "stop", svcIn("nosuch")), 1, "Could not stop 'nosuch': Service is already stopped", Stopped)
	want(t, call(t, a, "restart", svcIn("nosuch")), 5,
		"Could not restart Service[nosuch]: execution of 'systemctl restart nosuch' returned 5: Failed to restart nosuch.service: Unit nosuch.service not found.", "unknown")
}

// A systemctl that cannot run (here: the command seam fails) is an UnknownError naming it.
func TestSystemdCommandMissing(t *testing.T) {
	a, _, err := New(Options{Provider: "systemd", Clock: clock.NewFake(t0), Run: func(ctx context.Context, name string, args ...string) ([]byte, []byte, int, error) {
		return nil, nil, -1, os.ErrNotExist
	}})
	if err != nil {
		t.Fatal(err)
	}
	rep := call(t, a, "status", svcIn("nginx"))
	if rep.Status != 5 || !strings.HasPrefix(rep.Message, "Could not get the status of Service[nginx]: execution of 'systemctl show") || rep.Data["status"] != "unknown" {
		t.Fatalf("reply %d %q %v", rep.Status, rep.Message, rep.Data)
	}
}
