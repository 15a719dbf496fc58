package starlib

import (
	"fmt"
	"strings"
	"time"

	"go.starlark.net/lib/json"
	startime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/filter"
	"github.com/mcorun/mcorun/runtime/message"

	"github.com/mcorun/mcorun/runtime/plural"
)

// FailError is the error of fail(msg): the playbook stopped itself on purpose. Find it in
// an evaluation error with errors.As.
type FailError struct{ Msg string }

// Error returns "fail: " and the message, like the fail of the Starlark spec.
func (e *FailError) Error() string { return "fail: " + e.Msg }

// Predeclared returns the builtins of a playbook, fresh for one run: discover, rpc, filter,
// rolling, wait_until, sleep, log, fail, exit, params, args, nodeset, struct and the json and
// time modules. params and args share state, so use one Predeclared per run (Run does) and
// never share it between concurrent threads.
func Predeclared() starlark.StringDict {
	p := &paramsValue{}
	return starlark.StringDict{
		"discover":   starlark.NewBuiltin("discover", discover),
		"rpc":        starlark.NewBuiltin("rpc", rpc),
		"filter":     filterFunc{},
		"rolling":    starlark.NewBuiltin("rolling", rolling),
		"wait_until": starlark.NewBuiltin("wait_until", waitUntil),
		"sleep":      starlark.NewBuiltin("sleep", sleep),
		"log":        starlark.NewBuiltin("log", logBuiltin),
		"fail":       starlark.NewBuiltin("fail", fail),
		"exit":       starlark.NewBuiltin("exit", exitBuiltin),
		"params":     starlark.NewBuiltin("params", p.declare),
		"param":      paramModule(),
		"args":       p,
		"nodeset":    starlark.NewBuiltin("nodeset", nodesetBuiltin),
		"struct":     starlark.NewBuiltin("struct", starlarkstruct.Make),
		"json":       json.Module,
		"time":       startime.Module,
		"report":     newReportModule(),
	}
}

// Params returns the parameter names of a builtin ("discover", "filter.fact", ...) and
// whether it takes only those as keywords, for static checks of playbooks. They are read
// from the builtin's signature in HelpEntries, the one table of the API: a builtin whose
// signature takes **kwargs (log, params, struct) or that has none takes any keyword.
func Params(builtin string) ([]string, bool) {
	for _, e := range HelpEntries() {
		if e.Name == builtin {
			return signatureParams(builtin, e.Signature)
		}
	}
	return nil, false
}

// signatureParams parses a help signature such as `rpc(agent, action, args=None, *,
// nodes=None) -> ResultSet` as a Starlark def and returns its named parameters, and false
// when it is not a call of name or takes **kwargs.
func signatureParams(name, sig string) ([]string, bool) {
	head, _, _ := strings.Cut(sig, " -> ")
	params, ok := strings.CutPrefix(head, name+"(")
	if !ok || !strings.HasSuffix(head, ")") {
		return nil, false
	}
	src := "def f(" + params + ":\n    pass\n"
	f, err := syntax.Parse("signature", src, 0)
	if err != nil {
		return nil, false
	}
	names := []string{}
	for _, p := range f.Stmts[0].(*syntax.DefStmt).Params {
		switch x := p.(type) {
		case *syntax.Ident:
			names = append(names, x.Name)
		case *syntax.BinaryExpr:
			names = append(names, x.X.(*syntax.Ident).Name)
		case *syntax.UnaryExpr:
			if x.Op == syntax.STARSTAR {
				return nil, false
			}
		}
	}
	return names, true
}

func setTimeNow(thread *starlark.Thread, c Clock) {
	startime.SetNow(thread, func() (time.Time, error) { return c.Now(), nil })
}

// maxPositional rejects positional arguments beyond a builtin's keyword-only marker.
func maxPositional(b *starlark.Builtin, args starlark.Tuple, n int) error {
	if len(args) > n {
		return fmt.Errorf("%s: got %s, want at most %d", b.Name(), plural.Count(len(args), "positional argument", "positional arguments"), n)
	}
	return nil
}

func filterString(f *Filter) string {
	if f == nil {
		return filter.String(message.Filter{})
	}
	return filter.String(f.f)
}

func (a filterArg) message() message.Filter {
	if a.f == nil {
		return message.Filter{}
	}
	return a.f.f
}

