// Package server is mcod's request pipeline. It subscribes a node to its agents in every
// collective, and for each message it decodes the envelope, verifies the signature, checks the
// callerid, the TTL and the filter, runs the agent's action under its DDL timeout and sends
// exactly one reply to the request's reply-to. Every dropped message is logged with its reason.
package server

import (
	"context"
	"errors"
	"fmt"
	"github.com/mcorun/mcorun/runtime/clock"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/audit"
	"github.com/mcorun/mcorun/runtime/authz"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/match"
	"github.com/mcorun/mcorun/runtime/security"
)

// Transport is what the server needs from a broker connection.
type Transport interface {
	Subscribe(dest string, h connector.Handler) (*connector.Subscription, error)
	Send(ctx context.Context, dest string, body []byte, h connector.SendHeaders) error
}

// Facts is the node's fact source.
type Facts interface {
	Facts() map[string]any
	Fact(name string) (any, bool)
}

// Classes is the node's configuration management classes.
type Classes interface {
	List() []string
}

// Authorizer decides whether a SimpleRPC request may run on this node (rpcauthorization). It
// returns nil to allow, and an error saying why to deny; n answers fact and class questions.
type Authorizer interface {
	Authorize(ctx context.Context, req authz.Request, n match.Node) error
}

// Auditor records each SimpleRPC request the node handled (rpcaudit).
type Auditor interface {
	Write(r audit.Record) error
}

// Options configures a Server. Identity, Collectives and Security are required.
type Options struct {
	Identity         string
	Collectives      []string
	MainCollective   string // default: the first collective
	DirectAddressing bool   // subscribe to the node's directed queue in each collective
	ReplyTTL         time.Duration
	MaxConcurrent    int // actions running at once; default 4 × GOMAXPROCS
	ConfigFile       string
	Security         security.Provider
	Facts            Facts
	Classes          Classes
	// ConfigItem answers rpcutil get_config_item; nil answers nothing.
	ConfigItem func(name string) (any, bool)
	// Plugins, when set, gives the agents and data plugins the node serves, answering from
	// the node it is passed; agents.Standard is the standard set (rpcutil, discovery, and
	// the fact, agent, fstat and collective data plugins). More can be added with Register
	// and RegisterData. A node without the discovery agent is invisible to mco discovery.
	Plugins func(n agent.Node) ([]*agent.Agent, []*agent.DataPlugin)
	// Authorizer, when set, is asked before every SimpleRPC action runs (an agent with a
	// Handle, such as discovery, is not an RPC agent and is never asked, as in MCollective).
	// A denial replies with status 1 and authz.DeniedMessage.
	Authorizer Authorizer
	// Audit, when set, gets one record per SimpleRPC request that reached its agent:
	// run, failed, denied or timed out.
	Audit  Auditor
	Logger *slog.Logger
	// Clock runs the workers and times the actions; nil is the wall clock.
	Clock clock.Clock
	// Now is the node's time (request ages, reply times, rpcutil); nil is Clock.Now.
	Now func() time.Time
	// Regexps keeps the regular expressions of the filters the node evaluated, compiled. A
	// process serving many nodes gives them all the same one; nil makes one for this server.
	Regexps *match.Regexps
}

// Server serves agents for one node.
type Server struct {
	opts    Options
	log     *slog.Logger
	matcher match.Matcher
	amu     sync.RWMutex // guards agents: Add, Replace and Remove change them while serving
	agents  map[string]*agent.Agent
	data    agent.DataRegistry
	stats   stats
	started time.Time
	sem     chan struct{}
	quit    chan struct{} // closed by Shutdown: requests still waiting for a worker are dropped

	mu       sync.Mutex                         // also orders inflight.Add before Shutdown's inflight.Wait
	subs     map[string]*connector.Subscription // by destination
	t        Transport
	inflight sync.WaitGroup
	stopping atomic.Bool

	auditRate auditLimiter // the audit lines of discovery and data plugin use
}

