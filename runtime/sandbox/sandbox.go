// Package sandbox runs a simulated fleet in-process: an embedded broker (package broker) on
// a free loopback port and N nodes, each a real mcod pipeline (package server) with the real
// agents, its own STOMP connection and facts and classes from a fleet file. With
// Options.Plugins set to SimulatedPuppet, each node also serves the real puppet agent and
// puppet data plugin over a simulated Puppet (package agents/puppet/sim) that the fleet
// file's puppet blocks configure. It backs mcorun --sandbox and playbook tests: the client
// sees exactly what a real fleet on RabbitMQ would send it, over real STOMP.
//
// Every node and the client share the pre-shared key PSK, in the collective "mcollective",
// with use_reply_exchange, since the embedded broker has no temp-queues.
//
// With Options.Broker the nodes join a running broker instead (RabbitMQ, or an mcod's
// embedded broker), in Options.Collective, over Options.Connections connections; mcod
// --simulate and the scale benchmarks (cmd/mcobench) run fleets this way.
package sandbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcorun/mcorun/agents"
	"github.com/mcorun/mcorun/agents/external"
	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/broker"
	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/facts"
	"github.com/mcorun/mcorun/runtime/match"
	"github.com/mcorun/mcorun/runtime/security"
	"github.com/mcorun/mcorun/runtime/server"
)

// Fixed settings of every sandbox.
const (
	// PSK is the pre-shared key of the sandbox's nodes and client.
	PSK = "sandbox"
	// ClientIdentity is the identity in ClientConfig.
	ClientIdentity = "sandbox-client"
	collective     = "mcollective"
	// dialers bounds the node connections opened at once.
	dialers = 32
	// nodeQueue is how many messages each subscription of a node buffers in front of its
	// handler. A node gets one message per request, so a short queue is plenty; mcod's
	// connector default (connector.DefaultQueueSize, 1,000 of 80 bytes) allocates 640 KB per
	// node for 8 subscriptions, 6.4 GB at 10,000 nodes, where the simulator's RSS peaked at
	// 9.2 GB while the fleet started (3.4 GB at the same stage with 100).
	nodeQueue = 100
	// readyStall bounds the wait for every node to be subscribed while no node answers for
	// the first time; a fleet of more than 600 nodes gets 50 ms per node, and 200 ms per
	// node for its first answer (RabbitMQ declared 80 queues a second on 2 cores while
	// 10,000 simulated nodes subscribed, 8 queues each, and went 100 s without a node
	// becoming ready).
	readyStall = 30 * time.Second
)

// Options configures Start.
type Options struct {
	// Nodes is the number of nodes; 0 means the fleet's own size.
	Nodes int
	// Fleet is the fleet to expand; nil means FleetFile, or when that is empty too
	// DefaultFleet.
	Fleet *Fleet
	// FleetFile is a fleet file to load when Fleet is nil.
	FleetFile string
	// Plugins returns what a node serves beyond the standard set (agents.Standard: rpcutil,
	// discovery and the fact, agent, fstat and collective data plugins), such as
	// SimulatedPuppet; nil adds nothing. It is called once per node, with
	// the node's Dir created.
	Plugins func(Node) (Plugins, error)
	// Logger receives the broker's, the connections' and the nodes' logs; nil discards.
	Logger *slog.Logger

	// Broker, when set, points the nodes at a running broker instead of an in-process one:
	// its Pool, VHost and connection settings. Identity is set per connection.
	Broker *connector.Options
	// Collective is the collective the nodes serve; "" means "mcollective". Its exchanges
	// must exist on an external broker.
	Collective string
	// Security signs the nodes' replies and checks requests; nil means psk with PSK.
	Security security.Provider
	// Connections is the number of broker connections the nodes share: node i uses
	// connection i mod Connections, and subscribes for itself on it (its own agents' and
	// directed subscriptions, as a real node). 0, or more than the nodes, means one
	// connection per node, as real nodes have.
	Connections int
	// Delay, when set, delays every reply a node sends by a draw from its distribution.
	Delay *Delay
}

// Plugins are the extra agents and data plugins of one node.
type Plugins struct {
	Agents []*agent.Agent
	Data   []*agent.DataPlugin
	// Close, when set, runs when the sandbox closes, after the node has stopped.
	Close func() error
}

