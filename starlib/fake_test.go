package starlib

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	startime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/filter"
	"github.com/mcorun/mcorun/runtime/match"
	"github.com/mcorun/mcorun/runtime/message"
)

// serviceDDL is a small agent with a read-only and a state-changing action.
const serviceDDL = `{
  "metadata": {"name": "service", "timeout": 10},
  "actions": {
    "status": {
      "description": "Service status",
      "input": {"service": {"prompt": "Service", "description": "Service name", "type": "string",
        "validation": "^[a-z]+$", "optional": false, "maxlength": 20}},
      "output": {"status": {"description": "Status", "display_as": "Service Status", "default": "unknown"}}
    },
    "restart": {
      "description": "Restart a service",
      "input": {"service": {"prompt": "Service", "description": "Service name", "type": "string",
        "validation": "^[a-z]+$", "optional": false, "maxlength": 20},
        "force": {"prompt": "Force", "description": "Force", "type": "boolean", "optional": true}},
      "output": {"status": {"description": "Status", "display_as": "Service Status", "default": "unknown"},
        "load": {"description": "Load", "display_as": "Load"}}
    }
  }
}`

// fakeNode is one node of the fake fleet.
type fakeNode struct {
	id      string
	facts   map[string]any
	classes []string
}

func (n *fakeNode) Identity() string             { return n.id }
func (n *fakeNode) Fact(name string) (any, bool) { v, ok := n.facts[name]; return v, ok }
func (n *fakeNode) Classes() []string            { return n.classes }
func (n *fakeNode) HasAgent(name string) bool    { return name == "rpcutil" || name == "service" }
func (n *fakeNode) Agents() []string             { return []string{"rpcutil", "service"} }
func (n *fakeNode) Data(context.Context, string, any) (map[string]any, error) {
	return nil, errors.New("no data plugins")
}

// fakeCall records one fleet call.
type fakeCall struct {
	kind, agent, action string
	args                map[string]any
	opts                client.CallOptions
	dopts               client.DiscoverOptions
}

// fakeFleet is a deterministic Fleet: ten nodes with facts, canned replies, per-node
// failures and silences, and a record of every call.
type fakeFleet struct {
	mu      sync.Mutex
	nodes   []*fakeNode
	failing map[string]bool
	silent  map[string]bool
	calls   []fakeCall
	ddls    map[string]*ddl.Agent
}