// discover(filter=None, *, timeout="2s", method=None, nodes=None, limit=None, collective=None,
// seed=None, options=None)
func discover(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		flt        filterArg
		timeout    = Duration(2 * time.Second)
		method     optString
		nodes      nodesArg
		limit      countArg
		collective optString
		seed       optInt
		options    optionsArg
	)
	if err := maxPositional(b, args, 1); err != nil {
		return nil, err
	}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "filter?", &flt, "timeout?", &timeout,
		"method?", &method, "nodes?", &nodes, "limit?", &limit, "collective?", &collective, "seed?", &seed,
		"options?", &options); err != nil {
		return nil, err
	}
	if method == "nodes" {
		if !nodes.set {
			return nil, fmt.Errorf("discover: method \"nodes\" needs nodes=")
		}
		method = ""
	} else if err := checkMethod(method, flt.message()); err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	fleet, err := fleetOf(thread, b.Name())
	if err != nil {
		return nil, err
	}
	ev := Event{Kind: "discover", Filter: filterString(flt.f)}
	if nodes.set && nodes.nodes.Len() == 0 {
		ev.Targets = []string{}
		loggerOf(thread).Step(ev)
		return nodes.nodes, nil // an empty list never means "everything"
	}
	opts := client.DiscoverOptions{Filter: flt.message(), Timeout: time.Duration(timeout),
		Collective: string(collective), Limit: limit.s, LimitSeed: int64(seed),
		Method: string(method), MethodOptions: options.m}
	if nodes.set {
		opts.Nodes = nodes.nodes.IDs()
	}
	clock := clockOf(thread)
	start := clock.Now()
	ids, err := fleet.Discover(contextOf(thread), opts)
	ev.Duration = clock.Now().Sub(start)
	if err != nil {
		ev.Err = err.Error()
		loggerOf(thread).Step(ev)
		return nil, fmt.Errorf("discover: %w", err)
	}
	set := NewNodeSet(ids)
	ev.Targets = set.IDs()
	loggerOf(thread).Step(ev)
	return set, nil
}

// rpc(agent, action, args=None, *, nodes=None, filter=None, timeout=None, batch=None,
// batch_sleep="1s", limit=None, ttl=60, discovery_timeout=None, collective=None)
func rpc(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		agent, action string
		input         starlark.Value = starlark.None
		nodes         nodesArg
		flt           filterArg
		timeout       Duration
		batch         countArg
		batchSleep    = Duration(time.Second)
		limit         countArg
		ttl           = Duration(60 * time.Second)
		discTimeout   Duration
		collective    optString
		method        optString
		options       optionsArg
	)
	if err := maxPositional(b, args, 3); err != nil {
		return nil, err
	}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "agent", &agent, "action", &action, "args?", &input,
		"nodes?", &nodes, "filter?", &flt, "timeout?", &timeout, "batch?", &batch, "batch_sleep?", &batchSleep,
		"limit?", &limit, "ttl?", &ttl, "discovery_timeout?", &discTimeout, "collective?", &collective,
		"method?", &method, "options?", &options); err != nil {
		return nil, err
	}
	if err := checkMethod(method, flt.message()); err != nil {
		return nil, fmt.Errorf("rpc: %w", err)
	}
	if ttl < Duration(time.Second) {
		// the wire carries whole seconds: a shorter TTL would expire on arrival
		return nil, fmt.Errorf("rpc: ttl: want at least 1s, got %s", time.Duration(ttl))
	}
	if batchSleep == 0 {
		batchSleep = -1 // the client reads 0 as its 1s default and a negative value as none
	}
	data := map[string]any{}
	switch x := input.(type) {
	case starlark.NoneType:
	case *starlark.Dict:
		v, err := FromStarlark(x)
		if err != nil {
			return nil, fmt.Errorf("rpc: args: %w", err)
		}
		data = v.(map[string]any)
	default:
		return nil, fmt.Errorf("rpc: args: want dict, got %s", input.Type())
	}
	fleet, err := fleetOf(thread, b.Name())
	if err != nil {
		return nil, err
	}
	agentDDL, err := fleet.DDL(agent)
	if err != nil {
		return nil, fmt.Errorf("rpc: %s: %w", agent, err)
	}
	agentDDL.SetInputDefaults(action, data)
	if err := agentDDL.Validate(action, data); err != nil {
		return nil, fmt.Errorf("rpc: %s.%s: %w", agent, action, err)
	}
	ev := Event{Kind: "rpc", Agent: agent, Action: action, Filter: filterString(flt.f), Args: data}
	logger := loggerOf(thread)
	if nodes.set && nodes.nodes.Len() == 0 {
		ev.Targets = []string{}
		logger.Step(ev)
		return NewResultSet(&client.Results{Agent: agent, Action: action})
	}
	opts := client.CallOptions{Filter: flt.message(), Timeout: time.Duration(timeout),
		DiscoveryTimeout: time.Duration(discTimeout), Collective: string(collective), Batch: batch.s,
		BatchSleep: time.Duration(batchSleep), Limit: limit.s, TTL: time.Duration(ttl),
		Method: string(method), MethodOptions: options.m}
	if nodes.set {
		opts.Nodes = nodes.nodes.IDs()
	}
	clock, ctx := clockOf(thread), contextOf(thread)
	start := clock.Now()
	var res *client.Results
	if dry := dryRunOf(thread); dry != nil && dry(agent, action) {
		ev.DryRun = true
		res, err = dryRun(thread, fleet, agentDDL, agent, action, data, opts)
	} else {
		res, err = fleet.Call(ctx, agent, action, data, opts)
	}
	ev.Duration = clock.Now().Sub(start)
	if err != nil {
		// an interrupted call still reports the replies it got: the report keeps them
		if res != nil {
			ev.outcome(res)
		} else if nodes.set {
			ev.Targets = opts.Nodes
		}
		ev.Err = err.Error()
		logger.Step(ev)
		return nil, fmt.Errorf("rpc: %s.%s: %w", agent, action, err)
	}
	ev.outcome(res)
	logger.Step(ev)
	rs, err := NewResultSet(res)
	if rs != nil {
		rs.dryRun = ev.DryRun
	}
	return rs, err
}

