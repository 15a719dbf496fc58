// Package fleettest is the test fleet of `mcorun test`, the REPL's and the playbook
// runner's tests: a whole fleet in one process, made of the production parts. The client is
// runtime/client, the nodes are runtime/server pipelines serving the real agents (rpcutil,
// discovery, the data plugins, and puppet over its simulator), and the network between
// them is an in-memory bus (runtime/bus) routed by the embedded broker's own rule. Only the
// network and the clock are stand-ins: every timer on the path runs on one clock.Fake, so
// discovery windows, reply timeouts, node action timeouts, batch pauses and Puppet runs
// cost no real time and happen in the same order on every run.
//
// Canned behaviour sits at the node, in front of the agent: a failing node answers every
// action with an error, a silent node never answers (its action outlives its timeout, as a
// hung node's does), and a Responder may reshape any reply after the agent gave it. So
// filters, DDL validation, output defaults, limits, batches and timeouts all run the
// production code. An agent a test declares with a DDL only is served by a stub that
// answers its DDL's output defaults once the node validated the inputs against that DDL.
//
// Set a Fleet's exported fields before its first use; it starts on first use. Close it.
package fleettest

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/mcorun/mcorun/agents"
	pkgagent "github.com/mcorun/mcorun/agents/package"
	"github.com/mcorun/mcorun/agents/puppet/sim"
	"github.com/mcorun/mcorun/agents/service"
	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/bus"
	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/facts"
	"github.com/mcorun/mcorun/runtime/match"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/sandbox"
	"github.com/mcorun/mcorun/runtime/security"
	"github.com/mcorun/mcorun/runtime/server"
)

// Epoch returns the time a fleet's own clock starts at: 2026-01-01T00:00:00Z.
func Epoch() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

const (
	psk            = "fleettest"
	clientIdentity = "fleettest-client"
	collective     = "mcollective"
)

// realAgent reports whether every node serves the agent unless Node.Agents says otherwise,
// besides the declared ones; discovery is part of the daemon and always served, and shell
// is served where Node.Shell says so.
func realAgent(name string) bool {
	switch name {
	case "nettest", "package", "puppet", "rpcutil", "service":
		return true
	}
	return false
}

// Node is one node of the fleet.
type Node struct {
	ID      string
	Facts   map[string]any
	Classes []string
	// Agents are the agents the node runs; nil means every agent of the fleet (rpcutil,
	// puppet, service, package, nettest, shell when Shell is set, and the declared DDLs).
	// Discovery is always served, as by mcod.
	Agents []string
	// Puppet configures the node's simulated Puppet (its Dir, Clock and Now are the
	// fleet's); the zero value is an enabled, idle agent whose runs succeed.
	Puppet sim.Options
	// Services and Packages are the node's simulated services and packages, served by the
	// real service and package agents over their sim providers, as in the sandbox.
	Services []service.SimService
	Packages pkgagent.SimConfig
	// Shell serves the real shell agent: its commands run on this machine, in the node's
	// own directory, in real time (the fake clock stands still while one runs).
	Shell bool
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
	// Batches are the batches the client sent the call in.
	Batches [][]string
	// Options are the rpc call's options, DiscoverOptions the discovery's, as given.
	Options         client.CallOptions
	DiscoverOptions client.DiscoverOptions
}

// Request is what a Responder sees of one node's part in an rpc call.
type Request struct {
	Agent  string
	Action string
	Args   map[string]any
	Node   *Node
	Seq    int // as Call.Seq
}

// Responder shapes one node's reply to one rpc call, at the node: it receives the reply
// the agent gave (DDL output defaults filled in) and may change its status, message and
// data. It returns false to leave the node silent for this call.
type Responder func(req Request, rep *agent.Reply) bool

// Fleet is the in-memory fleet.
type Fleet struct {
	Nodes []*Node
	// DDLs are agents the test declares: served by a stub (see the package doc) on every
	// node whose Agents allow them, and known to the client.
	DDLs map[string]*ddl.Agent
	// Responder, when set, shapes every reply after the agent (see Responder).
	Responder Responder
	// Clock is the fleet's time; nil starts a clock.Fake at Epoch. A playbook run on the
	// fleet must use the same clock.
	Clock *clock.Fake

	once     sync.Once
	startErr error
	clk      *clock.Fake
	bus      *bus.Bus
	client   *client.Client
	servers  []*server.Server
	regexps  *match.Regexps // the compiled filter expressions, shared by every node
	sims     []*sim.Puppet
	dir      string

	mu      sync.Mutex
	failing map[string]bool
	silent  map[string]bool
	block   bool
	entered chan struct{}
	calls   []Call
	seq     map[string]int
	closed  bool
}

