package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/ddl"
)

const rpcUsage = `Usage:
  mcorun rpc AGENT ACTION [key=value]... [filters] [flags]

Calls ACTION of AGENT on the nodes that have the agent and match the filters,
then prints the replies the action's DDL asks to display (--display overrides),
the aggregate summaries, and the nodes that did not reply, like mco rpc.
Values are converted to the input types of the DDL and validated before
anything is sent.

Examples:
  mcorun rpc rpcutil ping
  mcorun rpc rpcutil get_fact fact=role -F environment=production
  mcorun rpc rpcutil agent_inventory -I web01.dc1.example.net --display all
  mcorun rpc rpcutil daemon_stats --batch 10 --batch-sleep 2
  mcorun rpc rpcutil get_fact fact=role --json | jq .replies
  mcorun rpc rpcutil get_fact fact=role --format csv
`

func rpcCommand() *command {
	return &command{name: "rpc", summary: "call an agent's action on the nodes", usage: rpcUsage, run: runRPC}
}

func runRPC(ctx context.Context, e *env, args []string) int {
	var c commonFlags
	var display string
	fs := newFlagSet("rpc", &c)
	fs.StringVar(&display, "display", "", "which replies to print: ok, failed or all (default the DDL's choice)")
	addFormatFlag(fs, &c)
	if done, err := parseFlags(e, fs, rpcUsage, args); done {
		return exitOK
	} else if err != nil {
		return usageErr(e, "rpc", err)
	}
	switch display {
	case "", "ok", "failed", "all", "always":
	default:
		return usageErr(e, "rpc", fmt.Errorf("--display must be ok, failed or all, not %q", display))
	}
	if fs.NArg() < 2 {
		return usageErr(e, "rpc", errors.New("want AGENT ACTION [key=value]..."))
	}
	agent, action := fs.Arg(0), fs.Arg(1)
	c.agents = append(c.agents, agent)
	c.callAgent = agent
	s, code, ok := prepare(e, "rpc", &c)
	if !ok {
		return code
	}
	raw, err := parseKeyValues(fs.Args()[2:])
	if err != nil {
		return usageErr(e, "rpc", err)
	}
	agentDDL := localDDL(s.cfg, agent)
	var reqArgs map[string]any
	if agentDDL != nil {
		if reqArgs, err = typedArgs(agentDDL, action, raw); err != nil {
			return usageErr(e, "rpc", err)
		}
	}
	fl, closeFn, code, ok := s.connect(ctx)
	if !ok {
		return code
	}
	defer closeFn()
	if agentDDL == nil {
		if agentDDL, err = fl.DDL(agent); err != nil {
			if errors.Is(err, ddl.ErrNotFound) || errors.Is(err, client.ErrUnknownAgent) {
				fmt.Fprintf(e.stderr, "mcorun rpc: unknown agent %q: no DDL for it is built in or in a libdir.\n"+
					"Run 'mcorun plugin doc' for the agents mcorun knows. For another agent, put its JSON DDL\n"+
					"as LIBDIR/mcollective/agent/%s.json, with LIBDIR listed in the config's libdir.\n", agent, agent)
			} else {
				fmt.Fprintf(e.stderr, "mcorun rpc: agent %s: %v\n", agent, err)
			}
			return exitUsage
		}
		if reqArgs, err = typedArgs(agentDDL, action, raw); err != nil {
			return usageErr(e, "rpc", err)
		}
	}
	act := agentDDL.Actions[action]
	for _, k := range undeclaredInputs(agentDDL, action, raw) {
		fmt.Fprintf(e.stderr, "mcorun rpc: warning: %s is not an input of %s#%s (inputs: %s); it is sent as a string. See 'mcorun plugin doc %s'.\n",
			k, agent, action, strings.Join(inputNames(act), ", "), agent)
	}

	start := time.Now()
	if !c.json {
		fmt.Fprintf(e.stderr, "Discovering hosts using the %s method for %d second(s) .... ", s.discoveryMethod(), s.discoveryTimeout())
	}
	nodes, err := fl.Discover(ctx, c.callDiscoverOptions(s.filter, s.nodes, agent))
	if err != nil {
		if !c.json {
			fmt.Fprintln(e.stderr)
		}
		return s.fail(fmt.Errorf("discovery: %w", err))
	}
	discoveryTime := time.Since(start)
	if !c.json {
		fmt.Fprintf(e.stderr, "%d\n", len(nodes))
	}
	if len(nodes) == 0 {
		if c.json {
			_ = s.writeList(rpcList(rpcJSON(agent, action, &client.Results{Agent: agent, Action: action}, nil, 0, 0)))
		} else {
			fmt.Fprintln(e.stderr, "\nNo request sent, we did not discover any nodes.")
		}
		return exitNothingDiscovered
	}

	opts := c.callOptions(s.filter, nodes, len(s.nodes) > 0)
	bar := s.progress(len(nodes))
	if bar != nil {
		opts.OnReply = func(client.Result) { _ = bar.Add(1) }
	}
	callStart := time.Now()
	res, err := fl.Call(ctx, agent, action, reqArgs, opts)
	agentTime := time.Since(callStart)
	if bar != nil {
		_ = bar.Finish()
		_ = bar.Clear()
	}
	if err != nil {
		if errors.Is(err, client.ErrInvalidArgs) || errors.Is(err, client.ErrUnknownAgent) {
			return usageErr(e, "rpc", err)
		}
		return s.fail(fmt.Errorf("%s#%s: %w", agent, action, err))
	}
	replies := append(append([]client.Result(nil), res.OK...), res.Failed...)
	sortResults(replies)
	aggs := computeAggregates(act, replies)
	if c.json {
		if err := s.writeList(rpcList(rpcJSON(agent, action, res, aggs, discoveryTime, agentTime))); err != nil {
			return s.fail(err)
		}
		return exitForResults(res)
	}
	fmt.Fprintf(e.stdout, "\n%s\n", formatReplies(s.color, act, replies, displayMode(act, display)))
	discovered := len(res.Targets)
	if discovered == 0 {
		discovered = len(nodes)
	}
	fmt.Fprint(e.stdout, formatStats(s.color, aggs, len(replies), discovered, agentTime, res.Missing, res.Reasons))
	return exitForResults(res)
}