// Sandbox is a running simulated fleet. Stop it with Close.
type Sandbox struct {
	br         *broker.Broker     // nil with Options.Broker
	ext        *connector.Options // Options.Broker
	collective string
	nodes      []Node
	servers    []*server.Server
	conns      []*connector.Conn // by connection; node i uses conns[i%len(conns)]
	probe      *connector.Conn
	closers    []func() error // the nodes' Plugins.Close, by node
	dir        string         // the parent of the nodes' Dirs; "" for none
	log        *slog.Logger
	regexps    *match.Regexps // the compiled filter expressions, shared by every node

	closeOnce sync.Once
	closeErr  error
}

// Start starts the broker and the nodes and returns once every node answers on all its
// subscriptions.
func Start(ctx context.Context, opts Options) (_ *Sandbox, err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fleet := opts.Fleet
	if fleet == nil && opts.FleetFile != "" {
		if fleet, err = LoadFleet(opts.FleetFile); err != nil {
			return nil, err
		}
	}
	if fleet == nil {
		fleet = DefaultFleet()
	}
	nodes, err := fleet.Nodes(opts.Nodes)
	if err != nil {
		return nil, err
	}
	sec := opts.Security
	if sec == nil {
		if sec, err = newPSK(ClientIdentity); err != nil {
			return nil, err
		}
	}
	conns := opts.Connections
	if conns <= 0 || conns > len(nodes) {
		conns = len(nodes)
	}
	s := &Sandbox{ext: opts.Broker, collective: cmp.Or(opts.Collective, collective), nodes: nodes, log: log,
		servers: make([]*server.Server, len(nodes)), conns: make([]*connector.Conn, conns),
		closers: make([]func() error, len(nodes)), regexps: match.NewRegexps()}
	if s.ext == nil {
		if s.br, err = broker.Start(ctx, broker.Options{Addr: "127.0.0.1:0", Logger: log.With("component", "broker")}); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	if err := s.makeDirs(); err != nil {
		return nil, err
	}
	if err := s.dialAll(ctx); err != nil {
		return nil, err
	}
	if err := s.startNodes(ctx, sec, opts.Plugins, opts.Delay); err != nil {
		return nil, err
	}
	probeID := "sandbox-probe-" + newRequestID()[:8]
	if s.probe, err = s.dial(ctx, probeID, 0); err != nil {
		return nil, err
	}
	r, err := newRequester(ctx, s.probe, sec, probeID, s.collective, log)
	if err != nil {
		return nil, err
	}
	n := time.Duration(len(nodes))
	if err := r.awaitSubscribed(ctx, s.Identities(), max(readyStall, n*200*time.Millisecond), max(readyStall, n*50*time.Millisecond)); err != nil {
		return nil, err
	}
	log.Info("sandbox: ready", "broker", s.Addr(), "nodes", len(nodes), "connections", conns)
	return s, nil
}

// dialAll opens the nodes' connections, a few at a time. With one connection per node
// each is named after its node (its mc_sender); shared ones are sandbox-conn-K.
func (s *Sandbox) dialAll(ctx context.Context) error {
	return s.each(len(s.conns), func(k int) error {
		name := fmt.Sprintf("sandbox-conn-%d", k+1)
		if len(s.conns) == len(s.nodes) {
			name = s.nodes[k].Identity
		}
		conn, err := s.dial(ctx, name, nodeQueue)
		s.conns[k] = conn
		if err != nil {
			return fmt.Errorf("sandbox: connection %s: %w", name, err)
		}
		return nil
	})
}

// startNodes starts every node on its connection, a few at a time.
func (s *Sandbox) startNodes(ctx context.Context, sec security.Provider, extra func(Node) (Plugins, error), delay *Delay) error {
	return s.each(len(s.nodes), func(i int) error {
		n := s.nodes[i]
		var tr server.Transport = s.conns[i%len(s.conns)]
		if delay != nil {
			tr = delayed{Transport: tr, draw: delay.sampler(n.Index)}
		}
		srv, closer, err := s.startNode(ctx, n, tr, sec, extra)
		s.servers[i], s.closers[i] = srv, closer
		if err != nil {
			return fmt.Errorf("sandbox: node %s: %w", n.Identity, err)
		}
		return nil
	})
}

// each runs f(0..n-1), dialers at a time, and joins their errors. Each f writes only its
// own index's slots.
func (s *Sandbox) each(n int, f func(i int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, dialers)
	)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(i); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// makeDirs creates a temporary directory with a Dir for every node.
func (s *Sandbox) makeDirs() error {
	dir, err := os.MkdirTemp("", "mcorun-sandbox-")
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	s.dir = dir
	for i := range s.nodes {
		s.nodes[i].Dir = filepath.Join(dir, s.nodes[i].Identity)
		if err := os.Mkdir(s.nodes[i].Dir, 0o755); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
	}
	return nil
}

func (s *Sandbox) startNode(ctx context.Context, n Node, tr server.Transport, sec security.Provider, extra func(Node) (Plugins, error)) (_ *server.Server, closer func() error, _ error) {
	log := s.log.With("node", n.Identity)
	plugins, err := agents.Plugins(n.Acting(clock.Real{}, log))
	if err != nil {
		return nil, nil, err
	}
	srv, err := server.New(server.Options{
		Identity:         n.Identity,
		Collectives:      []string{s.collective},
		DirectAddressing: true,
		ConfigFile:       "sandbox",
		Security:         sec,
		Facts:            facts.Static(n.Facts),
		Classes:          facts.StaticClasses(n.Classes),
		Plugins:          plugins,
		Logger:           log,
		Regexps:          s.regexps,
	})
	if err != nil {
		return nil, nil, err
	}
	if extra != nil {
		p, err := extra(n)
		if err != nil {
			return nil, nil, err
		}
		closer = p.Close
		for _, a := range p.Agents {
			srv.Register(a)
		}
		for _, d := range p.Data {
			srv.RegisterData(d)
		}
	}
	if n.External != "" {
		w := external.New(external.Options{LibDirs: []string{n.External}, ConfigDir: n.Dir,
			Facts: func() map[string]any { return n.Facts }, Logger: log}, srv)
		w.Scan(ctx)
	}
	if err := srv.Start(tr); err != nil {
		return nil, closer, err
	}
	return srv, closer, nil
}

// dial connects identity to the sandbox's broker.
// queue is the messages each of its subscriptions buffers; 0 keeps Options.Broker's, else
// the connector's default.
func (s *Sandbox) dial(ctx context.Context, identity string, queue int) (*connector.Conn, error) {
	if s.ext != nil {
		o := *s.ext
		o.Identity = identity
		o.Logger = s.log.With("conn", identity)
		if queue > 0 {
			o.QueueSize = queue
		}
		return connector.Dial(ctx, o)
	}
	host, port := s.hostPort()
	return connector.Dial(ctx, connector.Options{
		Pool:      []connector.Broker{{Host: host, Port: port, User: identity, Password: PSK}},
		Identity:  identity,
		Logger:    s.log.With("conn", identity),
		QueueSize: queue,
	})
}

func (s *Sandbox) hostPort() (string, int) {
	if s.ext != nil {
		return s.ext.Pool[0].Host, s.ext.Pool[0].Port
	}
	host, p, _ := net.SplitHostPort(s.br.Addr())
	port, _ := strconv.Atoi(p)
	return host, port
}

// Addr returns the broker's address, such as "127.0.0.1:40313"; with Options.Broker, the
// first of its pool.
func (s *Sandbox) Addr() string {
	host, port := s.hostPort()
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// Connections returns the number of broker connections the nodes share.
func (s *Sandbox) Connections() int { return len(s.conns) }

// Nodes returns the simulated nodes in fleet order.
func (s *Sandbox) Nodes() []Node { return slices.Clone(s.nodes) }

// Identities returns the nodes' identities, sorted.
func (s *Sandbox) Identities() []string {
	ids := make([]string, len(s.nodes))
	for i, n := range s.nodes {
		ids[i] = n.Identity
	}
	slices.Sort(ids)
	return ids
}

// ClientConfig returns a client configuration for the sandbox, as a client.cfg would give
// it: connector rabbitmq with the broker as its pool, psk security with PSK, use_reply_exchange,
// identity ClientIdentity, and as libdir the nodes' external agent libdirs, for their DDLs.
// Environment overrides (MCOLLECTIVE_PSK, STOMP_USER, ...) are
// ignored, so the caller's environment cannot point it elsewhere. With Options.Broker it
// names the first broker of that pool, its vhost and login, and Options.Collective; it
// fits only a sandbox with the default security.
func (s *Sandbox) ClientConfig() *config.Config {
	cfg, err := config.Parse(strings.NewReader(s.ClientConfigText()), "sandbox")
	if err != nil {
		panic(fmt.Sprintf("sandbox: client config: %v", err)) // fixed text; the tests parse it
	}
	cfg.LookupEnv = noEnv
	return cfg
}

// ClientConfigText is ClientConfig as the text of a client.cfg, such as for stock mco.
func (s *Sandbox) ClientConfigText() string {
	host, port := s.hostPort()
	vhost, user, password := "/", ClientIdentity, PSK
	if s.ext != nil {
		vhost, user, password = cmp.Or(s.ext.VHost, "/"), s.ext.Pool[0].User, s.ext.Pool[0].Password
	}
	text := strings.Join([]string{
		"identity = " + ClientIdentity,
		"main_collective = " + s.collective,
		"collectives = " + s.collective,
		"securityprovider = psk",
		"plugin.psk = " + PSK,
		"connector = rabbitmq",
		"direct_addressing = 1",
		"logger_type = console",
		"plugin.rabbitmq.vhost = " + vhost,
		"plugin.rabbitmq.use_reply_exchange = true",
		"plugin.rabbitmq.pool.size = 1",
		"plugin.rabbitmq.pool.1.host = " + host,
		"plugin.rabbitmq.pool.1.port = " + strconv.Itoa(port),
		"plugin.rabbitmq.pool.1.user = " + user,
		"plugin.rabbitmq.pool.1.password = " + password,
		// The broker's port changes with every sandbox, so a discovery cache (keyed by the
		// pool) would never be read again: it would only leave files behind.
		"plugin.mcorun.discovery_cache = false",
		// With no cache every discovery is a first one. The sandbox's nodes answer from
		// this process within milliseconds (unless its fleet gives them a delay), so the
		// quiet window hears them all without waiting the whole timeout each time.
		"plugin.mcorun.discovery_first = quiet",
	}, "\n") + "\n"
	// The client reads the DDLs of the nodes' external agents where the nodes find them.
	var libdirs []string
	for _, n := range s.nodes {
		if n.External != "" && !slices.Contains(libdirs, n.External) {
			libdirs = append(libdirs, n.External)
		}
	}
	if len(libdirs) > 0 {
		text += "libdir = " + strings.Join(libdirs, ":") + "\n"
	}
	return text
}

// Close stops every node, waiting briefly for actions in flight, disconnects them and stops
// the broker. It is idempotent.
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.shutdown() })
	return s.closeErr
}

