// Package fleettest is a deterministic in-memory starlib.Fleet for tests of playbooks, the
// REPL and the command line when no broker runs: nodes with facts, classes and agents,
// server-side filter matching as mcod does it (package match), rpcutil replies computed from
// the nodes, a small "service" agent with a read-only and a state-changing action, per-node
// failures and silences, a record of every call, and a switch that makes calls block until
// their context ends (for cancellation tests). Tests that need more control give nodes their
// own agent lists and set a Responder that shapes each node's reply to each call.
package fleettest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

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
	// Agents are the agents the node runs; nil means every agent of the fleet's DDLs. A call
	// to an agent the node does not run gets no reply from it.
	Agents []string
}

// Call records one Discover or Call.
type Call struct {
	Kind   string // discover or rpc
	Agent  string
	Action string
	Args   map[string]any
	Nodes  []string // the given nodes, nil for discovery by filter
	Filter message.Filter
	// Seq counts the rpc calls of Agent.Action so far, this one included (1 for the first).
	Seq int
	// Batch is the call's batch size spec ("N" or "N%"), empty for none.
	Batch string
	// Targets are the nodes the call expected replies from, sorted; for discover, the nodes
	// found.
	Targets []string
	// Batches are Targets as the batch size cuts them: one batch without batching.
	Batches [][]string
}

// Request is what a Responder sees of one node's part in an rpc call.
type Request struct {
	Agent  string
	Action string
	Args   map[string]any
	Node   *Node
	Seq    int // as Call.Seq; 0 when the puppet data plugin asks for the status
}

// Responder shapes one node's reply to one rpc call. It receives the reply the fleet would
// send (DDL defaults and the built-in answers filled in) and may change its code, message
// and data. It returns false to leave the node silent for this call.
type Responder func(req Request, r *client.Result) bool

// Fleet is the in-memory fleet. Set its exported fields before a run; Fail, Silence and
// Block are safe to call while one runs.
type Fleet struct {
	Nodes []*Node
	DDLs  map[string]*ddl.Agent
	// Responder, when set, shapes every reply after the built-in answers (see Responder).
	Responder Responder
	// Now is the time the built-in answers report (ping's pong, puppet's lastrun); nil
	// means 2026-01-01T00:00:00Z.
	Now func() time.Time

	mu      sync.Mutex
	failing map[string]bool
	silent  map[string]bool
	block   bool
	entered chan struct{}
	calls   []Call
	seq     map[string]int
}

// New returns a fleet of eight nodes: web1-web4 (role web, Debian, classes web::nginx and
// base), db1-db3 (role db, db3 on RedHat, classes db::postgres and base) and app1 (role app,
// Debian, class app), with the rpcutil, discovery and service agents.
func New() *Fleet {
	f := NewNodes()
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
	return f
}

// NewNodes returns a fleet of the given nodes with the rpcutil, discovery and service agents.
func NewNodes(nodes ...*Node) *Fleet {
	f := &Fleet{Nodes: nodes, DDLs: map[string]*ddl.Agent{}, failing: map[string]bool{}, silent: map[string]bool{},
		entered: make(chan struct{}, 64), seq: map[string]int{}}
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
	idx := len(f.calls) - 1
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
	sort.Strings(ids)
	if ids, err = client.PickLimit(ids, opts.Limit, opts.LimitSeed); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.calls[idx].Targets = slices.Clone(ids)
	f.mu.Unlock()
	return ids, nil
}

// Plan implements starlib.Fleet with the client's planner and default settings.
func (f *Fleet) Plan(agent, action string, args map[string]any, opts client.CallOptions) (*client.Plan, error) {
	d, err := f.DDL(agent)
	if err != nil {
		return nil, err
	}
	return client.NewPlan(d, action, args, opts, client.Settings{})
}

// Call implements starlib.Fleet.
func (f *Fleet) Call(ctx context.Context, agent, action string, args map[string]any, opts client.CallOptions) (*client.Results, error) {
	f.mu.Lock()
	if f.seq == nil {
		f.seq = map[string]int{}
	}
	f.seq[agent+"."+action]++
	seq := f.seq[agent+"."+action]
	f.calls = append(f.calls, Call{Kind: "rpc", Agent: agent, Action: action, Args: args, Nodes: opts.Nodes,
		Filter: opts.Filter, Seq: seq, Batch: opts.Batch})
	idx := len(f.calls) - 1
	f.mu.Unlock()
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	d, err := f.DDL(agent)
	if err != nil {
		return nil, err
	}
	plan, err := client.NewPlan(d, action, args, opts, client.Settings{})
	if err != nil {
		return nil, err
	}
	var found []string
	if plan.Discovery != nil {
		matched, err := f.matching(ctx, plan.Discovery.Filter, nil)
		if err != nil {
			return nil, err
		}
		for _, n := range matched {
			found = append(found, n.ID)
		}
	}
	tg, err := plan.Target(found)
	if err != nil {
		return nil, err
	}
	if plan.Discovery != nil && len(tg.Nodes) == 0 {
		return nil, client.ErrNoNodes
	}
	args = plan.Args
	nodes, err := f.matching(ctx, message.Filter{}, tg.Nodes)
	if err != nil {
		return nil, err
	}
	res := &client.Results{Agent: agent, Action: action, RequestID: "00000000000000000000000000000001"}
	for _, id := range tg.Nodes {
		if !slices.ContainsFunc(nodes, func(n *Node) bool { return n.ID == id }) {
			res.Targets = append(res.Targets, id)
			res.Missing = append(res.Missing, id)
		}
	}
	now := f.now()
	f.mu.Lock()
	silent := maps.Clone(f.silent)
	failing := maps.Clone(f.failing)
	responder := f.Responder
	f.mu.Unlock()
	for _, n := range nodes {
		res.Targets = append(res.Targets, n.ID)
		if silent[n.ID] || !f.runs(n, agent) {
			res.Missing = append(res.Missing, n.ID)
			continue
		}
		r := client.Result{Sender: n.ID, Code: message.OK, Message: "OK", Data: d.Defaults(action)}
		if failing[n.ID] {
			r.Code, r.Message = message.Aborted, "failed on purpose"
		} else {
			reply(n, agent, action, args, r.Data, now, f.agents(n))
		}
		if responder != nil && !responder(Request{Agent: agent, Action: action, Args: args, Node: n, Seq: seq}, &r) {
			res.Missing = append(res.Missing, n.ID)
			continue
		}
		if r.Code == message.OK {
			res.OK = append(res.OK, r)
		} else {
			res.Failed = append(res.Failed, r)
		}
		if opts.OnReply != nil {
			opts.OnReply(r)
		}
	}
	sort.Strings(res.Targets)
	sort.Strings(res.Missing)
	sort.Slice(res.OK, func(i, j int) bool { return res.OK[i].Sender < res.OK[j].Sender })
	sort.Slice(res.Failed, func(i, j int) bool { return res.Failed[i].Sender < res.Failed[j].Sender })
	f.mu.Lock()
	f.calls[idx].Targets = slices.Clone(res.Targets)
	f.calls[idx].Batches = clone2(tg.Batches)
	f.mu.Unlock()
	return res, nil
}

