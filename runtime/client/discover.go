package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/discovery"
	"github.com/mcorun/mcorun/runtime/message"
)

// The completion rule's defaults; the package doc explains them.
const (
	DefaultMinWait     = 300 * time.Millisecond
	DefaultQuietFloor  = 100 * time.Millisecond
	DefaultQuietFactor = 2.0
	DefaultGrace       = 50 * time.Millisecond
)

// discoveryAgent is the agent that answers mc discovery pings.
const discoveryAgent = "discovery"

// completion decides when discovery has heard every node it is going to hear. It is the one
// rule every discovery uses: production, the test fleet, dry runs and the sandbox.
type completion struct {
	start   time.Time
	timeout time.Duration
	minWait time.Duration
	floor   time.Duration
	factor  float64
	grace   time.Duration
	full    bool
	byQuiet bool // with no expected set, stop by the quiet window (rule 3) instead of the timeout

	expect  []string // sorted identities expected to reply; nil when none are known
	missing int      // identities of expect not heard yet

	last    time.Time     // arrival of the latest reply, start before any
	slowest time.Duration // the largest reply latency so far
	replies int           // replies observed
}

// newCompletion starts the rule at start. expect (sorted, deduplicated) is the set of nodes
// expected to reply and grace how long newcomers are still awaited once all of them did.
// quiet chooses rule 3 over the whole timeout when no node is expected.
func newCompletion(start time.Time, timeout time.Duration, o DiscoverOptions, expect []string, grace time.Duration, quiet bool) *completion {
	c := &completion{
		start: start, timeout: timeout, last: start, full: o.WaitFull, byQuiet: quiet,
		minWait: o.MinWait, floor: o.QuietFloor, factor: o.QuietFactor, grace: grace,
		expect: expect, missing: len(expect),
	}
	if c.minWait <= 0 {
		c.minWait = DefaultMinWait
	}
	if c.floor <= 0 {
		c.floor = DefaultQuietFloor
	}
	if c.factor <= 0 {
		c.factor = DefaultQuietFactor
	}
	return c
}

// observe records a reply from id that arrived at at; each id is observed once.
func (c *completion) observe(at time.Time, id string) {
	if at.After(c.last) {
		c.last = at
	}
	c.slowest = max(c.slowest, at.Sub(c.start))
	c.replies++
	if _, found := slices.BinarySearch(c.expect, id); found {
		c.missing--
	}
}

// quiet is the current quiet window.
func (c *completion) quiet() time.Duration {
	return max(c.floor, time.Duration(c.factor*float64(c.slowest)))
}

// deadline is when discovery stops unless another reply arrives first; the package doc
// states the rule. It is never after the timeout.
func (c *completion) deadline() time.Time {
	hard := c.start.Add(c.timeout)
	var d time.Time
	switch {
	case c.full:
		return hard
	case len(c.expect) > 0 && c.missing > 0:
		// An expected node has not answered: it may be slow, so wait for it as mco would.
		return hard
	case len(c.expect) > 0:
		// Every expected node answered: a grace for newcomers after the latest reply.
		d = c.last.Add(c.grace)
	case !c.byQuiet:
		// Nothing tells how many nodes will answer, or how slow the slowest is: wait as mco
		// does, so that no node it would find is missed.
		return hard
	case c.replies == 0:
		// Until a first reply shows how fast this network answers, wait as mco does: a
		// slow network or an empty result is no reason to stop early.
		return hard
	default:
		d = c.start.Add(c.minWait)
		if q := c.last.Add(c.quiet()); q.After(d) {
			d = q
		}
	}
	if d.After(hard) {
		return hard
	}
	return d
}

// lostGrace is how long collect still takes replies after the broker connection dropped:
// replies that arrived just before the drop may still be on their way to the waiter.
const lostGrace = 100 * time.Millisecond

// lostError is collect's error when the broker connection dropped while replies were due.
// It wraps connector.ErrDisconnected and says why the connection dropped when the Transport
// can tell (a broker refusing a missing exchange says which, and how to declare it).
type lostError struct{ cause error }

func (e *lostError) Error() string {
	var be *connector.BrokerError
	if errors.As(e.cause, &be) {
		return "the broker refused the request and closed the connection: " + be.Error()
	}
	msg := "the broker connection dropped while waiting for replies, so replies still due were lost"
	if e.cause != nil {
		return msg + ": " + e.cause.Error()
	}
	return msg + "; check the broker, then run it again"
}

func (e *lostError) Unwrap() []error { return []error{connector.ErrDisconnected, e.cause} }

