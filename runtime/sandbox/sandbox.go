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
package sandbox

import (
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
	// readyTimeout bounds the wait for every node to be subscribed.
	readyTimeout = 30 * time.Second
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
	br      *broker.Broker
	nodes   []Node
	servers []*server.Server
	conns   []*connector.Conn
	probe   *connector.Conn
	closers []func() error // the nodes' Plugins.Close, by node
	dir     string         // the parent of the nodes' Dirs; "" for none
	log     *slog.Logger

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
	sec, err := newPSK(ClientIdentity)
	if err != nil {
		return nil, err
	}
	br, err := broker.Start(ctx, broker.Options{Addr: "127.0.0.1:0", Logger: log.With("component", "broker")})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s := &Sandbox{br: br, nodes: nodes, log: log, servers: make([]*server.Server, len(nodes)),
		conns: make([]*connector.Conn, len(nodes)), closers: make([]func() error, len(nodes))}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	if err := s.makeDirs(); err != nil {
		return nil, err
	}
	if err := s.startNodes(ctx, sec, opts.Plugins); err != nil {
		return nil, err
	}
	if s.probe, err = s.dial(ctx, "sandbox-probe"); err != nil {
		return nil, err
	}
	r, err := newRequester(ctx, s.probe, sec, "sandbox-probe", log)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := r.awaitSubscribed(rctx, s.Identities()); err != nil {
		return nil, err
	}
	log.Info("sandbox: ready", "broker", br.Addr(), "nodes", len(nodes))
	return s, nil
}

// startNodes connects and starts every node, a few at a time.
func (s *Sandbox) startNodes(ctx context.Context, sec security.Provider, extra func(Node) (Plugins, error)) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, dialers)
	)
	for i, n := range s.nodes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			srv, conn, closer, err := s.startNode(ctx, n, sec, extra)
			mu.Lock()
			defer mu.Unlock()
			s.servers[i], s.conns[i], s.closers[i] = srv, conn, closer
			if err != nil {
				errs = append(errs, fmt.Errorf("sandbox: node %s: %w", n.Identity, err))
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

func (s *Sandbox) startNode(ctx context.Context, n Node, sec security.Provider, extra func(Node) (Plugins, error)) (_ *server.Server, _ *connector.Conn, closer func() error, _ error) {
	log := s.log.With("node", n.Identity)
	plugins, err := agents.Plugins(n.Acting(clock.Real{}, log))
	if err != nil {
		return nil, nil, nil, err
	}
	srv, err := server.New(server.Options{
		Identity:         n.Identity,
		Collectives:      []string{collective},
		DirectAddressing: true,
		ConfigFile:       "sandbox",
		Security:         sec,
		Facts:            facts.Static(n.Facts),
		Classes:          facts.StaticClasses(n.Classes),
		Plugins:          plugins,
		Logger:           log,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	if extra != nil {
		p, err := extra(n)
		if err != nil {
			return nil, nil, nil, err
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
	conn, err := s.dial(ctx, n.Identity)
	if err != nil {
		return nil, nil, closer, err
	}
	if err := srv.Start(conn); err != nil {
		return nil, conn, closer, err
	}
	return srv, conn, closer, nil
}

// dial connects identity to the sandbox's broker.
func (s *Sandbox) dial(ctx context.Context, identity string) (*connector.Conn, error) {
	host, port := s.hostPort()
	return connector.Dial(ctx, connector.Options{
		Pool:     []connector.Broker{{Host: host, Port: port, User: identity, Password: PSK}},
		Identity: identity,
		Logger:   s.log.With("conn", identity),
	})
}

func (s *Sandbox) hostPort() (string, int) {
	host, p, _ := net.SplitHostPort(s.br.Addr())
	port, _ := strconv.Atoi(p)
	return host, port
}

// Addr returns the broker's address, such as "127.0.0.1:40313".
func (s *Sandbox) Addr() string { return s.br.Addr() }

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
// ignored, so the caller's environment cannot point it elsewhere.
func (s *Sandbox) ClientConfig() *config.Config {
	host, port := s.hostPort()
	text := strings.Join([]string{
		"identity = " + ClientIdentity,
		"main_collective = " + collective,
		"collectives = " + collective,
		"securityprovider = psk",
		"plugin.psk = " + PSK,
		"connector = rabbitmq",
		"direct_addressing = 1",
		"logger_type = console",
		"plugin.rabbitmq.vhost = /",
		"plugin.rabbitmq.use_reply_exchange = true",
		"plugin.rabbitmq.pool.size = 1",
		"plugin.rabbitmq.pool.1.host = " + host,
		"plugin.rabbitmq.pool.1.port = " + strconv.Itoa(port),
		"plugin.rabbitmq.pool.1.user = " + ClientIdentity,
		"plugin.rabbitmq.pool.1.password = " + PSK,
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
	cfg, err := config.Parse(strings.NewReader(text), "sandbox")
	if err != nil {
		panic(fmt.Sprintf("sandbox: client config: %v", err)) // fixed text; the tests parse it
	}
	cfg.LookupEnv = noEnv
	return cfg
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
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	add := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	sem := make(chan struct{}, dialers)
	for i := range s.nodes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if s.servers[i] != nil {
				add(s.servers[i].Shutdown(ctx))
			}
			if s.closers[i] != nil {
				add(s.closers[i]())
			}
			if s.conns[i] != nil {
				add(s.conns[i].Close())
			}
		}()
	}
	wg.Wait()
	if s.probe != nil {
		add(s.probe.Close())
	}
	add(s.br.Close())
	if s.dir != "" {
		add(os.RemoveAll(s.dir))
	}
	return errors.Join(errs...)
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
