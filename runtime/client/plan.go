package client

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/discovery"
	"github.com/mcorun/mcorun/runtime/match"
	"github.com/mcorun/mcorun/runtime/message"
)

// Settings are the client-wide settings a plan depends on. Zero values mean MCollective's
// defaults, as in Options.
type Settings struct {
	MainCollective            string
	NoDirectAddressing        bool
	DirectAddressingThreshold int           // 0 = 10
	DiscoveryTimeout          time.Duration // 0 = 2s
	TTL                       time.Duration // 0 = 60s
	// DiscoveryMethod is the default discovery method; "" = mc.
	DiscoveryMethod string
}

func (s Settings) withDefaults() Settings {
	if s.MainCollective == "" {
		s.MainCollective = "mcollective"
	}
	if s.DirectAddressingThreshold <= 0 {
		s.DirectAddressingThreshold = DefaultDirectAddressingThreshold
	}
	if s.DiscoveryTimeout <= 0 {
		s.DiscoveryTimeout = DefaultDiscoveryTimeout
	}
	if s.TTL <= 0 {
		s.TTL = DefaultTTL
	}
	return s
}

// Plan is everything one RPC call decides before anything is sent. NewPlan makes it, and it
// is the one place those rules live: Client.Call executes a plan, a playbook's --dry-run
// prints one, and the in-memory test fleet runs the same Client, so a call targets the same
// nodes, in the same batches, with the same routing and timeouts, in all three.
type Plan struct {
	Agent, Action string
	// Args are the validated arguments, the DDL's input defaults filled in.
	Args map[string]any
	// Collective is where the request goes.
	Collective string
	// Discovery is the discovery to run first: the user's filter with the agent added. It is
	// nil when the nodes are known already (CallOptions.Nodes or Discovered) and for a
	// fire-and-forget broadcast, which mco sends without discovery.
	Discovery *DiscoverOptions
	// Known are the nodes given or already discovered, sorted and deduplicated; nil when a
	// discovery or a broadcast decides them.
	Known []string
	// Method is the discovery method that found or finds the nodes (mc, flatfile, inventory,
	// external, puppetdb); "" when the nodes were given.
	Method string
	// Filter is the user's filter.
	Filter    message.Filter
	Limit     Size
	LimitSeed int64
	Batch     Size
	// BatchSleep is the pause between batches; 0 for none.
	BatchSleep time.Duration
	// Timeout is how long each batch waits for its replies after sending.
	Timeout time.Duration
	// TTL is the request's time to live.
	TTL           time.Duration
	FireAndForget bool

	// forced marks node lists that did not come from discovery with the user's filter:
	// given nodes, a batch or a limit. Their requests are directed with the filter reset
	// to the agent alone, as mco does.
	forced    bool
	noDirect  bool
	threshold int
}

// Targets is the part of a plan that depends on which nodes there are.
type Targets struct {
	// Nodes are the nodes the call expects replies from, sorted: after the limit pick.
	// Empty for a fire-and-forget broadcast.
	Nodes []string
	// Batches are Nodes cut by the batch size: one batch without batching.
	Batches [][]string
	// Directed is true for one directed request per node, false for one broadcast.
	Directed bool
	// Filter is the filter the request carries.
	Filter message.Filter
}

