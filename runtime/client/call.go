package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
// far (the rest Missing) together with an error wrapping the cause. So it does, at once, when
// the broker connection drops (a broker restart), since the replies still due are lost: the
// error then wraps connector.ErrDisconnected.
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

func (c *Client) call(ctx context.Context, agent, action string, args map[string]any, opts CallOptions, start time.Time) (*Results, error) {
	a, err := c.DDL(agent)
	if err != nil {
		return nil, err
	}
	data := maps.Clone(args)
	if data == nil {
		data = map[string]any{}
	}
	a.SetInputDefaults(action, data)
	if err := a.Validate(action, data); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgs, err)
	}
	if err := checkCallOptions(opts, c.opts.NoDirectAddressing); err != nil {
		return nil, err
	}

	res := &Results{Agent: agent, Action: action}
	collective := c.collective(opts.Collective)
	discTimeout := c.discoveryTimeout(opts.DiscoveryTimeout, opts.Filter)
	forced := opts.Batch != "" || opts.Limit != ""
	var targets []string
	switch {
	case len(opts.Nodes) > 0:
		forced = true
		if targets, err = pickLimit(sortedUnique(opts.Nodes), opts.Limit, opts.LimitSeed); err != nil {
			return nil, err
		}
	case len(opts.Discovered) > 0:
		if targets, err = pickLimit(sortedUnique(opts.Discovered), opts.Limit, opts.LimitSeed); err != nil {
			return nil, err
		}
	case opts.FireAndForget && !forced:
		// mco's fire_and_forget_request: a broadcast with the filter, no discovery.
	default:
		replies, err := c.ping(ctx, DiscoverOptions{
			Filter: withAgent(opts.Filter, agent), Timeout: opts.DiscoveryTimeout, Collective: opts.Collective,
		})
		res.Discovery = c.opts.Now().Sub(start)
		if err != nil {
			return nil, fmt.Errorf("discover: %w", err)
		}
		nodes := make([]string, len(replies))
		for i, r := range replies {
			nodes[i] = r.Sender
		}
		if targets, err = pickLimit(nodes, opts.Limit, opts.LimitSeed); err != nil {
			return nil, err
		}
		if len(targets) == 0 {
			return nil, ErrNoNodes
		}
	}
	res.Targets = targets
	rt := planRoute(opts.Filter, agent, targets, forced, c.opts.NoDirectAddressing, c.opts.DirectAddressingThreshold)
	ttl := opts.TTL
	if ttl <= 0 {
		ttl = c.opts.TTL
	}
	rpc := message.RPCRequest{Agent: agent, Action: action, Caller: c.opts.Security.CallerID(), Data: data, ProcessResults: !opts.FireAndForget}
	body, err := rpc.Encode()
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	id := newRequestID()
	res.RequestID = id
	req := c.newRequest(id, collective, agent, rt.filter, body, ttl)

	if opts.FireAndForget {
		if rt.directed && len(targets) == 0 {
			return res, nil
		}
		if err := c.send(ctx, outgoing{req: req, dests: destinations(collective, agent, rt.directed, targets), targets: directedTargets(rt.directed, targets), ttl: ttl}); err != nil {
			return nil, err
		}
		return res, nil
	}

	w, done, err := c.register(id)
	if err != nil {
		return nil, err
	}
	defer done()
	size := len(targets)
	if opts.Batch != "" {
		if size, err = count(opts.Batch, len(targets)); err != nil {
			return nil, fmt.Errorf("batch: %w", err)
		}
	}
	sleep := opts.BatchSleep
	if sleep == 0 {
		sleep = DefaultBatchSleep
	}
	timeout := callTimeout(opts.Timeout, a, discTimeout)
	got := map[string]Result{}
	run := &exchange{w: w, req: req, collective: collective, directed: rt.directed, timeout: timeout, ttl: ttl,
		ddl: a, action: action, onReply: opts.OnReply, got: got}
	groups := batches(targets, size)
	for i, group := range groups {
		if err := c.runBatch(ctx, run, group); err != nil {
			finish(res, got)
			return res, err
		}
		if i < len(groups)-1 && sleep > 0 {
			if err := c.sleep(ctx, sleep); err != nil {
				finish(res, got)
				return res, err
			}
		}
	}
	finish(res, got)
	return res, nil
}

// checkCallOptions rejects option combinations before anything is sent.
func checkCallOptions(opts CallOptions, noDirect bool) error {
	if opts.Batch != "" {
		if noDirect {
			return errors.New("batch: batching needs direct addressing")
		}
		if opts.FireAndForget {
			return errors.New("batch: a fire-and-forget call cannot be batched")
		}
		if _, err := count(opts.Batch, 1); err != nil {
			return fmt.Errorf("batch: %w", err)
		}
	}
	if opts.Limit != "" {
		if _, err := count(opts.Limit, 1); err != nil {
			return fmt.Errorf("limit: %w", err)
		}
	}
	return nil
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
}

// runBatch sends the request to one group (every target, for a broadcast) and collects
// replies until each node of the group replied or the timeout passed. Replies to the same
// requestid from earlier groups are still taken.
func (c *Client) runBatch(ctx context.Context, x *exchange, group []string) error {
	sent := c.opts.Now()
	dests := destinations(x.collective, x.req.Agent, x.directed, group)
	if err := c.send(ctx, outgoing{req: x.req, dests: dests, targets: directedTargets(x.directed, group), ttl: x.ttl}); err != nil {
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
	return c.collect(ctx, x.w, lost, func() time.Time { return deadline }, func(in inbound) bool {
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

// finish sorts the collected replies into res.
func finish(res *Results, got map[string]Result) {
	res.OK, res.Failed, res.Missing = nil, nil, nil
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
		}
	}
}

// sleep waits d, or until ctx ends or the Client closes.
func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return ErrClosed
	case <-t.C:
		return nil
	}
}
