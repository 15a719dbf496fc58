// Package fleettest is a deterministic in-memory starlib.Fleet for tests of playbooks, the
// REPL and the command line when no broker runs: nodes with facts, classes and agents,
// server-side filter matching as mcod does it (package match), rpcutil replies computed from
// the nodes, a small "service" agent with a read-only and a state-changing action, per-node
// failures and silences, a record of every call, and a switch that makes calls block until
// their context ends (for cancellation tests).
package fleettest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/match"
	"github.com/mcorun/mcorun/runtime/message"
)

// ServiceDDL is the DDL of the "service" agent: status (reports) and restart (changes state).
const ServiceDDL = `{
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
        "validation": "^[a-z]+$", "optional": false, "maxlength": 20}},
      "output": {"status": {"description": "Status", "display_as": "Service Status", "default": "unknown"}}
    }
  }
}`

// Node is one simulated node.
type Node struct {
	ID      string
	Facts   map[string]any
	Classes []string
}

// Call records one Discover or Call.
type Call struct {
	Kind   string // discover or rpc
	Agent  string
	Action string
	Args   map[string]any
	Nodes  []string // the given nodes, nil for discovery by filter
	Filter message.Filter
}

// Fleet is the in-memory fleet. Set its exported fields before a run; Fail, Silence and
// Block are safe to call while one runs.
type Fleet struct {
	Nodes []*Node
	DDLs  map[string]*ddl.Agent

	mu      sync.Mutex
	failing map[string]bool
	silent  map[string]bool
	block   bool
	entered chan struct{}
	calls   []Call
}

// New returns a fleet of eight nodes: web1-web4 (role web, Debian, classes web::nginx and
// base), db1-db3 (role db, db3 on RedHat, classes db::postgres and base) and app1 (role app,
// Debian, class app), with the rpcutil, discovery and service agents.
func New() *Fleet {
	f := &Fleet{DDLs: map[string]*ddl.Agent{}, failing: map[string]bool{}, silent: map[string]bool{},
		entered: make(chan struct{}, 64)}
	add := func(id, role, os string, classes ...string) {
		f.Nodes = append(f.Nodes, &Node{ID: id, Classes: classes, Facts: map[string]any{
			"role": role, "operatingsystem": os, "osfamily": os, "hostname": id}})
	}
	for i := 1; i <= 4; i++ {
		add(fmt.Sprintf("web%d", i), "web", "Debian", "web::nginx", "base")
	}
	for i := 1; i <= 3; i++ {
		os := "Debian"
		if i == 3 {
			os = "RedHat"
		}
		add(fmt.Sprintf("db%d", i), "db", os, "db::postgres", "base")
	}
	add("app1", "app", "Debian", "app")
	for _, name := range []string{"rpcutil", "discovery"} {
		d, err := ddl.Builtin(name)
		if err != nil {
			panic(err) // the embedded DDLs are tested
		}
		f.DDLs[name] = d
	}
	d, err := ddl.ParseAgent([]byte(ServiceDDL))
	if err != nil {
		panic(err)
	}
	f.DDLs["service"] = d
	return f
}

// Fail makes the nodes reply with an error to every rpc call.
func (f *Fleet) Fail(ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		f.failing[id] = true
	}
}

// Silence makes the nodes never reply to rpc calls (they still answer discovery).
func (f *Fleet) Silence(ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		f.silent[id] = true
	}
}

// Block makes every later Discover and Call wait until its context ends. Entered receives
// once per blocked call.
func (f *Fleet) Block() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.block = true
}

// Entered signals each call that starts blocking.
func (f *Fleet) Entered() <-chan struct{} { return f.entered }

// Calls returns the calls so far.
func (f *Fleet) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// DDL implements starlib.Fleet.
func (f *Fleet) DDL(agent string) (*ddl.Agent, error) {
	if d, ok := f.DDLs[agent]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("no DDL for agent %q", agent)
}

