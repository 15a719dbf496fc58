package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/value"
)

// Call runs agent's action with args on the nodes chosen by opts and returns every targeted
// node as OK, Failed or Missing.
//
// The arguments are validated against the agent's DDL first (errors wrap ErrInvalidArgs or
// ErrUnknownAgent, and nothing is sent). Without opts.Nodes, Call discovers the nodes matching
// opts.Filter plus the agent; when none match it returns an error wrapping ErrNoNodes. It
// returns as soon as every targeted node replied, or at the timeout. A node that replies
// without being targeted (a broadcast reaching a node discovery missed) is reported in OK or
// Failed as well.
//
// FireAndForget sends without asking for replies and returns at once; without Nodes or Limit
// it broadcasts with the filter and no discovery, as mco does, so Targets is empty.
//
// When ctx ends or the Client closes while replies are awaited, Call returns the results so
// far (the rest Missing) together with an error wrapping the cause. When the broker connection
// drops while replies are due (a broker restart, a failover), those replies are lost: Call
// stops waiting for them at once and reports those nodes Missing with ReasonConnectionLost,
// without an error; the request is not sent again (at most once), and later batches go out
// on the reconnected broker. When a request cannot go out (no broker connected within the
// connector's wait), Call fails, and the nodes it never reached are Missing with
// ReasonNotSent.
func (c *Client) Call(ctx context.Context, agent, action string, args map[string]any, opts CallOptions) (*Results, error) {
	start := c.opts.Now()
	res, err := c.call(ctx, agent, action, args, opts, start)
	if err != nil {
		err = fmt.Errorf("call %s#%s: %w", agent, action, err)
	}
	if res != nil {
		res.Elapsed = c.opts.Now().Sub(start)
	}
	return res, err
}

// Settings are the client-wide settings its plans use.
func (c *Client) Settings() Settings {
	return Settings{
		MainCollective:            c.opts.MainCollective,
		NoDirectAddressing:        c.opts.NoDirectAddressing,
		DirectAddressingThreshold: c.opts.DirectAddressingThreshold,
		DiscoveryTimeout:          c.opts.DiscoveryTimeout,
		TTL:                       c.opts.TTL,
		DiscoveryMethod:           c.opts.DiscoveryMethod,
	}
}

// Plan decides agent's action call under opts with this client's DDLs and settings, and
// sends nothing: see NewPlan. Call executes the same plan.
func (c *Client) Plan(agent, action string, args map[string]any, opts CallOptions) (*Plan, error) {
	a, err := c.DDL(agent)
	if err != nil {
		return nil, err
	}
	return NewPlan(a, action, args, opts, c.Settings())
}

func (c *Client) call(ctx context.Context, agent, action string, args map[string]any, opts CallOptions, start time.Time) (*Results, error) {
	a, err := c.DDL(agent)
	if err != nil {
		return nil, err
	}
	p, err := NewPlan(a, action, args, opts, c.Settings())
	if err != nil {
		return nil, err
	}
	res := &Results{Agent: agent, Action: action}
	var found []string
	if p.Discovery != nil {
		found, err = c.discover(ctx, *p.Discovery)
		res.Discovery = c.opts.Now().Sub(start)
		if err != nil {
			return nil, fmt.Errorf("discover: %w", err)
		}
	}
	tg := p.Target(found)
	if p.Discovery != nil && len(tg.Nodes) == 0 {
		return nil, ErrNoNodes
	}
	res.Targets = tg.Nodes
	res.Batches = tg.Batches
	rpc := message.RPCRequest{Agent: agent, Action: action, Caller: c.opts.Security.CallerID(), Data: p.Args, ProcessResults: !p.FireAndForget}
	body, err := rpc.Encode()
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	id := newRequestID()
	res.RequestID = id
	req := c.newRequest(id, p.Collective, agent, tg.Filter, body, p.TTL)

	if p.FireAndForget {
		if tg.Directed && len(tg.Nodes) == 0 {
			return res, nil
		}
		if _, err := c.send(ctx, outgoing{req: req, dests: destinations(p.Collective, agent, tg.Directed, tg.Nodes), targets: directedTargets(tg.Directed, tg.Nodes), ttl: p.TTL}); err != nil {
			return nil, err
		}
		return res, nil
	}

	w, done, err := c.register(id)
	if err != nil {
		return nil, err
	}
	defer done()
	got := map[string]Result{}
	run := &exchange{w: w, req: req, collective: p.Collective, directed: tg.Directed, timeout: p.Timeout, ttl: p.TTL,
		ddl: a, action: action, onReply: opts.OnReply, got: got, reasons: map[string]string{}}
	for i, group := range tg.Batches {
		if err := c.runBatch(ctx, run, group); err != nil {
			for _, later := range tg.Batches[i+1:] {
				run.notSent(later)
			}
			finish(res, run)
			return res, err
		}
		if i < len(tg.Batches)-1 && p.BatchSleep > 0 {
			if err := c.sleep(ctx, p.BatchSleep); err != nil {
				for _, later := range tg.Batches[i+1:] {
					run.notSent(later)
				}
				finish(res, run)
				return res, err
			}
		}
	}
	finish(res, run)
	return res, nil
}

