package rpcutil_test

import (
	"context"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/agents"
	"github.com/mcorun/mcorun/agents/rpcutil"
	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/agent/agenttest"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

type fakeNode struct {
	facts  map[string]any
	agents []*ddl.Agent
	data   agent.DataRegistry
	start  time.Time
}

func newFake(t *testing.T) *fakeNode {
	t.Helper()
	n := &fakeNode{
		facts: map[string]any{"os": "Debian", "cpus": int64(4), "role": "web"},
		start: time.Unix(1700000000, 0),
	}
	// The fake serves the standard set, as a node does.
	as, ds := agents.Standard(n)
	for _, a := range as {
		n.agents = append(n.agents, a.DDL)
	}
	slices.SortFunc(n.agents, func(a, b *ddl.Agent) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	n.data = agent.NewDataRegistry(ds...)
	return n
}

func (n *fakeNode) Facts() map[string]any { return n.facts }
func (n *fakeNode) Fact(name string) (any, bool) {
	v, ok := n.facts[name]
	return v, ok
}
func (n *fakeNode) Classes() []string      { return []string{"role::web"} }
func (n *fakeNode) Agents() []*ddl.Agent   { return n.agents }
func (n *fakeNode) Collectives() []string  { return []string{"mcollective", "eu"} }
func (n *fakeNode) MainCollective() string { return "mcollective" }
func (n *fakeNode) Stats() agent.Stats {
	return agent.Stats{StartTime: n.start, Total: 10, Validated: 9, Unvalidated: 1, Passed: 8, Filtered: 1,
		Replies: 7, TTLExpired: 2, ConfigFile: "/etc/mcollective/server.cfg", Threads: []string{"worker 1"}}
}
func (n *fakeNode) Now() time.Time { return time.Now() }

func (n *fakeNode) ConfigItem(name string) (any, bool) {
	switch name {
	case "ttl":
		return int64(60), true
	case "rpclimitmethod":
		return marshal.Symbol("first"), true
	}
	return nil, false
}
func (n *fakeNode) DataPlugins() []string { return n.data.Names() }
func (n *fakeNode) Data(ctx context.Context, source string, query any) (map[string]any, error) {
	return n.data.Query(ctx, source, query)
}

// call runs an action as mcod's pipeline does (agenttest.Call).
func call(t *testing.T, a *agent.Agent, action string, in map[string]any) *agent.Reply {
	t.Helper()
	return agenttest.Call(t, a, action, in)
}

func TestActionsImplemented(t *testing.T) {
	a := rpcutil.New(newFake(t))
	for name := range a.DDL.Actions {
		if a.Actions[name] == nil {
			t.Errorf("action %s is declared but not implemented", name)
		}
	}
}

func TestRpcutil(t *testing.T) {
	n := newFake(t)
	a := rpcutil.New(n)
	tests := []struct {
		action string
		in     map[string]any
		status message.Status
		msg    string
		want   map[string]any // exact data, when check is nil
		check  func(t *testing.T, d map[string]any)
	}{
		{action: "ping", check: func(t *testing.T, d map[string]any) {
			pong, ok := d["pong"].(int64)
			if !ok || time.Since(time.Unix(pong, 0)).Abs() > 5*time.Second {
				t.Errorf("pong = %#v", d["pong"])
			}
		}},
		{action: "inventory", want: map[string]any{
			"agents": []string{"discovery", "rpcutil"}, "facts": n.facts, "classes": []string{"role::web"},
			"version": "2.12.5", "main_collective": "mcollective", "collectives": []string{"mcollective", "eu"},
			"data_plugins": []string{"agent_data", "collective_data", "fact_data", "fstat_data"},
		}},
		{action: "get_fact", in: map[string]any{"fact": "os"}, want: map[string]any{"fact": "os", "value": "Debian"}},
		{action: "get_fact", in: map[string]any{"fact": "nosuch"}, want: map[string]any{"fact": "nosuch", "value": nil}},
		{action: "get_facts", in: map[string]any{"facts": "os, cpus,nosuch"}, want: map[string]any{
			"values": map[string]any{"os": "Debian", "cpus": int64(4), "nosuch": nil}}},
		{action: "collective_info", want: map[string]any{"main_collective": "mcollective", "collectives": []string{"mcollective", "eu"}}},
		{action: "get_config_item", in: map[string]any{"item": "ttl"}, want: map[string]any{"item": "ttl", "value": int64(60)}},
		{action: "get_config_item", in: map[string]any{"item": "rpclimitmethod"}, want: map[string]any{"item": "rpclimitmethod", "value": marshal.Symbol("first")}},
		{action: "get_config_item", in: map[string]any{"item": "nosuch"}, status: message.Aborted,
			msg: "Unknown config property nosuch", want: map[string]any{"item": nil, "value": nil}},
		{action: "agent_inventory", want: map[string]any{"agents": []any{
			map[marshal.Symbol]any{"agent": "discovery", "license": "Apache License, Version 2", "timeout": int64(5),
				"description": "MCollective Discovery Agent", "name": "Discovery Agent",
				"url": "https://docs.puppetlabs.com/mcollective/", "version": "2.12.5", "author": "R.I.Pienaar <rip@devco.net>"},
			map[marshal.Symbol]any{"agent": "rpcutil", "license": "Apache License, Version 2.0", "timeout": int64(10),
				"description": "General helpful actions that expose stats and internals to SimpleRPC clients", "name": "rpcutil",
				"url": "https://docs.puppetlabs.com/mcollective/", "version": "1.0", "author": "R.I.Pienaar <rip@devco.net>"},
		}}},
		{action: "daemon_stats", check: func(t *testing.T, d map[string]any) {
			want := map[string]any{
				"threads": []string{"worker 1"}, "agents": []string{"discovery", "rpcutil"}, "pid": int64(os.Getpid()),
				"configfile": "/etc/mcollective/server.cfg", "version": "2.12.5", "validated": int64(9),
				"unvalidated": int64(1), "passed": int64(8), "filtered": int64(1), "starttime": int64(1700000000),
				"total": int64(10), "ttlexpired": int64(2), "replies": int64(7),
			}
			for k, v := range want {
				if !reflect.DeepEqual(d[k], v) {
					t.Errorf("%s = %#v, want %#v", k, d[k], v)
				}
			}
			times, ok := d["times"].(map[marshal.Symbol]any)
			if !ok || len(times) != 4 {
				t.Fatalf("times = %#v", d["times"])
			}
			for _, k := range []marshal.Symbol{"utime", "stime", "cutime", "cstime"} {
				if _, ok := times[k].(float64); !ok {
					t.Errorf("times[%s] = %#v", k, times[k])
				}
			}
			if len(d) != 14 {
				t.Errorf("daemon_stats has %d keys, want 14", len(d))
			}
		}},
		{action: "get_data", in: map[string]any{"source": "fact", "query": "os"}, want: map[string]any{
			"exists": true, "value": "Debian", "value_encoding": "text/plain"}},
		{action: "get_data", in: map[string]any{"source": "agent", "query": "discovery"}, check: func(t *testing.T, d map[string]any) {
			if d["agent"] != "discovery" || d["timeout"] != int64(5) || d["license"] != "Apache License, Version 2" {
				t.Errorf("agent data = %#v", d)
			}
		}},
		{action: "get_data", in: map[string]any{"source": "fstat"}, status: message.InvalidData,
			msg: "Cannot validate input query: value should be a string", want: map[string]any{}},
		{action: "get_data", in: map[string]any{"source": "nosuch", "query": "x"}, status: message.UnknownError,
			msg: "Can't find DDL for data plugin 'nosuch_data'", want: map[string]any{}},
		{action: "get_data", in: map[string]any{"source": "agent", "query": "nosuch"}, status: message.UnknownError,
			msg: "No agent called nosuch found", want: map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.action+"/"+tt.msg, func(t *testing.T) {
			in := tt.in
			if in == nil {
				in = map[string]any{}
			}
			rep := call(t, a, tt.action, in)
			wantMsg := tt.msg
			if wantMsg == "" {
				wantMsg = "OK"
			}
			if rep.Status != tt.status || rep.Message != wantMsg {
				t.Errorf("status = %v %q, want %v %q", rep.Status, rep.Message, tt.status, wantMsg)
			}
			if tt.check != nil {
				tt.check(t, rep.Data)
				return
			}
			if !reflect.DeepEqual(rep.Data, tt.want) {
				t.Errorf("data = %#v\nwant   %#v", rep.Data, tt.want)
			}
		})
	}
}

func TestGetDataValidationStatus(t *testing.T) {
	n := newFake(t)
	rep := &agent.Reply{}
	rpcutil.New(n).Actions["get_data"](context.Background(), &agent.Request{Data: map[string]any{"source": "agent", "query": "bad-name!"}}, rep)
	var ve *ddl.ValidationError
	_, err := n.Data(context.Background(), "agent", "bad-name!")
	if !errors.As(err, &ve) || rep.Status != message.InvalidData {
		t.Errorf("status = %v, err = %v", rep.Status, err)
	}
}
