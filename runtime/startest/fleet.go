package startest

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/filter"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/playbook/fleettest"
	"github.com/mcorun/mcorun/starlib"

	"github.com/mcorun/mcorun/runtime/plural"
)

// helpers are the names a test file sees beside the playbook builtins.
func helpers() starlark.StringDict {
	return starlark.StringDict{
		"node":            starlark.NewBuiltin("node", nodeBuiltin),
		"fleet":           starlark.NewBuiltin("fleet", fleetBuiltin),
		"calls":           starlark.NewBuiltin("calls", callsBuiltin),
		"run_playbook":    starlark.NewBuiltin("run_playbook", runPlaybook),
		"resume_playbook": starlark.NewBuiltin("resume_playbook", resumePlaybook),
		"load_playbook":   starlark.NewBuiltin("load_playbook", loadPlaybook),
		"elapsed":         starlark.NewBuiltin("elapsed", elapsedBuiltin),
		"advance":         starlark.NewBuiltin("advance", advanceBuiltin),
	}
}

// nodeValue is a declared node: node(identity, facts={}, classes=[], agents=None).
type nodeValue struct{ n *fleettest.Node }

func (v *nodeValue) String() string        { return fmt.Sprintf("node(%q)", v.n.ID) }
func (v *nodeValue) Type() string          { return "node" }
func (v *nodeValue) Freeze()               {}
func (v *nodeValue) Truth() starlark.Bool  { return true }
func (v *nodeValue) Hash() (uint32, error) { return starlark.String(v.n.ID).Hash() }
func (v *nodeValue) AttrNames() []string   { return []string{"agents", "classes", "facts", "identity"} }

func (v *nodeValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "identity":
		return starlark.String(v.n.ID), nil
	case "facts":
		return starlib.ToStarlark(v.n.Facts)
	case "classes":
		return starlib.ToStarlark(v.n.Classes)
	case "agents":
		if v.n.Agents == nil {
			return starlark.None, nil
		}
		return starlib.ToStarlark(v.n.Agents)
	}
	return nil, nil
}

func nodeBuiltin(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		id                 string
		facts              *starlark.Dict
		classes, agents    starlark.Value = starlark.None, starlark.None
		services, packages *starlark.Dict
		shell              bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "identity", &id, "facts?", &facts, "classes?", &classes,
		"agents?", &agents, "services?", &services, "packages?", &packages, "shell?", &shell); err != nil {
		return nil, err
	}
	if id == "" {
		return nil, fmt.Errorf("%s: identity: want a non-empty string", b.Name())
	}
	n := &fleettest.Node{ID: id, Facts: map[string]any{}, Classes: []string{}, Shell: shell}
	var err error
	if n.Services, err = simServices(b.Name(), services); err != nil {
		return nil, err
	}
	if n.Packages, err = simPackages(b.Name(), packages); err != nil {
		return nil, err
	}
	if facts != nil {
		v, err := starlib.FromStarlark(facts)
		if err != nil {
			return nil, fmt.Errorf("%s: facts: %w", b.Name(), err)
		}
		n.Facts = v.(map[string]any)
	}
	if n.Classes, err = stringList(b.Name()+": classes", classes); err != nil {
		return nil, err
	}
	if agents != starlark.None {
		if n.Agents, err = stringList(b.Name()+": agents", agents); err != nil {
			return nil, err
		}
	}
	return &nodeValue{n}, nil
}