// NewPlan decides agent's action call under opts and the client settings s, against the
// agent's DDL: the arguments are validated with their defaults (an error wraps
// ErrInvalidArgs), the options are checked (batch and limit sizes, their combinations), and
// the discovery, routing and timeouts are chosen as MCollective chooses them. It sends
// nothing and reads no clock.
func NewPlan(a *ddl.Agent, action string, args map[string]any, opts CallOptions, s Settings) (*Plan, error) {
	if a == nil {
		return nil, fmt.Errorf("%w: no DDL", ErrUnknownAgent)
	}
	s = s.withDefaults()
	agent := a.Metadata.Name
	data := maps.Clone(args)
	if data == nil {
		data = map[string]any{}
	}
	a.SetInputDefaults(action, data)
	if err := a.Validate(action, data); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgs, err)
	}
	if err := match.CheckSize(opts.Filter); err != nil {
		return nil, fmt.Errorf("%w; nodes refuse such a request, so narrow the filter or split the call", err)
	}
	batch, limit, err := CallSizes(opts.Batch, opts.Limit)
	if err != nil {
		return nil, err
	}
	method := opts.Method
	if method == "" {
		method = s.DiscoveryMethod
	}
	if method, err = discovery.Canonical(method); err != nil {
		return nil, err
	}
	switch {
	case batch.IsSet() && s.NoDirectAddressing:
		return nil, errors.New("batch: batching needs direct addressing (direct_addressing = 1)")
	case batch.IsSet() && opts.FireAndForget:
		return nil, errors.New("batch: a fire-and-forget call cannot be batched")
	}
	p := &Plan{
		Agent: agent, Action: action, Args: data,
		Collective: s.MainCollective, Filter: opts.Filter,
		Limit: limit, LimitSeed: opts.LimitSeed, Batch: batch,
		TTL: opts.TTL, FireAndForget: opts.FireAndForget,
		forced:   batch.IsSet() || limit.IsSet(),
		noDirect: s.NoDirectAddressing, threshold: s.DirectAddressingThreshold,
	}
	if opts.Collective != "" {
		p.Collective = opts.Collective
	}
	if p.TTL <= 0 {
		p.TTL = s.TTL
	}
	p.BatchSleep = opts.BatchSleep
	if p.BatchSleep == 0 {
		p.BatchSleep = DefaultBatchSleep
	}
	p.BatchSleep = max(p.BatchSleep, 0)
	discTimeout := opts.DiscoveryTimeout
	if discTimeout <= 0 {
		discTimeout = s.DiscoveryTimeout
	}
	discTimeout += dataTimeout(opts.Filter)
	p.Timeout = callTimeout(opts.Timeout, a, discTimeout)
	if len(opts.Nodes) == 0 {
		// A source's nodes are the targets whatever the nodes think of the filter: they
		// are called directly, and the ones that do not answer are missing.
		p.Method = method
		p.forced = p.forced || method != discovery.MC
		if err := discovery.Check(method, withAgent(opts.Filter, agent), agent); err != nil {
			return nil, err
		}
	}
	switch {
	case len(opts.Nodes) > 0:
		p.forced = true
		p.Known = sortedUnique(opts.Nodes)
	case len(opts.Discovered) > 0:
		p.Known = sortedUnique(opts.Discovered)
	case opts.FireAndForget && !p.forced:
		// mco's fire_and_forget_request: a broadcast with the filter, no discovery.
	default:
		p.Discovery = &DiscoverOptions{Filter: withAgent(opts.Filter, agent), Timeout: opts.DiscoveryTimeout,
			Collective: opts.Collective, Method: method, MethodOptions: opts.MethodOptions, CallAgent: agent}
	}
	return p, nil
}

// CallSizes parses a call's batch and limit ("" for none) and refuses the sizes no call can
// use: a batch or a limit of zero. NewPlan and the playbook checker both use it.
func CallSizes(batch, limit string) (b, l Size, err error) {
	if b, err = ParseSize(batch); err != nil {
		return Size{}, Size{}, fmt.Errorf("batch: %w", err)
	}
	if l, err = ParseSize(limit); err != nil {
		return Size{}, Size{}, fmt.Errorf("limit: %w", err)
	}
	if b.IsZero() {
		return Size{}, Size{}, fmt.Errorf("batch %q: a batch needs at least one node; leave it unset for no batching", b)
	}
	if l.IsZero() {
		return Size{}, Size{}, fmt.Errorf("limit %q: a limit of zero selects no node", l)
	}
	return b, l, nil
}