func (f *Fleet) wait(ctx context.Context) error {
	f.mu.Lock()
	block := f.block
	f.mu.Unlock()
	if !block {
		return nil
	}
	select {
	case f.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

// matching returns the nodes that match flt, among ids when ids is not nil.
func (f *Fleet) matching(ctx context.Context, flt message.Filter, ids []string) ([]*Node, error) {
	var out []*Node
	for _, n := range f.Nodes {
		if ids != nil && !slices.Contains(ids, n.ID) {
			continue
		}
		ok, err := match.Match(ctx, flt, matchNode{n, f})
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, n)
		}
	}
	return out, nil
}

// Discover implements starlib.Fleet.
func (f *Fleet) Discover(ctx context.Context, opts client.DiscoverOptions) ([]string, error) {
	f.mu.Lock()
	f.calls = append(f.calls, Call{Kind: "discover", Nodes: opts.Nodes, Filter: opts.Filter})
	f.mu.Unlock()
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	nodes, err := f.matching(ctx, opts.Filter, opts.Nodes)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(nodes))
	for _, n := range nodes {
		ids = append(ids, n.ID)
	}
	return ids, nil
}

// Call implements starlib.Fleet.
func (f *Fleet) Call(ctx context.Context, agent, action string, args map[string]any, opts client.CallOptions) (*client.Results, error) {
	f.mu.Lock()
	f.calls = append(f.calls, Call{Kind: "rpc", Agent: agent, Action: action, Args: args, Nodes: opts.Nodes, Filter: opts.Filter})
	f.mu.Unlock()
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	d, err := f.DDL(agent)
	if err != nil {
		return nil, err
	}
	nodes, err := f.matching(ctx, opts.Filter, opts.Nodes)
	if err != nil {
		return nil, err
	}
	res := &client.Results{Agent: agent, Action: action, RequestID: "00000000000000000000000000000001"}
	for _, id := range opts.Nodes {
		if !slices.ContainsFunc(nodes, func(n *Node) bool { return n.ID == id }) {
			res.Targets = append(res.Targets, id)
			res.Missing = append(res.Missing, id)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range nodes {
		res.Targets = append(res.Targets, n.ID)
		if f.silent[n.ID] {
			res.Missing = append(res.Missing, n.ID)
			continue
		}
		r := client.Result{Sender: n.ID, Code: message.OK, Message: "OK", Data: d.Defaults(action)}
		if f.failing[n.ID] {
			r.Code, r.Message = message.Aborted, "failed on purpose"
			res.Failed = append(res.Failed, r)
		} else {
			reply(n, agent, action, args, r.Data)
			res.OK = append(res.OK, r)
		}
		if opts.OnReply != nil {
			opts.OnReply(r)
		}
	}
	sort.Strings(res.Targets)
	sort.Strings(res.Missing)
	return res, nil
}

// reply fills in the data of a successful reply.
func reply(n *Node, agent, action string, args map[string]any, data map[string]any) {
	switch agent + "." + action {
	case "rpcutil.ping":
		data["pong"] = int64(1767225600)
	case "rpcutil.get_fact":
		name, _ := args["fact"].(string)
		data["fact"], data["value"] = name, n.Facts[name]
	case "rpcutil.inventory":
		facts := map[string]any{}
		for k, v := range n.Facts {
			facts[k] = v
		}
		classes := make([]any, len(n.Classes))
		for i, c := range n.Classes {
			classes[i] = c
		}
		data["agents"] = []any{"discovery", "rpcutil", "service"}
		data["facts"], data["classes"] = facts, classes
		data["version"], data["main_collective"] = "2.12.5", "mcollective"
		data["collectives"], data["data_plugins"] = []any{"mcollective"}, []any{}
	case "service.status", "service.restart":
		data["status"] = "running"
	}
}

// matchNode adapts a Node to match.Node.
type matchNode struct {
	n *Node
	f *Fleet
}

func (m matchNode) Identity() string             { return m.n.ID }
func (m matchNode) Fact(name string) (any, bool) { v, ok := m.n.Facts[name]; return v, ok }
func (m matchNode) Classes() []string            { return m.n.Classes }
func (m matchNode) HasAgent(name string) bool    { _, ok := m.f.DDLs[name]; return ok }
func (m matchNode) Data(context.Context, string, any) (map[string]any, error) {
	return nil, errors.New("no data plugins in the test fleet")
}