// stringList unpacks None, a string or an iterable of strings.
func stringList(what string, v starlark.Value) ([]string, error) {
	out := []string{}
	switch x := v.(type) {
	case starlark.NoneType:
		return out, nil
	case starlark.String:
		return []string{string(x)}, nil
	case starlark.Iterable:
		it := x.Iterate()
		defer it.Done()
		var e starlark.Value
		for it.Next(&e) {
			s, ok := starlark.AsString(e)
			if !ok {
				return nil, fmt.Errorf("%s: want strings, got %s", what, e.Type())
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: want a string or a list of strings, got %s", what, v.Type())
}

// rule is one canned answer of a fleet.
type rule struct {
	kind   string // reply, fail or silence
	agent  string // "" for any
	action string // "" for any
	nodes  []string
	calls  []int
	data   map[string]any
	code   message.Status
	msg    string
}

func (r *rule) matches(req fleettest.Request) bool {
	return (r.agent == "" || r.agent == req.Agent) && (r.action == "" || r.action == req.Action) &&
		(r.nodes == nil || slices.Contains(r.nodes, req.Node.ID)) && (r.calls == nil || slices.Contains(r.calls, req.Seq))
}

// fleetValue is the Starlark face of a test's fleettest.Fleet and its canned answers.
type fleetValue struct {
	f     *fleettest.Fleet
	mu    sync.Mutex
	rules []*rule
}

// newFleet builds a fleet of nodes (nil for the default fleet) with the built-in agents,
// puppet and the extra DDLs, on the clock of st.
func newFleet(st *state, nodes []*fleettest.Node, ddls map[string]string) (*fleetValue, error) {
	var f *fleettest.Fleet
	if nodes == nil {
		f = fleettest.New()
	} else {
		f = fleettest.NewNodes(nodes...)
	}
	for _, name := range slices.Sorted(maps.Keys(ddls)) {
		a, err := ddl.ParseAgent([]byte(ddls[name]))
		if err != nil {
			return nil, fmt.Errorf("ddl %s: %w", name, err)
		}
		if a.Metadata.Name != name {
			return nil, fmt.Errorf("ddl %s: its metadata names the agent %q", name, a.Metadata.Name)
		}
		f.DDLs[name] = a
	}
	f.Clock = st.clock
	fv := &fleetValue{f: f}
	f.Responder = fv.respond
	st.fleets = append(st.fleets, fv)
	return fv, nil
}

// respond applies the rules that match, in order, to the reply the node's agent gave.
func (fv *fleetValue) respond(req fleettest.Request, r *agent.Reply) bool {
	fv.mu.Lock()
	defer fv.mu.Unlock()
	reply := true
	for _, ru := range fv.rules {
		if !ru.matches(req) {
			continue
		}
		switch ru.kind {
		case "silence":
			reply = false
		case "fail":
			reply = true
			r.Status, r.Message = ru.code, ru.msg
		case "reply":
			reply = true
			r.Status, r.Message = message.OK, ru.msg
			if r.Data == nil {
				r.Data = map[string]any{}
			}
			maps.Copy(r.Data, ru.data)
		}
	}
	return reply
}

func (fv *fleetValue) add(r *rule) {
	fv.mu.Lock()
	defer fv.mu.Unlock()
	fv.rules = append(fv.rules, r)
}

func (fv *fleetValue) String() string {
	return "<fleet of " + plural.Count(len(fv.f.Nodes), "node", "nodes") + ">"
}
func (fv *fleetValue) Type() string          { return "fleet" }
func (fv *fleetValue) Freeze()               {}
func (fv *fleetValue) Truth() starlark.Bool  { return true }
func (fv *fleetValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: fleet") }
func (fv *fleetValue) AttrNames() []string {
	return []string{"calls", "fail", "nodes", "on_call", "reply", "silence"}
}

func (fv *fleetValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "nodes":
		ids := make([]string, len(fv.f.Nodes))
		for i, n := range fv.f.Nodes {
			ids[i] = n.ID
		}
		return starlib.NewNodeSet(ids), nil
	case "reply":
		return starlark.NewBuiltin("reply", fv.reply), nil
	case "fail":
		return starlark.NewBuiltin("fail", fv.fail), nil
	case "silence":
		return starlark.NewBuiltin("silence", fv.silence), nil
	case "on_call":
		return starlark.NewBuiltin("on_call", fv.onCall), nil
	case "calls":
		return starlark.NewBuiltin("calls", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return callsOf(fv.f.Calls(), b, args, kwargs)
		}), nil
	}
	return nil, nil
}

// scope unpacks the node= and call= selectors of a rule.
func scope(fn string, r *rule, node, call starlark.Value) error {
	if node != starlark.None {
		ids, err := stringList(fn+": node", node)
		if err != nil {
			return err
		}
		r.nodes = ids
	}
	switch x := call.(type) {
	case starlark.NoneType:
	case starlark.Int:
		n, ok := x.Int64()
		if !ok || n < 1 {
			return fmt.Errorf("%s: call: want a count from 1, got %s", fn, x)
		}
		r.calls = []int{int(n)}
	case starlark.Iterable:
		it := x.Iterate()
		defer it.Done()
		var e starlark.Value
		for it.Next(&e) {
			var n int
			if err := starlark.AsInt(e, &n); err != nil || n < 1 {
				return fmt.Errorf("%s: call: want counts from 1, got %s", fn, e)
			}
			r.calls = append(r.calls, n)
		}
		if r.calls == nil {
			r.calls = []int{}
		}
	default:
		return fmt.Errorf("%s: call: want an int or a list of ints, got %s", fn, call.Type())
	}
	return nil
}

// dataOf converts reply data: a dict with string keys.
func dataOf(fn string, d *starlark.Dict) (map[string]any, error) {
	if d == nil {
		return map[string]any{}, nil
	}
	v, err := starlib.FromStarlark(d)
	if err != nil {
		return nil, fmt.Errorf("%s: data: %w", fn, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: data: want a dict with string keys", fn)
	}
	return m, nil
}

// fleet.reply(agent, action=None, data={}, *, node=None, call=None, msg="OK")
func (fv *fleetValue) reply(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := &rule{kind: "reply", msg: "OK"}
	var (
		data       *starlark.Dict
		node, call starlark.Value = starlark.None, starlark.None
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "agent", &r.agent, "action?", &r.action, "data?", &data,
		"node?", &node, "call?", &call, "msg?", &r.msg); err != nil {
		return nil, err
	}
	if err := scope(b.Name(), r, node, call); err != nil {
		return nil, err
	}
	var err error
	if r.data, err = dataOf(b.Name(), data); err != nil {
		return nil, err
	}
	fv.add(r)
	return starlark.None, nil
}

// fleet.fail(agent, action=None, *, node=None, call=None, code=1, msg="failed")
func (fv *fleetValue) fail(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := &rule{kind: "fail", msg: "failed"}
	var (
		node, call starlark.Value = starlark.None, starlark.None
		code                      = 1
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "agent", &r.agent, "action?", &r.action,
		"node?", &node, "call?", &call, "code?", &code, "msg?", &r.msg); err != nil {
		return nil, err
	}
	if code < 1 || code > 5 {
		return nil, fmt.Errorf("%s: code: want 1 to 5, got %d", b.Name(), code)
	}
	r.code = message.Status(code)
	if err := scope(b.Name(), r, node, call); err != nil {
		return nil, err
	}
	fv.add(r)
	return starlark.None, nil
}

// fleet.silence(*nodes, agent=None, action=None, call=None)
func (fv *fleetValue) silence(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := &rule{kind: "silence"}
	var call starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), nil, kwargs, "agent?", &r.agent, "action?", &r.action, "call?", &call); err != nil {
		return nil, err
	}
	if len(args) > 0 {
		ids, err := stringList(b.Name()+": nodes", args)
		if err != nil {
			return nil, err
		}
		r.nodes = ids
	}
	if err := scope(b.Name(), r, starlark.None, call); err != nil {
		return nil, err
	}
	fv.add(r)
	return starlark.None, nil
}

// fleet.on_call(n, agent, action=None, data=None, *, node=None, code=0, msg=None)
func (fv *fleetValue) onCall(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		n, code       int
		agent, action string
		data          *starlark.Dict
		node          starlark.Value = starlark.None
		msg           starlark.Value = starlark.None
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "n", &n, "agent", &agent, "action?", &action, "data?", &data,
		"node?", &node, "code?", &code, "msg?", &msg); err != nil {
		return nil, err
	}
	r := &rule{kind: "reply", agent: agent, action: action, msg: "OK"}
	if code != 0 {
		if code < 1 || code > 5 {
			return nil, fmt.Errorf("%s: code: want 0 to 5, got %d", b.Name(), code)
		}
		r.kind, r.code, r.msg = "fail", message.Status(code), "failed"
	}
	if s, ok := starlark.AsString(msg); ok {
		r.msg = s
	}
	if err := scope(b.Name(), r, node, starlark.MakeInt(n)); err != nil {
		return nil, err
	}
	var err error
	if r.data, err = dataOf(b.Name(), data); err != nil {
		return nil, err
	}
	fv.add(r)
	return starlark.None, nil
}

