package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

// This file holds what the verbs of the acting agents (service, package, shell) share: the
// confirmation of unfiltered changes, the checked start of a call, and the per-node lines
// and closing statistics of mco's applications.

// callResult is a discovered call's outcome: the replies sorted by sender and the timings.
type callResult struct {
	res        *client.Results
	nodes      []string
	replies    []client.Result
	discovery  time.Duration
	agentTime  time.Duration
	discovered int
}

// discoverAndCall discovers the matching nodes and calls agent's action on them, as mco's
// rpcclient does. done is true when the command ends here (nothing discovered, or an
// error, already printed); code is then its exit code.
func discoverAndCall(ctx context.Context, s *session, fl fleet, agent, action string, args map[string]any, progress bool) (cr callResult, code int, done bool) {
	e := s.e
	start := time.Now()
	if !s.flags.json {
		fmt.Fprintf(e.stderr, "Discovering hosts using the %s method for %d second(s) .... ", s.discoveryMethod(), s.discoveryTimeout())
	}
	nodes, err := fl.Discover(ctx, s.flags.callDiscoverOptions(s.filter, s.nodes, agent))
	if err != nil {
		if !s.flags.json {
			fmt.Fprintln(e.stderr)
		}
		return cr, s.fail(fmt.Errorf("discovery: %w", err)), true
	}
	cr.discovery = time.Since(start)
	cr.nodes = nodes
	if !s.flags.json {
		fmt.Fprintf(e.stderr, "%d\n", len(nodes))
	}
	if len(nodes) == 0 {
		if s.flags.json {
			_ = writeJSON(e.stdout, rpcJSON(agent, action, &client.Results{Agent: agent, Action: action}, nil, 0, 0))
		} else {
			fmt.Fprintln(e.stderr, "\nNo request sent, we did not discover any nodes.")
		}
		return cr, exitNothingDiscovered, true
	}
	opts := s.flags.callOptions(s.filter, nodes, len(s.nodes) > 0)
	bar := s.progress(len(nodes))
	if bar != nil && progress {
		opts.OnReply = func(client.Result) { _ = bar.Add(1) }
	}
	callStart := time.Now()
	res, err := fl.Call(ctx, agent, action, args, opts)
	cr.agentTime = time.Since(callStart)
	if bar != nil && progress {
		_ = bar.Finish()
		_ = bar.Clear()
	}
	if err != nil {
		if errors.Is(err, client.ErrInvalidArgs) {
			return cr, usageErr(e, s.verb, err), true
		}
		return cr, s.fail(fmt.Errorf("%s#%s: %w", agent, action, err)), true
	}
	cr.res = res
	cr.replies = append(append([]client.Result(nil), res.OK...), res.Failed...)
	sortResults(cr.replies)
	cr.discovered = len(res.Targets)
	if cr.discovered == 0 {
		cr.discovered = len(nodes)
	}
	return cr, 0, false
}

// unfiltered reports whether the command line selects every node: no filter flag and no
// --nodes list. It is checked before the verb adds its own agent filter.
func (c *commonFlags) unfiltered() bool {
	return len(c.facts)+len(c.classes)+len(c.identities)+len(c.agents)+len(c.with) == 0 &&
		c.selectExpr == "" && c.nodesFile == ""
}

// confirmUnfiltered asks, as mco's applications do, before a state-changing verb acts on
// every node: "Do you really want to operate on NOUN unfiltered? (y/n): ". --yes skips the
// question. Without a terminal on stdin nothing can be asked: the verb is refused with the
// usage exit code rather than waiting on stdin. A "no" ends the verb with exit code 1, as
// mco's does, and an interruption with 130. ok is true when the verb may go on.
func confirmUnfiltered(ctx context.Context, e *env, c *commonFlags, verb, noun string, yes bool) (code int, ok bool) {
	if yes || !c.unfiltered() {
		return 0, true
	}
	if !e.stdinTTY {
		fmt.Fprintf(e.stderr, "mcorun %s: refusing to operate on %s unfiltered without confirmation: "+
			"add a filter (-F -C -I -A -W -S or --nodes), or pass --yes to act on every node\n", verb, noun)
		return exitUsage, false
	}
	fmt.Fprintf(e.stderr, "Do you really want to operate on %s unfiltered? (y/n): ", noun)
	answer := make(chan string, 1)
	e.clockOrReal().Go(func() {
		line, _ := bufio.NewReader(e.stdin).ReadString('\n')
		answer <- line
	})
	select {
	case <-ctx.Done():
		fmt.Fprintln(e.stderr)
		return exitInterrupted, false
	case line := <-answer:
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return 0, true
		}
		fmt.Fprintf(e.stderr, "mcorun %s: not confirmed; nothing was sent\n", verb)
		return exitFailure, false
	}
}