// collect feeds the waiter's replies to handle until handle reports done, deadline() passes,
// ctx ends or the Client closes. deadline is asked again after every batch of replies.
// When lost closes (the connection the request went out on dropped), the replies still due
// can no longer arrive: collect takes what arrives within lostGrace, then fails with an
// error wrapping connector.ErrDisconnected unless handle reported done.
func (c *Client) collect(ctx context.Context, w *waiter, lost <-chan struct{}, deadline func() time.Time, handle func(inbound) bool) error {
	var dropped time.Time
	for {
		// Replies already in are taken before the deadline is judged: a reply that arrived
		// in time counts, however late this goroutine gets to run.
		for _, in := range w.take() {
			if handle(in) {
				return nil
			}
		}
		end := deadline()
		if !dropped.IsZero() && dropped.Add(lostGrace).Before(end) {
			end = dropped.Add(lostGrace)
		}
		if !end.After(c.opts.Now()) {
			if !dropped.IsZero() {
				return &lostError{cause: c.lostCause()}
			}
			return nil
		}
		if err := c.opts.Clock.Wait(ctx, w.notify, end, c.done, lost); err != nil {
			return err
		}
		select {
		case <-c.done:
			return ErrClosed
		default:
		}
		if lost != nil {
			select {
			case <-lost:
				lost, dropped = nil, c.opts.Now()
			default:
			}
		}
	}
}

// lossReporter is a Transport that tells when its broker connection drops;
// *connector.Conn is one.
type lossReporter interface {
	Lost() <-chan struct{}
}

// causeReporter is a Transport that tells why its last broker connection dropped;
// *connector.Conn is one.
type causeReporter interface {
	Cause() error
}

// lostCause is why the Transport's last connection dropped, or nil when it cannot tell.
func (c *Client) lostCause() error {
	if r, ok := c.t.(causeReporter); ok {
		return r.Cause()
	}
	return nil
}

// lost returns a channel closed when the Transport's current broker connection drops, or nil
// (never ready) when the Transport cannot tell. Asked right after a request went out, it
// covers the connection the replies come back on.
func (c *Client) lost() <-chan struct{} {
	if l, ok := c.t.(lossReporter); ok {
		return l.Lost()
	}
	return nil
}

// discoveryTimeout is the upper bound of one discovery.
func (c *Client) discoveryTimeout(explicit time.Duration, f message.Filter) time.Duration {
	t := explicit
	if t <= 0 {
		t = c.opts.DiscoveryTimeout
	}
	return t + dataTimeout(f)
}