// Broadcast reports whether the plan is a fire-and-forget broadcast with no node list.
func (p *Plan) Broadcast() bool { return p.Discovery == nil && p.Known == nil }

// Target completes the plan with the nodes found by its Discovery (ignored when the plan
// has Known nodes): the limit pick, the batches and the routing.
func (p *Plan) Target(found []string) *Targets {
	nodes := p.Known
	if p.Discovery != nil {
		nodes = sortedUnique(found)
	}
	picked := pickLimit(nodes, p.Limit, p.LimitSeed)
	t := &Targets{Nodes: picked}
	t.Directed, t.Filter = p.route(picked)
	if !p.Broadcast() {
		t.Batches = Batches(picked, p.Batch.Of(len(picked)))
	}
	return t
}

// pickLimit selects the nodes a limit allows from sorted, deduplicated nodes: the first N
// when seed is 0, otherwise N chosen by a random source seeded with seed, so one seed
// always picks the same nodes from the same set. The result is sorted.
func pickLimit(nodes []string, limit Size, seed int64) []string {
	n := limit.Of(len(nodes))
	if n >= len(nodes) {
		return nodes
	}
	if seed == 0 {
		return slices.Clone(nodes[:n])
	}
	pool := slices.Clone(nodes)
	r := rand.New(rand.NewPCG(uint64(seed), 0x6d636f72756e)) //nolint:gosec // selection, not security
	r.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	out := pool[:n]
	slices.Sort(out)
	return out
}

// sortedUnique returns a sorted copy of ss without duplicates or empty strings.
func sortedUnique(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// withAgent returns a copy of f whose agent entries include agent.
func withAgent(f message.Filter, agent string) message.Filter {
	f.Agent = slices.Clone(f.Agent)
	if agent != "" && !slices.Contains(f.Agent, agent) {
		f.Agent = append(f.Agent, agent)
	}
	return f
}

// route decides between directed and broadcast requests as message.rb does. A forced node
// list (given nodes, batch, limit) is directed with the filter reset to the agent alone.
// Discovered nodes go directed, keeping the full filter, when there are at most threshold
// of them. Without direct addressing everything is a broadcast, and a forced node list
// becomes an identity filter.
func (p *Plan) route(nodes []string) (directed bool, f message.Filter) {
	if p.noDirect {
		if p.forced {
			return false, message.Filter{Agent: []string{p.Agent}, Identity: slices.Clone(nodes)}
		}
		return false, withAgent(p.Filter, p.Agent)
	}
	if p.forced {
		return true, message.Filter{Agent: []string{p.Agent}}
	}
	if p.Broadcast() {
		return false, withAgent(p.Filter, p.Agent)
	}
	return len(nodes) <= p.threshold, withAgent(p.Filter, p.Agent)
}

// callTimeout is how long a call waits for replies after sending: the explicit timeout, else
// the DDL timeout (10 s when unset) plus the discovery timeout, as rpc/client.rb computes it.
func callTimeout(explicit time.Duration, a *ddl.Agent, discovery time.Duration) time.Duration {
	if explicit > 0 {
		return explicit
	}
	t := DefaultDDLTimeout
	if a != nil && a.Metadata.Timeout > 0 {
		t = time.Duration(a.Metadata.Timeout) * time.Second
	}
	return t + discovery
}

// dataTimeout is the sum of the DDL timeouts of the data plugins a filter's compound
// expressions call, which mco adds to its discovery timeout. Unknown plugins add nothing.
func dataTimeout(f message.Filter) time.Duration {
	var d time.Duration
	for _, expr := range f.Compound {
		for _, it := range expr {
			if it.Kind != message.FStatement || it.Func == nil {
				continue
			}
			if dd, err := ddl.BuiltinData(it.Func.Name); err == nil {
				d += time.Duration(dd.Metadata.Timeout) * time.Second
			}
		}
	}
	return d
}