// New returns a fleet of eight nodes: web1-web4 (role web, Debian, classes web::nginx and
// base), db1-db3 (role db, db3 on RedHat, classes db::postgres and base) and app1 (role app,
// Debian, class app). Every node runs the cron service and has openssl 3.0.11-1 installed
// with 3.0.13-1 available; web nodes also run nginx (1.22.1-9 installed, 1.22.1-9+deb12u1
// available) and db nodes postgresql.
func New() *Fleet {
	f := NewNodes()
	add := func(id, role, os, svc string, classes ...string) {
		n := &Node{ID: id, Classes: classes, Facts: map[string]any{
			"role": role, "operatingsystem": os, "osfamily": os, "hostname": id},
			Services: []service.SimService{{Name: "cron", State: service.Running}},
			Packages: pkgagent.SimConfig{Packages: map[string]pkgagent.SimPackage{
				"openssl": {Installed: "3.0.11-1", Available: []string{"3.0.11-1", "3.0.13-1"}}}}}
		if svc != "" {
			n.Services = append(n.Services, service.SimService{Name: svc, State: service.Running})
		}
		if svc == "nginx" {
			n.Packages.Packages["nginx"] = pkgagent.SimPackage{Installed: "1.22.1-9", Available: []string{"1.22.1-9", "1.22.1-9+deb12u1"}}
		}
		f.Nodes = append(f.Nodes, n)
	}
	for i := 1; i <= 4; i++ {
		add(fmt.Sprintf("web%d", i), "web", "Debian", "nginx", "web::nginx", "base")
	}
	for i := 1; i <= 3; i++ {
		os := "Debian"
		if i == 3 {
			os = "RedHat"
		}
		add(fmt.Sprintf("db%d", i), "db", os, "postgresql", "db::postgres", "base")
	}
	add("app1", "app", "Debian", "", "app")
	return f
}

// NewNodes returns a fleet of the given nodes.
func NewNodes(nodes ...*Node) *Fleet {
	return &Fleet{Nodes: nodes, DDLs: map[string]*ddl.Agent{}, failing: map[string]bool{}, silent: map[string]bool{},
		entered: make(chan struct{}, 64), seq: map[string]int{}}
}

// FromSandbox returns a fleet of the sandbox's nodes: the same identities, facts, classes
// and simulated Puppet settings (seeds included) as the sandbox gives them, so that the
// two fleets behave alike (see the conformance suite).
func FromSandbox(nodes []sandbox.Node) *Fleet {
	f := NewNodes()
	for _, n := range nodes {
		f.Nodes = append(f.Nodes, &Node{ID: n.Identity, Facts: maps.Clone(n.Facts), Classes: slices.Clone(n.Classes), Puppet: n.Puppet,
			Services: slices.Clone(n.Services), Packages: n.Packages, Shell: n.Shell})
	}
	return f
}

// Declare adds an agent the nodes serve through a stub, from its JSON DDL.
func (f *Fleet) Declare(ddlJSON string) error {
	a, err := ddl.ParseAgent([]byte(ddlJSON))
	if err != nil {
		return err
	}
	f.DDLs[a.Metadata.Name] = a
	return nil
}

// DeclareFile declares the agent of a JSON DDL file, as Declare does.
func (f *Fleet) DeclareFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("fleettest: %w", err)
	}
	if err := f.Declare(string(b)); err != nil {
		return fmt.Errorf("fleettest: %s: %w", path, err)
	}
	return nil
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

// Reset makes every node answer again (it undoes Fail and Silence) and forgets the calls
// so far, Seq counts included. The nodes, their agents and the clock stay as they are.
func (f *Fleet) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing, f.silent = map[string]bool{}, map[string]bool{}
	f.calls, f.seq = nil, map[string]int{}
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

// Time returns the fleet's clock, starting the fleet if it has not started.
func (f *Fleet) Time() *clock.Fake {
	_ = f.start()
	if f.clk == nil {
		return f.Clock
	}
	return f.clk
}