// New returns a server for opts serving the agents and data plugins opts.Plugins gives.
func New(opts Options) (*Server, error) {
	if opts.Identity == "" {
		return nil, errors.New("server: identity is required")
	}
	if opts.Security == nil {
		return nil, errors.New("server: a security provider is required")
	}
	if len(opts.Collectives) == 0 {
		opts.Collectives = []string{"mcollective"}
	}
	if opts.MainCollective == "" {
		opts.MainCollective = opts.Collectives[0]
	}
	if opts.ReplyTTL <= 0 {
		opts.ReplyTTL = 60 * time.Second
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 4 * runtime.GOMAXPROCS(0)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Now == nil {
		opts.Now = opts.Clock.Now
	}
	if opts.Facts == nil {
		opts.Facts = noFacts{}
	}
	if opts.Classes == nil {
		opts.Classes = noClasses{}
	}
	if opts.Regexps == nil {
		opts.Regexps = match.NewRegexps()
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		matcher: match.Matcher{Regexps: opts.Regexps},
		agents:  map[string]*agent.Agent{},
		data:    agent.NewDataRegistry(),
		started: opts.Now(),
		sem:     make(chan struct{}, opts.MaxConcurrent),
		quit:    make(chan struct{}),
		subs:    map[string]*connector.Subscription{},
	}
	if opts.Plugins != nil {
		as, ds := opts.Plugins(agentNode{s})
		for _, a := range as {
			s.Register(a)
		}
		for _, d := range ds {
			s.RegisterData(d)
		}
	}
	return s, nil
}

// Register adds an agent, replacing one of the same name. It must be called before Start;
// Add, Replace and Remove change the agents of a server that is serving.
func (s *Server) Register(a *agent.Agent) {
	s.amu.Lock()
	defer s.amu.Unlock()
	s.agents[a.Name()] = a
}

// Add serves a new agent. Once the server started, it also subscribes to the agent in every
// collective. A name already served (a built-in agent's, say) is refused.
func (s *Server) Add(a *agent.Agent) error {
	name := a.Name()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping.Load() {
		return fmt.Errorf("server: cannot add agent %s: the node is stopping", name)
	}
	s.amu.Lock()
	if _, ok := s.agents[name]; ok {
		s.amu.Unlock()
		return fmt.Errorf("server: an agent named %s is already served", name)
	}
	s.agents[name] = a
	s.amu.Unlock()
	if s.t == nil {
		return nil
	}
	for _, c := range s.opts.Collectives {
		d := connector.BroadcastDest(c, name)
		sub, err := s.t.Subscribe(d, s.Handle)
		if err != nil {
			s.unsubscribeLocked(name)
			s.amu.Lock()
			delete(s.agents, name)
			s.amu.Unlock()
			return fmt.Errorf("server: subscribe %s: %w", d, err)
		}
		s.subs[d] = sub
	}
	return nil
}

// Replace swaps the agent served under a's name for a. Requests already running finish with
// the agent they started with.
func (s *Server) Replace(a *agent.Agent) error {
	s.amu.Lock()
	defer s.amu.Unlock()
	if _, ok := s.agents[a.Name()]; !ok {
		return fmt.Errorf("server: cannot replace agent %s: it is not served", a.Name())
	}
	s.agents[a.Name()] = a
	return nil
}

// Remove stops serving the named agent: it unsubscribes from it in every collective, and a
// request for it that still arrives is dropped as for an unknown agent. Requests already
// running finish.
func (s *Server) Remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.amu.Lock()
	_, ok := s.agents[name]
	delete(s.agents, name)
	s.amu.Unlock()
	if !ok {
		return fmt.Errorf("server: cannot remove agent %s: it is not served", name)
	}
	s.unsubscribeLocked(name)
	return nil
}