// parseKeyValues splits key=value arguments.
func parseKeyValues(args []string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("argument %q is not key=value", a)
		}
		out[k] = v
	}
	return out, nil
}

// typedArgs converts key=value strings to the action's input types, fills in input
// defaults and validates the request as mco does before sending it.
func typedArgs(a *ddl.Agent, action string, raw map[string]string) (map[string]any, error) {
	act, ok := a.Actions[action]
	if !ok {
		names := make([]string, 0, len(a.Actions))
		for n := range a.Actions {
			names = append(names, n)
		}
		sortStrings(names)
		return nil, fmt.Errorf("agent %s has no action %q; its actions are: %s", a.Metadata.Name, action, strings.Join(names, ", "))
	}
	out := map[string]any{}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sortStrings(keys)
	for _, k := range keys {
		v := raw[k]
		in, ok := act.Input[k]
		if !ok {
			out[k] = v
			continue
		}
		x, err := in.Convert(v)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %v (input %s of %s#%s is a %s)", k, v, err, k, a.Metadata.Name, action, in.Type)
		}
		out[k] = x
	}
	a.SetInputDefaults(action, out)
	if err := a.Validate(action, out); err != nil {
		return nil, fmt.Errorf("invalid request for %s#%s: %w; see 'mcorun plugin doc %s'", a.Metadata.Name, action, err, a.Metadata.Name)
	}
	return out, nil
}

// undeclaredInputs returns the keys of raw that the action's DDL does not declare, sorted.
// mco sends them as they are; a typo in an optional input would otherwise go unnoticed.
func undeclaredInputs(a *ddl.Agent, action string, raw map[string]string) []string {
	act, ok := a.Actions[action]
	if !ok {
		return nil
	}
	var out []string
	for k := range raw {
		if _, ok := act.Input[k]; !ok {
			out = append(out, k)
		}
	}
	sortStrings(out)
	return out
}

// inputNames lists an action's inputs, sorted, or "none".
func inputNames(act *ddl.Action) []string {
	names := make([]string, 0, len(act.Input))
	for n := range act.Input {
		names = append(names, n)
	}
	sortStrings(names)
	if len(names) == 0 {
		names = []string{"none"}
	}
	return names
}

// localDDL finds an agent's DDL without the network: a JSON file in a libdir, else built in.
func localDDL(cfg *config.Config, agent string) *ddl.Agent {
	find, _ := ddl.FromLibDirs(cfg.LibDir)
	a, err := find(agent)
	if err != nil {
		return nil
	}
	return a
}
