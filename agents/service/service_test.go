package service

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/config"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func simAgent(t *testing.T, c clock.Clock) (*agent.Agent, *agent.DataPlugin) {
	t.Helper()
	a, d, err := New(Options{Provider: "sim", Clock: c, Sim: []SimService{
		{Name: "nginx", State: Running},
		{Name: "cron", State: Stopped},
		{Name: "broken", FailStart: true, FailMessage: "Job for broken.service failed because the control process exited with error code."},
		{Name: "slow", State: Running, RestartTime: 30 * time.Second},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return a, d
}

func svcIn(name string) map[string]any { return map[string]any{"service": name} }

func TestSimStatus(t *testing.T) {
	a, _ := simAgent(t, clock.NewFake(t0))
	want(t, call(t, a, "status", svcIn("nginx")), 0, "", Running)
	want(t, call(t, a, "status", svcIn("cron")), 0, "", Stopped)
	want(t, call(t, a, "status", svcIn("broken")), 0, "", Stopped)
	// An unknown service is stopped, as the Ruby agent's puppet provider reports it.
	want(t, call(t, a, "status", svcIn("nosuch")), 0, "", Stopped)
}

func TestSimStartStop(t *testing.T) {
	f := clock.NewFake(t0)
	a, _ := simAgent(t, f)
	want(t, call(t, a, "start", svcIn("cron")), 0, "", Running)
	if f.Elapsed() != Settle {
		t.Fatalf("start took %v of fake time, want the %v settle", f.Elapsed(), Settle)
	}
	want(t, call(t, a, "status", svcIn("cron")), 0, "", Running)
	want(t, call(t, a, "start", svcIn("cron")), 1, "Could not start 'cron': Service is already running", Running)
	want(t, call(t, a, "stop", svcIn("cron")), 0, "", Stopped)
	want(t, call(t, a, "stop", svcIn("cron")), 1, "Could not stop 'cron': Service is already stopped", Stopped)
	want(t, call(t, a, "status", svcIn("cron")), 0, "", Stopped)
}

func TestSimStartFailure(t *testing.T) {
	a, _ := simAgent(t, clock.NewFake(t0))
	want(t, call(t, a, "start", svcIn("broken")), 5,
		"Could not start Service[broken]: Job for broken.service failed because the control process exited with error code.", "unknown")
	want(t, call(t, a, "status", svcIn("broken")), 0, "", Stopped)
	want(t, call(t, a, "restart", svcIn("broken")), 5,
		"Could not restart Service[broken]: Job for broken.service failed because the control process exited with error code.", "unknown")
}

func TestSimUnknownService(t *testing.T) {
	a, _ := simAgent(t, clock.NewFake(t0))
	want(t, call(t, a, "start", svcIn("nosuch")), 5, "Could not start Service[nosuch]: unit nosuch.service not found", "unknown")
	// Stopping it finds it already stopped first, as the Ruby agent does.
	want(t, call(t, a, "stop", svcIn("nosuch")), 1, "Could not stop 'nosuch': Service is already stopped", Stopped)
	want(t, call(t, a, "restart", svcIn("nosuch")), 5, "Could not restart Service[nosuch]: unit nosuch.service not found", "unknown")
}

func TestSimSlowRestart(t *testing.T) {
	f := clock.NewFake(t0)
	a, d := simAgent(t, f)
	// Halfway through the restart the service is down: a filter sees it stopped.
	var mid map[string]any
	f.Go(func() {
		_ = f.Sleep(context.Background(), 15*time.Second)
		mid, _ = d.Lookup(context.Background(), "slow")
	})
	want(t, call(t, a, "restart", svcIn("slow")), 0, "", Running)
	if got := f.Elapsed(); got != 30*time.Second+Settle {
		t.Fatalf("restart took %v of fake time, want 30s and the %v settle", got, Settle)
	}
	if mid["status"] != Stopped {
		t.Fatalf("status during the restart %v, want stopped", mid)
	}
}

func TestSimRestartHonoursContext(t *testing.T) {
	f := clock.NewFake(t0)
	a, _ := simAgent(t, f)
	ctx, cancel := f.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep := &agent.Reply{Data: a.DDL.Defaults("restart")}
	a.Actions["restart"](ctx, &agent.Request{Data: svcIn("slow")}, rep)
	if rep.Status != 5 || !strings.Contains(rep.Message, "interrupted") || f.Elapsed() != 10*time.Second {
		t.Fatalf("reply %d %q at +%v, want an interrupted restart at +10s", rep.Status, rep.Message, f.Elapsed())
	}
}

func TestDataPlugin(t *testing.T) {
	a, d := simAgent(t, clock.NewFake(t0))
	for name, st := range map[string]string{"nginx": Running, "cron": Stopped, "nosuch": Stopped} {
		got, err := d.Lookup(context.Background(), name)
		if err != nil || got["status"] != st {
			t.Errorf("service(%q) = %v, %v; want status %s", name, got, err, st)
		}
	}
	call(t, a, "start", svcIn("cron"))
	if got, _ := d.Lookup(context.Background(), "cron"); got["status"] != Running {
		t.Errorf("after start, service('cron') = %v, want running", got)
	}
	if _, err := d.Lookup(context.Background(), "cron; reboot"); err == nil {
		t.Error("a bad service name passed the data plugin's validation")
	}
	if d.Name() != "service" {
		t.Errorf("data plugin name %q", d.Name())
	}
}

// Bad names are refused by the DDL before any command runs.
func TestBadNamesRefused(t *testing.T) {
	ran := 0
	a, _, err := New(Options{Provider: "sysv", Run: func(ctx context.Context, name string, args ...string) ([]byte, []byte, int, error) {
		ran++
		return nil, nil, 0, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"nginx; reboot", "$(id)", "../../bin/sh", "a b", "", strings.Repeat("a", 91)} {
		for _, action := range []string{"status", "start", "stop", "restart"} {
			rep := call(t, a, action, svcIn(bad))
			if rep.Status != 4 || rep.Message == "" {
				t.Errorf("%s %q: reply %d %q, want InvalidRPCData", action, bad, rep.Status, rep.Message)
			}
		}
	}
	if rep := call(t, a, "status", map[string]any{}); rep.Status != 4 || !strings.Contains(rep.Message, "needs a service argument") {
		t.Errorf("missing service: reply %d %q", rep.Status, rep.Message)
	}
	if ran != 0 {
		t.Fatalf("%d commands ran for refused requests", ran)
	}
}

func TestProviderChoice(t *testing.T) {
	withSystemd := t.TempDir()
	without := withSystemd + "/absent"
	for _, c := range []struct{ provider, dir, want string }{
		{"", withSystemd, "systemd"},
		{"", without, "sysv"},
		{"puppet", withSystemd, "systemd"},
		{"puppet", without, "sysv"},
		{"service", withSystemd, "sysv"},
		{"systemd", without, "systemd"},
		{"SysV", withSystemd, "sysv"},
		{"sim", without, "sim"},
	} {
		p, err := NewProvider(Options{Provider: c.provider, SystemdDir: c.dir})
		if err != nil || p.Name() != c.want {
			t.Errorf("provider %q with systemd dir %s: %v, %v; want %s", c.provider, c.dir, p, err, c.want)
		}
	}
	if _, _, err := New(Options{Provider: "upstart"}); err == nil || !strings.Contains(err.Error(), `unknown service provider "upstart"`) {
		t.Errorf("unknown provider: %v", err)
	}
	for _, bad := range [][]SimService{{{Name: "x", State: "paused"}}, {{State: Running}}, {{Name: "x"}, {Name: "x"}}} {
		if _, err := NewProvider(Options{Provider: "sim", Sim: bad}); err == nil {
			t.Errorf("sim services %+v accepted", bad)
		}
	}
}

func TestOptionsFromConfig(t *testing.T) {
	cfg := config.Defaults("")
	cfg.Plugin["service.provider"] = "puppet"
	cfg.Plugin["service.service.servicecmd"] = "/usr/sbin/service"
	o := OptionsFromConfig(cfg)
	if o.Provider != "puppet" || o.ServiceCmd != "/usr/sbin/service" {
		t.Fatalf("options %+v", o)
	}
	cfg.Plugin["service.sysv.servicecmd"] = "/sbin/service"
	if o := OptionsFromConfig(cfg); o.ServiceCmd != "/sbin/service" {
		t.Fatalf("plugin.service.sysv.servicecmd not preferred: %+v", o)
	}
}