// unsubscribeLocked ends the agent's subscriptions in every collective; s.mu is held.
func (s *Server) unsubscribeLocked(name string) {
	for _, c := range s.opts.Collectives {
		d := connector.BroadcastDest(c, name)
		if sub := s.subs[d]; sub != nil {
			if err := sub.Unsubscribe(); err != nil {
				s.log.Warn("cannot unsubscribe", "destination", d, "err", err)
			}
		}
		delete(s.subs, d)
	}
}

// agent returns the agent served under name.
func (s *Server) agent(name string) (*agent.Agent, bool) {
	s.amu.RLock()
	defer s.amu.RUnlock()
	a, ok := s.agents[name]
	return a, ok
}

// RegisterData adds a data plugin, e.g. puppet. It must be called before Start.
func (s *Server) RegisterData(p *agent.DataPlugin) {
	s.data[p.Name()] = p
}

// Agents lists the served agent names, sorted.
func (s *Server) Agents() []string {
	s.amu.RLock()
	defer s.amu.RUnlock()
	return slices.Sorted(maps.Keys(s.agents))
}

// Start subscribes to every agent in every collective, plus the directed queue when direct
// addressing is on. The transport resubscribes by itself after a reconnect.
func (s *Server) Start(t Transport) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t = t
	var dests []string
	for _, c := range s.opts.Collectives {
		for _, a := range s.Agents() {
			dests = append(dests, connector.BroadcastDest(c, a))
		}
		if s.opts.DirectAddressing {
			dests = append(dests, connector.DirectedDest(c, s.opts.Identity))
		}
	}
	for _, d := range dests {
		sub, err := t.Subscribe(d, s.Handle)
		if err != nil {
			return fmt.Errorf("server: subscribe %s: %w", d, err)
		}
		s.subs[d] = sub
	}
	s.log.Info("serving", "identity", s.opts.Identity, "collectives", s.opts.Collectives,
		"agents", s.Agents(), "subscriptions", len(dests))
	return nil
}

// Shutdown stops taking requests, unsubscribes, and waits for in-flight actions to finish
// or for ctx to end.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.stopping.Swap(true) {
		close(s.quit)
	}
	subs := s.subs
	s.subs = map[string]*connector.Subscription{}
	s.mu.Unlock()
	for _, sub := range subs {
		if sub != nil {
			_ = sub.Unsubscribe()
		}
	}
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("server: shutdown: in-flight actions still running: %w", ctx.Err())
	}
}

// Handle runs one STOMP message through the pipeline. It returns once the message is either
// dropped or handed to a worker; at most MaxConcurrent workers run at once, so a burst waits
// here rather than growing without bound. Once Shutdown began, a message still waiting for
// a worker is dropped: no action starts after the node was told to stop.
func (s *Server) Handle(m connector.Message) {
	if s.stopping.Load() {
		return
	}
	s.stats.total.Add(1)
	select {
	case s.sem <- struct{}{}:
	case <-s.quit:
		s.drop(m, nil, "shutting down", errors.New("the node is stopping; the request was never started"))
		return
	}
	s.mu.Lock()
	if s.stopping.Load() {
		s.mu.Unlock()
		<-s.sem
		s.drop(m, nil, "shutting down", errors.New("the node is stopping; the request was never started"))
		return
	}
	s.inflight.Add(1) // under mu, so never concurrent with Shutdown's Wait
	s.mu.Unlock()
	s.opts.Clock.Go(func() {
		defer func() { <-s.sem; s.inflight.Done() }()
		s.process(m)
	})
}

type noFacts struct{}

func (noFacts) Facts() map[string]any   { return map[string]any{} }
func (noFacts) Fact(string) (any, bool) { return nil, false }

type noClasses struct{}

func (noClasses) List() []string { return nil }

// stats are the counters rpcutil daemon_stats reports.
type stats struct {
	total, validated, unvalidated, passed, filtered, replies, ttlExpired atomic.Int64
}