// clockOrReal is the env's clock, the real one unless a test set another.
func (e *env) clockOrReal() clock.Clock {
	if e.clock != nil {
		return e.clock
	}
	return clock.Real{}
}

// actRequest is one call of an acting agent's verb, before anything is sent.
type actRequest struct {
	agent, action string
	args          map[string]any // the inputs; checked against the DDL before connecting
	changes       bool           // the action changes the nodes: unfiltered use asks first
	noun          string         // what the confirmation question names: "services"
}

// actStart runs the steps every acting verb begins with once its operands are parsed: the
// confirmation of an unfiltered change, the session, the DDL check of the inputs (the
// validator's message is shown and nothing is sent) and the connection. When ok is false
// the verb is over and returns code. Otherwise the caller closes the fleet with closeFn.
func actStart(ctx context.Context, e *env, verb string, c *commonFlags, yes bool, req actRequest) (s *session, fl fleet, act *ddl.Action, closeFn func(), code int, ok bool) {
	if req.changes {
		if code, ok := confirmUnfiltered(ctx, e, c, verb, req.noun, yes); !ok {
			return nil, nil, nil, nil, code, false
		}
	}
	c.agents = append(c.agents, req.agent)
	if s, code, ok = prepare(e, verb, c); !ok {
		return nil, nil, nil, nil, code, false
	}
	agentDDL := localDDL(s.cfg, req.agent)
	if agentDDL == nil {
		fmt.Fprintf(e.stderr, "mcorun %s: no DDL for the %s agent: put %s.json in a libdir's mcollective/agent directory\n", verb, req.agent, req.agent)
		return nil, nil, nil, nil, exitUsage, false
	}
	act = agentDDL.Actions[req.action]
	if act == nil {
		fmt.Fprintf(e.stderr, "mcorun %s: the %s agent's DDL has no %s action; check the libdir's %s.json\n", verb, req.agent, req.action, req.agent)
		return nil, nil, nil, nil, exitUsage, false
	}
	checked := maps.Clone(req.args)
	if checked == nil {
		checked = map[string]any{}
	}
	agentDDL.SetInputDefaults(req.action, checked)
	if err := agentDDL.Validate(req.action, checked); err != nil {
		return nil, nil, nil, nil, usageErr(e, verb, fmt.Errorf("invalid request for %s#%s: %w", req.agent, req.action, err)), false
	}
	fl, closeFn, code, ok = s.connect(ctx)
	if !ok {
		return nil, nil, nil, nil, code, false
	}
	return s, fl, act, closeFn, 0, true
}

// senderWidth is the width mco's applications right-align senders to: the longest plus 3.
func senderWidth(replies []client.Result) int {
	width := 0
	for _, r := range replies {
		width = max(width, len(r.Sender))
	}
	return width + 3
}

// senderLines prints one "sender: text" line per reply that line selects, senders
// right-aligned as mco's service and package applications print them; a failed reply shows
// its status message in red. It returns the text, followed by a blank line when there were
// replies.
func senderLines(c colorizer, replies []client.Result, line func(r client.Result) (string, bool)) string {
	if len(replies) == 0 {
		return ""
	}
	width := senderWidth(replies)
	var b strings.Builder
	for _, r := range replies {
		if r.Code != message.OK {
			fmt.Fprintf(&b, "%*s: %s\n", width, r.Sender, c.red(r.Message))
			continue
		}
		if text, ok := line(r); ok {
			fmt.Fprintf(&b, "%*s: %s\n", width, r.Sender, text)
		}
	}
	b.WriteString("\n")
	return b.String()
}

// finishCall prints a call's closing part, mco's printrpcstats with summaries (or the
// --json document), and returns the exit code of its results.
func finishCall(s *session, agent, action string, act *ddl.Action, cr callResult) int {
	aggs := computeAggregates(act, cr.replies)
	if s.flags.json {
		if err := writeJSON(s.e.stdout, rpcJSON(agent, action, cr.res, aggs, cr.discovery, cr.agentTime)); err != nil {
			return s.fail(err)
		}
		return exitForResults(cr.res)
	}
	fmt.Fprint(s.e.stdout, formatStats(s.color, aggs, len(cr.replies), cr.discovered, cr.agentTime, cr.res.Missing, cr.res.Reasons))
	return exitForResults(cr.res)
}