// fleet(nodes=None, ddls={})
func fleetBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	st, err := stateOf(thread, b.Name())
	if err != nil {
		return nil, err
	}
	var (
		nodes starlark.Value = starlark.None
		ddls  *starlark.Dict
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "nodes?", &nodes, "ddls?", &ddls); err != nil {
		return nil, err
	}
	var list []*fleettest.Node
	if nodes != starlark.None {
		iter, ok := nodes.(starlark.Iterable)
		if !ok {
			return nil, fmt.Errorf("%s: nodes: want a list, got %s", b.Name(), nodes.Type())
		}
		list = []*fleettest.Node{}
		seen := map[string]bool{}
		it := iter.Iterate()
		defer it.Done()
		var e starlark.Value
		for it.Next(&e) {
			var n *fleettest.Node
			switch x := e.(type) {
			case *nodeValue:
				c := *x.n
				n = &c
			case starlark.String:
				n = &fleettest.Node{ID: string(x), Facts: map[string]any{}, Classes: []string{}}
			default:
				return nil, fmt.Errorf("%s: nodes: want node() values or identities, got %s", b.Name(), e.Type())
			}
			if seen[n.ID] {
				return nil, fmt.Errorf("%s: node %q declared twice", b.Name(), n.ID)
			}
			seen[n.ID] = true
			list = append(list, n)
		}
	}
	extra := map[string]string{}
	if ddls != nil {
		for _, kv := range ddls.Items() {
			k, ok1 := starlark.AsString(kv[0])
			v, ok2 := starlark.AsString(kv[1])
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("%s: ddls: want agent name to JSON DDL text", b.Name())
			}
			extra[k] = v
		}
	}
	fv, err := newFleet(st, list, extra)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	st.use(thread, fv)
	return fv, nil
}