func newFakeFleet() *fakeFleet {
	f := &fakeFleet{failing: map[string]bool{}, silent: map[string]bool{}, ddls: map[string]*ddl.Agent{}}
	add := func(id, role, os string, uptime int, classes ...string) {
		f.nodes = append(f.nodes, &fakeNode{id: id, classes: classes, facts: map[string]any{
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
	rpcutil, err := ddl.Builtin("rpcutil")
	if err != nil {
		panic(err)
	}
	service, err := ddl.ParseAgent([]byte(serviceDDL))
	if err != nil {
		panic(err)
	}
	f.ddls["rpcutil"], f.ddls["service"] = rpcutil, service
	return f
}

func (f *fakeFleet) DDL(agent string) (*ddl.Agent, error) {
	if d, ok := f.ddls[agent]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("no DDL for agent %q", agent)
}

func (f *fakeFleet) Plan(agent, action string, args map[string]any, opts client.CallOptions) (*client.Plan, error) {
	d, err := f.DDL(agent)
	if err != nil {
		return nil, err
	}
	return client.NewPlan(d, action, args, opts, client.Settings{})
}

func (f *fakeFleet) matching(ctx context.Context, flt message.Filter, nodes []string) ([]*fakeNode, error) {
	var out []*fakeNode
	for _, n := range f.nodes {
		if nodes != nil && !slices.Contains(nodes, n.id) {
			continue
		}
		ok, err := match.Match(ctx, flt, n)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, n)
		}
	}
	return out, nil
}

func (f *fakeFleet) Discover(ctx context.Context, opts client.DiscoverOptions) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{kind: "discover", dopts: opts})
	if opts.Collective == "broken" {
		return nil, errors.New("no route to collective broken")
	}
	nodes, err := f.matching(ctx, opts.Filter, opts.Nodes)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, n := range nodes {
		ids = append(ids, n.id)
	}
	for _, id := range opts.Nodes { // given nodes are trusted, as MCollective does
		if !slices.Contains(ids, id) && opts.Filter.Empty() {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (f *fakeFleet) Call(ctx context.Context, agent, action string, args map[string]any, opts client.CallOptions) (*client.Results, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{kind: "rpc", agent: agent, action: action, args: args, opts: opts})
	nodes, err := f.matching(ctx, opts.Filter, opts.Nodes)
	if err != nil {
		return nil, err
	}
	res := &client.Results{Agent: agent, Action: action, RequestID: "0123456789abcdef0123456789abcdef",
		Elapsed: 42 * time.Millisecond}
	for _, id := range opts.Nodes { // a directed call to an unknown node gets no reply
		if !slices.ContainsFunc(nodes, func(n *fakeNode) bool { return n.id == id }) {
			res.Targets = append(res.Targets, id)
			res.Missing = append(res.Missing, id)
		}
	}
	for _, n := range nodes {
		res.Targets = append(res.Targets, n.id)
		if f.silent[n.id] {
			res.Missing = append(res.Missing, n.id)
			continue
		}
		r := client.Result{Sender: n.id, Code: message.OK, Message: "OK", Data: f.ddls[agent].Defaults(action)}
		if f.failing[n.id] {
			r.Code, r.Message = message.Aborted, "failed on purpose"
			res.Failed = append(res.Failed, r)
			continue
		}
		switch agent + "." + action {
		case "rpcutil.ping":
			r.Data["pong"] = int64(1767225600)
		case "rpcutil.get_fact":
			name := args["fact"].(string)
			r.Data["fact"], r.Data["value"] = name, n.facts[name]
		case "service.status":
			r.Data["status"] = "running"
		case "service.restart":
			r.Data["status"] = "running"
			r.Data["load"] = float64(n.facts["uptime"].(int)) / 10
		}
		res.OK = append(res.OK, r)
	}
	slices.Sort(res.Targets)
	slices.Sort(res.Missing)
	return res, nil
}

func newFakeClock() *FakeClock {
	return NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
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

// fakeModule exposes the fake fleet, clock and logger to the Starlark tests as "fake".
func fakeModule(f *fakeFleet, c *FakeClock, l *fakeLogger) *starlarkstruct.Module {
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
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, id := range nodesOf(args) {
				f.failing[id] = true
			}
			return starlark.None, nil
		}),
		"silence": fn("silence", func(_ *starlark.Thread, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, id := range nodesOf(args) {
				f.silent[id] = true
			}
			return starlark.None, nil
		}),
		"reset": fn("reset", func(_ *starlark.Thread, _ starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.failing, f.silent, f.calls = map[string]bool{}, map[string]bool{}, nil
			return starlark.None, nil
		}),
		// calls() lists the fleet calls as structs: kind, agent, action, args, nodes, filter,
		// batch, limit, timeout, ttl.
		"calls": fn("calls", func(_ *starlark.Thread, _ starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			var list []starlark.Value
			for _, c := range f.calls {
				args, err := ToStarlark(c.args)
				if err != nil {
					return nil, err
				}
				nodes, flt, limit := c.opts.Nodes, c.opts.Filter, c.opts.Limit
				timeout := c.opts.Timeout
				if c.kind == "discover" {
					nodes, flt, limit, timeout = c.dopts.Nodes, c.dopts.Filter, c.dopts.Limit, c.dopts.Timeout
				}
				list = append(list, starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
					"kind": starlark.String(c.kind), "agent": starlark.String(c.agent),
					"action": starlark.String(c.action), "args": args, "nodes": stringsToList(nodes),
					"filter": starlark.String(filter.String(flt)), "batch": starlark.String(c.opts.Batch),
					"limit": starlark.String(limit), "timeout": startime.Duration(timeout),
					"ttl": startime.Duration(c.opts.TTL), "batch_sleep": startime.Duration(c.opts.BatchSleep),
				}))
			}
			return starlark.NewList(list), nil
		}),
		"slept": fn("slept", func(_ *starlark.Thread, _ starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			return startime.Duration(c.Slept()), nil
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