// outcome records the targets and replies of a call in ev.
func (ev *Event) outcome(res *client.Results) {
	ev.Targets = res.Targets
	for _, r := range res.OK {
		ev.OK = append(ev.OK, r.Sender)
	}
	for _, r := range res.Failed {
		ev.Failed = append(ev.Failed, r.Sender)
	}
	for _, n := range res.Missing {
		switch why := res.Reason(n); why {
		case client.ReasonNotSent:
			ev.NotSent = append(ev.NotSent, n)
		case client.ReasonNoReply:
			ev.Missing = append(ev.Missing, n)
		default:
			ev.Missing = append(ev.Missing, n)
			if ev.MissingReasons == nil {
				ev.MissingReasons = map[string]string{}
			}
			ev.MissingReasons[n] = why
		}
	}
}

// dryRun plans the call with the fleet's own planner (client.NewPlan, as a real call does),
// runs the plan's discovery for real, logs the call that would be sent, batch by batch,
// and answers it with an ok reply per target whose data holds the DDL output defaults.
// A discovery that finds nothing fails as the real call would.
func dryRun(thread *starlark.Thread, fleet Fleet, d *ddl.Agent, agent, action string, data map[string]any,
	opts client.CallOptions) (*client.Results, error) {
	p, err := fleet.Plan(agent, action, data, opts)
	if err != nil {
		return nil, err
	}
	var found []string
	if p.Discovery != nil {
		if found, err = fleet.Discover(contextOf(thread), *p.Discovery); err != nil {
			return nil, err
		}
	}
	tg := p.Target(found)
	if p.Discovery != nil && len(tg.Nodes) == 0 {
		return nil, client.ErrNoNodes
	}
	res := &client.Results{Agent: agent, Action: action, Targets: tg.Nodes}
	for _, id := range tg.Nodes {
		res.OK = append(res.OK, client.Result{Sender: id, Code: message.OK, Message: "OK", Data: d.Defaults(action)})
	}
	routing := "broadcast"
	if tg.Directed {
		routing = "directed"
	}
	fields := map[string]any{"args": p.Args, "nodes": tg.Nodes, "routing": routing, "timeout": p.Timeout.String()}
	if len(tg.Batches) > 1 {
		batches := make([]any, len(tg.Batches))
		for i, batch := range tg.Batches {
			batches[i] = batch
		}
		fields["batches"] = batches
	}
	loggerOf(thread).Log(fmt.Sprintf("dry run: would call %s.%s on %s", agent, action, plural.Count(len(tg.Nodes), "node", "nodes")), fields)
	return res, nil
}

// sleep(duration)
func sleep(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var d Duration
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "duration", &d); err != nil {
		return nil, err
	}
	if err := sleepFor(thread, time.Duration(d)); err != nil {
		return nil, fmt.Errorf("sleep: %w", err)
	}
	return starlark.None, nil
}

// log(msg, **fields)
func logBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var msg starlark.Value
	if err := starlark.UnpackPositionalArgs(b.Name(), args, nil, 1, &msg); err != nil {
		return nil, err
	}
	text, ok := starlark.AsString(msg)
	if !ok {
		text = msg.String()
	}
	fields := make(map[string]any, len(kwargs))
	for _, kv := range kwargs {
		k, _ := starlark.AsString(kv[0])
		v, err := FromStarlark(kv[1])
		if err != nil {
			v = repr(kv[1].String())
		}
		fields[k] = v
	}
	loggerOf(thread).Log(text, fields)
	return starlark.None, nil
}

// fail(*args, sep=" ")
func fail(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	sep := " "
	if err := starlark.UnpackArgs(b.Name(), nil, kwargs, "sep?", &sep); err != nil {
		return nil, err
	}
	parts := make([]string, len(args))
	for i, v := range args {
		if s, ok := starlark.AsString(v); ok {
			parts[i] = s
		} else {
			parts[i] = v.String()
		}
	}
	return nil, &FailError{Msg: strings.Join(parts, sep)}
}