func (s *Sandbox) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	add(s.each(len(s.nodes), func(i int) error {
		var errs []error
		if s.servers[i] != nil {
			errs = append(errs, s.servers[i].Shutdown(ctx))
		}
		if s.closers[i] != nil {
			errs = append(errs, s.closers[i]())
		}
		return errors.Join(errs...)
	}))
	cctx, ccancel := context.WithTimeout(context.Background(), connCloseWait)
	defer ccancel()
	add(s.each(len(s.conns), func(k int) error { return closeWithin(cctx, s.conns[k]) }))
	add(closeWithin(cctx, s.probe))
	if s.br != nil {
		add(s.br.Close())
	}
	if s.dir != "" {
		add(os.RemoveAll(s.dir))
	}
	return errors.Join(errs...)
}

// connCloseWait bounds the wait for the connections to close.
const connCloseWait = 10 * time.Second

// closeWithin closes c, or gives up waiting when ctx ends: a connection whose DISCONNECT
// never completes (seen on RabbitMQ with 1,000 connections closing at once: go-stomp's
// reader blocks handing a "connection closed" error to a receipt nobody waits for) must not
// hang Close. The socket is gone by then; only the closing goroutine is left behind.
func closeWithin(ctx context.Context, c *connector.Conn) error {
	if c == nil {
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("sandbox: a connection did not close within %v", connCloseWait)
	}
}

// newPSK is the psk provider every sandbox party shares.
func newPSK(identity string) (security.Provider, error) {
	p, err := security.PSKFor(identity, PSK)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	return p, nil
}

func noEnv(string) (string, bool) { return "", false }