// now is the time of the built-in answers.
func (f *Fleet) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
}

// agents lists the agents node n runs, sorted.
func (f *Fleet) agents(n *Node) []string {
	if n.Agents != nil {
		return slices.Sorted(slices.Values(n.Agents))
	}
	return slices.Sorted(maps.Keys(f.DDLs))
}

// runs reports whether node n runs the agent.
func (f *Fleet) runs(n *Node, agent string) bool {
	if n.Agents != nil {
		return slices.Contains(n.Agents, agent)
	}
	_, ok := f.DDLs[agent]
	return ok
}

func clone2(b [][]string) [][]string {
	out := make([][]string, len(b))
	for i, g := range b {
		out[i] = slices.Clone(g)
	}
	return out
}

// reply fills in the data of a successful reply: rpcutil answers from the node's facts,
// classes and agents, and puppet answers of an idle, enabled agent whose runs succeed.
func reply(n *Node, agent, action string, args map[string]any, data map[string]any, now time.Time, agents []string) {
	switch agent + "." + action {
	case "rpcutil.ping":
		data["pong"] = now.Unix()
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
		names := make([]any, len(agents))
		for i, a := range agents {
			names[i] = a
		}
		data["agents"] = names
		data["facts"], data["classes"] = facts, classes
		data["version"], data["main_collective"] = "2.12.5", "mcollective"
		data["collectives"], data["data_plugins"] = []any{"mcollective"}, []any{}
	case "rpcutil.collective_info":
		data["main_collective"], data["collectives"] = "mcollective", []any{"mcollective"}
	case "service.status", "service.restart":
		data["status"] = "running"
	case "puppet.status":
		data["applying"], data["idling"], data["enabled"], data["daemon_present"] = false, true, true, true
		data["lastrun"], data["since_lastrun"] = now.Unix(), int64(0)
		data["status"], data["message"] = "idling", "Currently idling; last completed run 0 seconds ago"
	case "puppet.runonce":
		data["summary"] = "Started a Puppet run using the 'puppet agent --onetime --no-daemonize' command"
		data["initiated_at"] = now.Unix()
	case "puppet.last_run_summary":
		for _, k := range []string{"out_of_sync_resources", "failed_resources", "corrected_resources", "changed_resources"} {
			data[k] = int64(0)
		}
		data["total_resources"], data["total_time"], data["config_retrieval_time"] = int64(0), 1.0, 0.5
		data["lastrun"], data["since_lastrun"] = now.Unix(), int64(0)
	case "puppet.enable", "puppet.disable":
		data["enabled"] = action == "enable"
		data["status"] = "Succesfully " + action + "d the Puppet agent"
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
func (m matchNode) HasAgent(name string) bool    { return m.f.runs(m.n, name) }

// Data serves the puppet data plugin (compound filters such as puppet().enabled=true) from
// the node's answer to puppet status, the Responder included (with Seq 0); other plugins
// are not simulated.
func (m matchNode) Data(_ context.Context, name string, _ any) (map[string]any, error) {
	d, ok := m.f.DDLs["puppet"]
	if name != "puppet" || !ok || !m.f.runs(m.n, "puppet") {
		return nil, fmt.Errorf("no %s data plugin on %s in the test fleet", name, m.n.ID)
	}
	r := client.Result{Sender: m.n.ID, Code: message.OK, Message: "OK", Data: d.Defaults("status")}
	reply(m.n, "puppet", "status", nil, r.Data, m.f.now(), m.f.agents(m.n))
	m.f.mu.Lock()
	responder := m.f.Responder
	m.f.mu.Unlock()
	if responder != nil && !responder(Request{Agent: "puppet", Action: "status", Node: m.n}, &r) {
		return nil, errors.New("puppet data: no reply")
	}
	if r.Code != message.OK {
		return nil, fmt.Errorf("puppet data: %s", r.Message)
	}
	return r.Data, nil
}
