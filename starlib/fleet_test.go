package starlib

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	startime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/filter"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/playbook/fleettest"
)

// newTestFleet is the fleet of the starlib tests, closed when the test ends: ten real nodes
// (web1-web4, app1-app3, db1-db3 with facts role, os, uptime, cores and tags) serving
// rpcutil and the service agent of testdata/service.json, on a fake clock made by the
// calling goroutine, which must be the one that runs the playbook. The fleet starts on its
// first use, so a test that never calls it costs nothing.
func newTestFleet(t *testing.T) *fleettest.Fleet {
	t.Helper()
	f := fleettest.NewNodes()
	add := func(id, role, os string, uptime int, classes ...string) {
		f.Nodes = append(f.Nodes, &fleettest.Node{ID: id, Classes: classes, Facts: map[string]any{
			"role": role, "os": os, "uptime": uptime, "cores": uptime % 7, "tags": []any{role, "prod"}}})
	}
	for i := 1; i <= 4; i++ {
		add(fmt.Sprintf("web%d", i), "web", "Debian", i*10, "web::nginx", "base")
	}
	for i := 1; i <= 3; i++ {
		add(fmt.Sprintf("app%d", i), "app", "Debian", 5, "app", "base")
	}
	for i := 1; i <= 3; i++ {
		os := "Debian"
		if i == 3 {
			os = "RedHat"
		}
		add(fmt.Sprintf("db%d", i), "db", os, 100+i, "db::postgres", "base")
	}
	if err := f.DeclareFile(filepath.Join("testdata", "service.json")); err != nil {
		t.Fatal(err)
	}
	f.Responder = serviceResponder
	f.Clock = clock.NewFake(fleettest.Epoch())
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

// serviceResponder gives the service agent's answers: every service is running, and a
// restart reports the node's load as its uptime fact over ten.
func serviceResponder(req fleettest.Request, rep *agent.Reply) bool {
	if req.Agent != "service" || rep.Status != message.OK {
		return true
	}
	if rep.Data == nil {
		rep.Data = map[string]any{}
	}
	rep.Data["status"] = "running"
	if req.Action == "restart" {
		rep.Data["load"] = float64(req.Node.Facts["uptime"].(int)) / 10
	}
	return true
}

// fakeLogger records log lines and events.
type fakeLogger struct {
	mu     sync.Mutex
	lines  []string
	events []Event
}

func (l *fakeLogger) Log(msg string, fields map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, FormatLog(msg, fields))
}

func (l *fakeLogger) Step(ev Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
}