// calls(agent=None, action=None, kind=None)
func callsBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	st, err := stateOf(thread, b.Name())
	if err != nil {
		return nil, err
	}
	return callsOf(st.fleet.f.Calls(), b, args, kwargs)
}

func callsOf(all []fleettest.Call, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var agent, action, kind string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "agent?", &agent, "action?", &action, "kind?", &kind); err != nil {
		return nil, err
	}
	var out []starlark.Value
	for _, c := range all {
		if (agent != "" && c.Agent != agent) || (action != "" && c.Action != action) || (kind != "" && c.Kind != kind) {
			continue
		}
		v, err := callValue(c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		out = append(out, v)
	}
	return starlark.NewList(out), nil
}

// callValue renders one recorded call as a struct.
func callValue(c fleettest.Call) (starlark.Value, error) {
	args, err := starlib.ToStarlark(orEmpty(c.Args))
	if err != nil {
		return nil, err
	}
	var nodes starlark.Value = starlark.None
	if c.Nodes != nil {
		nodes = strList(c.Nodes)
	}
	batches := make([]starlark.Value, len(c.Batches))
	for i, b := range c.Batches {
		batches[i] = strList(b)
	}
	if c.Kind == "discover" {
		batches = nil
	}
	var batch starlark.Value = starlark.None
	if c.Batch != "" {
		batch = starlark.String(c.Batch)
	}
	flt := ""
	if !c.Filter.Empty() {
		flt = filter.String(c.Filter)
	}
	targets := c.Targets
	if targets == nil {
		targets = []string{}
	}
	sort.Strings(targets)
	return starlarkstruct.FromStringDict(starlark.String("call"), starlark.StringDict{
		"kind":    starlark.String(c.Kind),
		"agent":   starlark.String(c.Agent),
		"action":  starlark.String(c.Action),
		"args":    args,
		"nodes":   nodes,
		"targets": strList(targets),
		"batches": starlark.NewList(batches),
		"batch":   batch,
		"filter":  starlark.String(flt),
		"seq":     starlark.MakeInt(c.Seq),
	}), nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func strList(ss []string) *starlark.List {
	vs := make([]starlark.Value, len(ss))
	for i, s := range ss {
		vs[i] = starlark.String(s)
	}
	return starlark.NewList(vs)
}