// Start starts the fleet: the bus, every node and the client. The first Discover, Call, DDL
// or Plan starts it too.
func (f *Fleet) Start() error { return f.start() }

func (f *Fleet) start() error {
	f.once.Do(func() { f.startErr = f.run() })
	return f.startErr
}

func (f *Fleet) run() error {
	f.clk = f.Clock
	if f.clk == nil {
		f.clk = clock.NewFake(Epoch())
	}
	f.bus = bus.New(f.clk)
	f.regexps = match.NewRegexps()
	dir, err := os.MkdirTemp("", "mcorun-fleettest-")
	if err != nil {
		return fmt.Errorf("fleettest: %w", err)
	}
	f.dir = dir
	for _, n := range f.Nodes {
		if err := f.startNode(n); err != nil {
			return fmt.Errorf("fleettest: node %s: %w", n.ID, err)
		}
	}
	sec, err := security.PSKFor(clientIdentity, psk)
	if err != nil {
		return fmt.Errorf("fleettest: %w", err)
	}
	// As in the sandbox, the nodes answer from this process and there is no discovery cache,
	// so every discovery is a first one and stops after the quiet window (docs/discovery.md).
	f.client, err = client.New(f.bus.Conn(clientIdentity), client.Options{
		Identity: clientIdentity, MainCollective: collective, Security: sec, DDLs: f.ddl, Clock: f.clk,
		FirstDiscovery: client.FirstDiscoveryQuiet,
	})
	if err != nil {
		return fmt.Errorf("fleettest: %w", err)
	}
	return nil
}

// ddl finds an agent's DDL for the client: a declared one, else a built-in one.
func (f *Fleet) ddl(name string) (*ddl.Agent, error) {
	if d, ok := f.DDLs[name]; ok {
		return d, nil
	}
	return ddl.Builtin(name)
}

// runs reports whether node n runs the agent.
func (f *Fleet) runs(n *Node, name string) bool {
	if n.Agents != nil {
		return slices.Contains(n.Agents, name)
	}
	_, declared := f.DDLs[name]
	return declared || realAgent(name) || (name == "shell" && n.Shell)
}

func (f *Fleet) startNode(n *Node) error {
	sec, err := security.PSKFor(n.ID, psk)
	if err != nil {
		return err
	}
	var served []*agent.Agent
	var data []*agent.DataPlugin
	dir := filepath.Join(f.dir, n.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	plugins, err := agents.Plugins(sandbox.Node{Identity: n.ID, Services: n.Services, Packages: n.Packages,
		Shell: n.Shell, Dir: dir}.Acting(f.clk, nil))
	if err != nil {
		return err
	}
	if f.runs(n, "puppet") {
		o := n.Puppet
		o.Dir = dir
		o.Clock, o.Now = f.clk, f.clk.Now
		if o.Seed == 0 {
			h := fnv.New64a()
			_, _ = h.Write([]byte(n.ID))
			o.Seed = h.Sum64()
		}
		p, err := sim.New(o)
		if err != nil {
			return err
		}
		f.sims = append(f.sims, p)
		served = append(served, p.Agent())
		data = append(data, p.DataPlugin())
	}
	for _, name := range slices.Sorted(maps.Keys(f.DDLs)) {
		if f.runs(n, name) {
			served = append(served, stub(f.DDLs[name]))
		}
	}
	srv, err := server.New(server.Options{
		Identity: n.ID, Collectives: []string{collective}, DirectAddressing: true, ConfigFile: "fleettest",
		Security: sec, Facts: facts.Static(n.Facts), Classes: facts.StaticClasses(n.Classes),
		Clock: f.clk, MaxConcurrent: 1 << 10, Regexps: f.regexps,
		Plugins: func(an agent.Node) ([]*agent.Agent, []*agent.DataPlugin) {
			std, stdData := plugins(an)
			var out []*agent.Agent
			for _, a := range append(std, served...) {
				if a.Handle != nil || f.runs(n, a.Name()) {
					out = append(out, f.intercept(n, a))
				}
			}
			return out, append(stdData, data...)
		},
	})
	if err != nil {
		return err
	}
	f.servers = append(f.servers, srv)
	return srv.Start(f.bus.Conn(n.ID))
}

// stub serves a declared DDL: every action answers the DDL's output defaults.
func stub(d *ddl.Agent) *agent.Agent {
	a := &agent.Agent{DDL: d, Actions: map[string]agent.Action{}}
	for name := range d.Actions {
		a.Actions[name] = func(context.Context, *agent.Request, *agent.Reply) {}
	}
	return a
}

// intercept puts the fleet's canned behaviour in front of each action of a.
func (f *Fleet) intercept(n *Node, a *agent.Agent) *agent.Agent {
	if a.Handle != nil {
		return a // discovery is part of the daemon, never canned
	}
	w := &agent.Agent{DDL: a.DDL, Actions: make(map[string]agent.Action, len(a.Actions))}
	for name, act := range a.Actions {
		w.Actions[name] = func(ctx context.Context, req *agent.Request, rep *agent.Reply) {
			f.mu.Lock()
			seq := f.seq[req.Agent+"."+req.Action]
			failing, silent, responder := f.failing[n.ID], f.silent[n.ID], f.Responder
			f.mu.Unlock()
			if silent {
				f.hang(ctx)
				return
			}
			if failing {
				rep.Fail(message.Aborted, "failed on purpose")
			} else {
				act(ctx, req, rep)
			}
			if responder != nil && !responder(Request{Agent: req.Agent, Action: req.Action, Args: req.Data, Node: n, Seq: seq}, rep) {
				f.hang(ctx)
			}
		}
	}
	return w
}

// hang keeps an action running until its timeout, so that the node never replies.
func (f *Fleet) hang(ctx context.Context) { _ = f.clk.Wait(ctx, nil, time.Time{}) }

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

// record appends a call and returns its index.
func (f *Fleet) record(c Call) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	return len(f.calls) - 1
}