// fakeModule exposes the test fleet and logger to the Starlark tests as "fake".
func fakeModule(f *fleettest.Fleet, l *fakeLogger) *starlarkstruct.Module {
	nodesOf := func(args starlark.Tuple) []string {
		var ids []string
		for _, a := range args {
			s, _ := starlark.AsString(a)
			ids = append(ids, s)
		}
		return ids
	}
	fn := func(name string, impl func(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error)) *starlark.Builtin {
		return starlark.NewBuiltin(name, func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return impl(thread, args, kwargs)
		})
	}
	return &starlarkstruct.Module{Name: "fake", Members: starlark.StringDict{
		"fail": fn("fail", func(_ *starlark.Thread, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			f.Fail(nodesOf(args)...)
			return starlark.None, nil
		}),
		"silence": fn("silence", func(_ *starlark.Thread, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			f.Silence(nodesOf(args)...)
			return starlark.None, nil
		}),
		"reset": fn("reset", func(_ *starlark.Thread, _ starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			f.Reset()
			return starlark.None, nil
		}),
		// calls() lists the fleet calls as structs: kind, agent, action, args, nodes, filter,
		// batch, limit, timeout, ttl, batch_sleep, as the playbook gave them, and targets,
		// the nodes the call expected replies from (for discover, the nodes found).
		"calls": fn("calls", func(_ *starlark.Thread, _ starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			var list []starlark.Value
			for _, c := range f.Calls() {
				args, err := ToStarlark(c.Args)
				if err != nil {
					return nil, err
				}
				o := c.Options
				limit, timeout := o.Limit, o.Timeout
				if c.Kind == "discover" {
					limit, timeout = c.DiscoverOptions.Limit, c.DiscoverOptions.Timeout
				}
				list = append(list, starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
					"kind": starlark.String(c.Kind), "agent": starlark.String(c.Agent),
					"action": starlark.String(c.Action), "args": args, "nodes": stringsToList(c.Nodes),
					"filter": starlark.String(filter.String(c.Filter)), "batch": starlark.String(o.Batch),
					"limit": starlark.String(limit), "timeout": startime.Duration(timeout),
					"ttl": startime.Duration(o.TTL), "batch_sleep": startime.Duration(o.BatchSleep),
					"targets": stringsToList(c.Targets),
				}))
			}
			return starlark.NewList(list), nil
		}),
		"logs": fn("logs", func(_ *starlark.Thread, _ starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			l.mu.Lock()
			defer l.mu.Unlock()
			return stringsToList(l.lines), nil
		}),
		// events() lists the logged call events as "kind agent.action targets/ok/failed/missing".
		"events": fn("events", func(_ *starlark.Thread, _ starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			l.mu.Lock()
			defer l.mu.Unlock()
			var out []string
			for _, e := range l.events {
				s := fmt.Sprintf("%s %s.%s %d/%d/%d/%d", e.Kind, e.Agent, e.Action, len(e.Targets), len(e.OK), len(e.Failed), len(e.Missing))
				if e.DryRun {
					s += " dry-run"
				}
				if e.Err != "" {
					s += " error"
				}
				out = append(out, s)
			}
			return stringsToList(out), nil
		}),
		// set_args(dict) replaces the raw --arg values that params() reads.
		"set_args": fn("set_args", func(thread *starlark.Thread, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			v, err := FromStarlark(args[0])
			if err != nil {
				return nil, err
			}
			raw := map[string]string{}
			for k, x := range v.(map[string]any) {
				raw[k] = fmt.Sprint(x)
			}
			threadArgs(thread).raw = raw
			return starlark.None, nil
		}),
		// table(v) is Table(v), or None when v has no table form.
		"table": fn("table", func(_ *starlark.Thread, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			s, ok := Table(args[0])
			if !ok {
				return starlark.None, nil
			}
			return starlark.String(s), nil
		}),
	}}
}

// log lines show values as a playbook author writes them, never in Go's notation.
func TestFormatLogWritesStarlarkValues(t *testing.T) {
	got := FormatLog("restart", map[string]any{
		"args":    map[string]any{"force": true, "service": "nginx"},
		"nodes":   []string{"web1", "web2"},
		"count":   int64(3),
		"routing": "directed",
		"note":    "two words",
		"empty":   "",
		"none":    nil,
		"wait":    1500 * time.Millisecond,
	})
	want := `restart args={"force": True, "service": "nginx"} count=3 empty="" nodes=["web1", "web2"] none=None note="two words" routing=directed wait=1.5s`
	if got != want {
		t.Errorf("FormatLog =\n%s\nwant\n%s", got, want)
	}
}

// TestEventOutcome: a call's missing nodes reach the step event by reason: nodes the request
// never went out to are not sent, never missing; a lost reply keeps its reason.
func TestEventOutcome(t *testing.T) {
	res := &client.Results{
		Targets: []string{"a", "b", "c", "d"},
		OK:      []client.Result{{Sender: "a"}},
		Missing: []string{"b", "c", "d"},
		Reasons: map[string]string{"c": client.ReasonConnectionLost, "d": client.ReasonNotSent},
	}
	var ev Event
	ev.outcome(res)
	if !slices.Equal(ev.Missing, []string{"b", "c"}) || !slices.Equal(ev.NotSent, []string{"d"}) ||
		!maps.Equal(ev.MissingReasons, map[string]string{"c": client.ReasonConnectionLost}) {
		t.Errorf("event: missing %v, not sent %v, reasons %v", ev.Missing, ev.NotSent, ev.MissingReasons)
	}
}