// exchange is one call's request and the replies gathered so far, across its batches.
type exchange struct {
	w          *waiter
	req        message.Request
	collective string
	directed   bool
	timeout    time.Duration
	ttl        time.Duration
	ddl        *ddl.Agent
	action     string
	onReply    func(Result)
	got        map[string]Result
	reasons    map[string]string // why a node without a reply is missing, when known
}

// notSent records that the request never went out to nodes.
func (x *exchange) notSent(nodes []string) {
	for _, n := range nodes {
		x.reasons[n] = ReasonNotSent
	}
}

// runBatch sends the request to one group (every target, for a broadcast) and collects
// replies until each node of the group replied or the timeout passed. Replies to the same
// requestid from earlier groups are still taken. When the broker connection drops while
// replies are due, the nodes still waited for are missing with ReasonConnectionLost and
// runBatch returns without an error.
func (c *Client) runBatch(ctx context.Context, x *exchange, group []string) error {
	sent := c.opts.Now()
	dests := destinations(x.collective, x.req.Agent, x.directed, group)
	if n, err := c.send(ctx, outgoing{req: x.req, dests: dests, targets: directedTargets(x.directed, group), ttl: x.ttl}); err != nil {
		if x.directed {
			x.notSent(group[n:])
		} else {
			x.notSent(group)
		}
		return err
	}
	lost := c.lost()
	got := x.got
	deadline := sent.Add(x.timeout)
	waiting := make(map[string]bool, len(group))
	for _, n := range group {
		if _, ok := got[n]; !ok {
			waiting[n] = true
		}
	}
	if len(waiting) == 0 {
		return nil
	}
	err := c.collect(ctx, x.w, lost, func() time.Time { return deadline }, func(in inbound) bool {
		if _, dup := got[in.rep.SenderID]; dup {
			return false
		}
		r := c.result(in, sent, x.ddl, x.action)
		got[r.Sender] = r
		delete(waiting, r.Sender)
		if x.onReply != nil {
			x.onReply(r)
		}
		return len(waiting) == 0
	})
	var le *lostError
	if errors.As(err, &le) {
		c.log.Warn("client: broker connection lost while replies were due; those nodes are missing",
			"requestid", x.req.RequestID, "nodes", len(waiting), "cause", le.cause)
		for n := range waiting {
			x.reasons[n] = ReasonConnectionLost
		}
		return nil
	}
	return err
}

// result decodes one reply into a Result with the DDL's output defaults filled in.
func (c *Client) result(in inbound, sent time.Time, a *ddl.Agent, action string) Result {
	r := Result{Sender: in.rep.SenderID, Elapsed: in.at.Sub(sent)}
	body, err := message.DecodeBody(in.rep.Body)
	var rr *message.RPCReply
	if err == nil {
		rr, err = message.DecodeRPCReply(body)
	}
	if err != nil {
		c.log.Warn("client: undecodable reply body", "sender", r.Sender, "agent", a.Metadata.Name, "err", err)
		r.Code = message.UnknownError
		r.Message = "undecodable reply: " + err.Error()
		r.Data = map[string]any{}
		return r
	}
	r.Code, r.Message = rr.StatusCode, rr.StatusMsg
	r.Data = make(map[string]any, len(rr.Data))
	for k, v := range rr.Data {
		r.Data[k] = value.Plain(v)
	}
	for k, v := range a.Defaults(action) {
		if _, ok := r.Data[k]; !ok {
			r.Data[k] = v
		}
	}
	return r
}

// finish sorts the collected replies into res, with the reasons of the missing nodes.
func finish(res *Results, x *exchange) {
	got := x.got
	res.OK, res.Failed, res.Missing, res.Reasons = nil, nil, nil, nil
	for _, r := range got {
		if r.OK() {
			res.OK = append(res.OK, r)
		} else {
			res.Failed = append(res.Failed, r)
		}
	}
	bySender := func(a, b Result) int { return strings.Compare(a.Sender, b.Sender) }
	slices.SortFunc(res.OK, bySender)
	slices.SortFunc(res.Failed, bySender)
	for _, n := range res.Targets {
		if _, ok := got[n]; !ok {
			res.Missing = append(res.Missing, n)
			if why, ok := x.reasons[n]; ok {
				if res.Reasons == nil {
					res.Reasons = map[string]string{}
				}
				res.Reasons[n] = why
			}
		}
	}
}

// sleep waits d, or until ctx ends or the Client closes.
func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if err := c.opts.Clock.Wait(ctx, nil, c.opts.Clock.Now().Add(d), c.done); err != nil {
		return err
	}
	select {
	case <-c.done:
		return ErrClosed
	default:
		return nil
	}
}