// Discover returns the identities of the nodes matching opts.Filter, sorted and
// deduplicated, using mc discovery and the completion rule of the package doc. With
// opts.Nodes it sends nothing and returns that list. An empty fleet is an empty list, not an
// error.
func (c *Client) Discover(ctx context.Context, opts DiscoverOptions) ([]string, error) {
	limit, err := discoverLimit(opts.Limit)
	if err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	if len(opts.Nodes) > 0 {
		return pickLimit(sortedUnique(opts.Nodes), limit, opts.LimitSeed), nil
	}
	nodes, err := c.discover(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	return pickLimit(nodes, limit, opts.LimitSeed), nil
}

// method is the discovery method opts ask for: theirs, else the client's default.
func (c *Client) method(opts DiscoverOptions) (string, error) {
	if opts.Method == "" {
		return c.opts.DiscoveryMethod, nil
	}
	return discovery.Canonical(opts.Method)
}

// discover runs opts' discovery method and returns the nodes found, sorted and
// deduplicated: an mc broadcast, or the source's answer. A filter the method cannot
// evaluate is refused (discovery.ErrUnsupportedFilter) before anything is read or sent.
func (c *Client) discover(ctx context.Context, opts DiscoverOptions) ([]string, error) {
	method, err := c.method(opts)
	if err != nil {
		return nil, err
	}
	if method == discovery.MC {
		if len(opts.MethodOptions) > 0 {
			return nil, fmt.Errorf("the mc discovery method takes no options; options go to the other methods")
		}
		replies, err := c.ping(ctx, opts)
		if err != nil {
			return nil, err
		}
		nodes := make([]string, len(replies))
		for i, r := range replies {
			nodes[i] = r.Sender
		}
		return nodes, nil
	}
	if err := discovery.Check(method, opts.Filter, opts.CallAgent); err != nil {
		return nil, err
	}
	src, err := c.opts.Sources(method)
	if err != nil {
		return nil, err
	}
	start := c.opts.Now()
	nodes, err := src.Discover(ctx, discovery.Request{Filter: opts.Filter, CallAgent: opts.CallAgent,
		Collective: c.collective(opts.Collective), Options: opts.MethodOptions,
		Timeout: c.discoveryTimeout(opts.Timeout, opts.Filter)})
	if err != nil {
		return nil, err
	}
	nodes = sortedUnique(nodes)
	c.log.Debug("client: discovery done", "method", method, "nodes", len(nodes), "elapsed", c.opts.Now().Sub(start))
	return nodes, nil
}

// discoverLimit parses a discovery's limit; like a call's, it must select a node.
func discoverLimit(spec string) (Size, error) {
	limit, err := ParseSize(spec)
	if err != nil {
		return Size{}, fmt.Errorf("limit: %w", err)
	}
	if limit.IsZero() {
		return Size{}, fmt.Errorf("limit %q: a limit of zero selects no node", limit)
	}
	return limit, nil
}

// Ping sends the discovery agent's ping with opts.Filter and returns each reply with its
// round-trip time, sorted by sender. It stops by the completion rule of the package doc. With
// opts.Nodes it pings just those nodes, directed, and stops once all of them answered.
func (c *Client) Ping(ctx context.Context, opts DiscoverOptions) ([]PingReply, error) {
	limit, err := discoverLimit(opts.Limit)
	if err != nil {
		return nil, fmt.Errorf("ping: %w", err)
	}
	if method, err := c.method(opts); err != nil {
		return nil, fmt.Errorf("ping: %w", err)
	} else if method != discovery.MC && len(opts.Nodes) == 0 {
		// A source names the nodes; they are pinged directly.
		nodes, err := c.discover(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("ping: discover: %w", err)
		}
		if len(nodes) == 0 {
			return nil, nil
		}
		opts.Nodes = nodes
	}
	replies, err := c.ping(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("ping: %w", err)
	}
	if !limit.IsSet() {
		return replies, nil
	}
	nodes := make([]string, len(replies))
	for i, r := range replies {
		nodes[i] = r.Sender
	}
	keep := pickLimit(nodes, limit, opts.LimitSeed)
	return slices.DeleteFunc(replies, func(r PingReply) bool { _, found := slices.BinarySearch(keep, r.Sender); return !found }), nil
}

// ping runs one discovery round and returns the replies sorted by sender.
func (c *Client) ping(ctx context.Context, opts DiscoverOptions) ([]PingReply, error) {
	body, err := message.EncodeBody("ping")
	if err != nil {
		return nil, fmt.Errorf("encode ping: %w", err)
	}
	collective := c.collective(opts.Collective)
	id := newRequestID()
	nodes := sortedUnique(opts.Nodes)
	expect := sortedUnique(opts.Expect)
	f := opts.Filter
	if len(nodes) > 0 {
		f = message.Filter{}
		expect = nodes
	}
	o := outgoing{
		req:     c.newRequest(id, collective, discoveryAgent, f, body, c.opts.TTL),
		dests:   destinations(collective, discoveryAgent, len(nodes) > 0, nodes),
		targets: directedTargets(len(nodes) > 0, nodes),
		ttl:     c.opts.TTL,
	}
	w, done, err := c.register(id)
	if err != nil {
		return nil, err
	}
	defer done()
	start := c.opts.Now()
	if _, err := c.send(ctx, o); err != nil {
		return nil, err
	}
	lost := c.lost()
	// Directed pings know their whole set: no newcomer can answer, so no grace.
	grace := time.Duration(0)
	cache := c.opts.DiscoveryCache
	quiet := c.opts.FirstDiscovery == FirstDiscoveryQuiet
	if len(nodes) == 0 {
		grace = opts.Grace
		if grace <= 0 {
			grace = DefaultGrace
		}
		if len(expect) == 0 && !opts.WaitFull && cache != nil {
			if prev, at, ok := cache.Load(collective, f); ok {
				expect = sortedUnique(prev)
				c.log.Info("client: discovery expects the nodes of the previous discovery of this filter",
					"nodes", len(expect), "age", start.Sub(at).Round(time.Second))
			} else if quiet {
				c.log.Info("client: no previous discovery of this filter: stopping after a quiet window")
			} else {
				c.log.Info("client: no previous discovery of this filter: waiting the whole discovery timeout, as mco does",
					"timeout", c.discoveryTimeout(opts.Timeout, f))
			}
		}
	}
	comp := newCompletion(start, c.discoveryTimeout(opts.Timeout, f), opts, expect, grace, quiet)
	seen := map[string]time.Duration{}
	err = c.collect(ctx, w, lost, comp.deadline, func(in inbound) bool {
		if in.rep.SenderAgent != "" && in.rep.SenderAgent != discoveryAgent {
			return false
		}
		if _, dup := seen[in.rep.SenderID]; dup {
			return false
		}
		comp.observe(in.at, in.rep.SenderID)
		seen[in.rep.SenderID] = in.at.Sub(start)
		return false
	})
	if err != nil {
		return nil, err
	}
	out := make([]PingReply, 0, len(seen))
	for s, e := range seen {
		out = append(out, PingReply{Sender: s, Elapsed: e})
	}
	slices.SortFunc(out, func(a, b PingReply) int { return strings.Compare(a.Sender, b.Sender) })
	c.log.Debug("client: discovery done", "requestid", id, "nodes", len(out),
		"elapsed", c.opts.Now().Sub(start), "slowest", comp.slowest, "expected", len(expect), "expected_missing", comp.missing)
	if len(nodes) == 0 && cache != nil {
		found := make([]string, len(out))
		for i, r := range out {
			found[i] = r.Sender
		}
		if err := cache.Store(collective, f, found, start); err != nil {
			c.log.Warn("client: the discovery cache cannot be written", "error", err)
		}
	}
	return out, nil
}