// Discover implements starlib.Fleet with the real client.
func (f *Fleet) Discover(ctx context.Context, opts client.DiscoverOptions) ([]string, error) {
	if err := f.start(); err != nil {
		return nil, err
	}
	idx := f.record(Call{Kind: "discover", Nodes: opts.Nodes, Filter: opts.Filter, DiscoverOptions: opts})
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	ids, err := f.client.Discover(ctx, opts)
	f.mu.Lock()
	f.calls[idx].Targets = slices.Clone(ids)
	f.mu.Unlock()
	return ids, err
}

// Call implements starlib.Fleet with the real client.
func (f *Fleet) Call(ctx context.Context, agentName, action string, args map[string]any, opts client.CallOptions) (*client.Results, error) {
	if err := f.start(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.seq[agentName+"."+action]++
	seq := f.seq[agentName+"."+action]
	f.calls = append(f.calls, Call{Kind: "rpc", Agent: agentName, Action: action, Args: args, Nodes: opts.Nodes,
		Filter: opts.Filter, Seq: seq, Batch: opts.Batch, Options: opts})
	idx := len(f.calls) - 1
	f.mu.Unlock()
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	res, err := f.client.Call(ctx, agentName, action, args, opts)
	if res != nil {
		f.mu.Lock()
		f.calls[idx].Targets = slices.Clone(res.Targets)
		f.calls[idx].Batches = res.Batches
		f.mu.Unlock()
	}
	return res, err
}

// DDL implements starlib.Fleet.
func (f *Fleet) DDL(agentName string) (*ddl.Agent, error) {
	if err := f.start(); err != nil {
		return nil, err
	}
	return f.client.DDL(agentName)
}

// Plan implements starlib.Fleet.
func (f *Fleet) Plan(agentName, action string, args map[string]any, opts client.CallOptions) (*client.Plan, error) {
	if err := f.start(); err != nil {
		return nil, err
	}
	return f.client.Plan(agentName, action, args, opts)
}

// Close stops the clock, the nodes, the simulated Puppets and the client, and removes the
// nodes' files. It is idempotent.
func (f *Fleet) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.mu.Unlock()
	if f.clk == nil {
		return nil // never started
	}
	f.clk.Stop()
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range f.servers {
		errs = append(errs, s.Shutdown(ctx))
	}
	for _, p := range f.sims {
		errs = append(errs, p.Close())
	}
	if f.client != nil {
		errs = append(errs, f.client.Close())
	}
	f.bus.Close()
	if f.dir != "" {
		errs = append(errs, os.RemoveAll(f.dir))
	}
	return errors.Join(errs...)
}
