// Package client is the Go API under mcorun: it discovers nodes and calls agents over an
// MCollective 2.12 collective, and returns replies as plain values: the nodes that succeeded,
// the nodes that failed and the nodes that never answered. It works against stock
// mcollectived nodes and mcod nodes alike.
//
// Everything takes a context.Context, and per-call options are passed per call, never stored
// on the Client.
//
// # Replies
//
// A Client owns one reply destination, subscribed in New before anything is published: the
// RabbitMQ temp queue /temp-queue/mcorun_reply_<identity>_<pid>_<n>, or, with
// Options.UseReplyExchange, /exchange/mcollective_reply/<identity>_<pid>_<n> for brokers
// without temp queues. Every request carries it as reply-to. Replies are routed to the
// waiting call by requestid; replies with an unknown or finished requestid are dropped (debug
// log), and replies that fail the security provider's check are dropped with a warning.
//
// # Discovery completion rule
//
// mco's mc discovery always waits its whole timeout (2 s), because it cannot know how many
// nodes will answer. This package stops as soon as any of these holds (completion.deadline,
// the one rule every discovery uses: the CLI, the test fleet, dry runs and the sandbox):
//
//  1. the timeout passed (DiscoverOptions.Timeout, else Options.DiscoveryTimeout, else 2 s,
//     plus the DDL timeout of each data plugin a compound filter calls, as mco adds it): the
//     upper bound, exactly mco's behaviour; DiscoverOptions.WaitFull waits for it alone;
//  2. an expected set is known (DiscoverOptions.Nodes for a directed ping,
//     DiscoverOptions.Expect, or the previous discovery of the same collective and filter
//     from Options.DiscoveryCache), every node of it has replied, and no reply arrived for
//     Grace (default 50 ms; none for a directed ping, where no other node can answer) — a
//     newcomer inside the grace restarts it. While an expected node has not replied, only
//     the timeout ends discovery: a slow node is waited for, as mco would;
//  3. no expected set is known, Options.FirstDiscovery is FirstDiscoveryQuiet
//     (plugin.mcorun.discovery_first = quiet), at least one node replied, at least MinWait
//     (default 300 ms) has passed since the request was sent, and no reply arrived during
//     the last quiet window, where quiet = max(QuietFloor, QuietFactor × the slowest reply
//     latency seen so far), with QuietFloor 100 ms and QuietFactor 2.
//
// With no expected set and the default FirstDiscovery, only rule 1 ends discovery: the
// first discovery of a filter waits the whole timeout, as mco does, since nothing tells how
// many nodes will answer or how slow the slowest is.
//
// With Options.DiscoveryCache set (the mcorun CLI sets it) each result is stored, and the
// next discovery of the same collective and filter expects its nodes (rule 2). So every
// node that replies within the timeout is found, except a node new since the previous
// discovery and more than the grace behind the last expected reply (found the next time).
// The cache only decides when to stop waiting: the nodes found are the nodes that replied.
//
// Rule 3 is a heuristic, for a fleet known to answer in one burst (the sandbox's
// in-process nodes, tests). On a healthy network every discovery reply arrives within a
// few tens of milliseconds (RabbitMQ on loopback: 4 ms p50 for 30 nodes, 96 ms for 1000
// nodes), so replies come as one burst and a later straggler is unlikely once twice the
// burst's spread has passed in silence; but a node much slower than the rest (1% of the
// fleet at 1 s) can be missed. Until a first reply arrives nothing is known about the
// network, so even rule 3 waits the whole timeout for the first reply. MinWait,
// QuietFloor, QuietFactor and Grace override the constants.
//
// # RPC
//
// Call validates the arguments against the agent's DDL before it discovers or sends
// anything. It then discovers with the filter plus the agent (unless CallOptions.Nodes is
// given) and sends, as MCollective decides: one directed request per node when the node
// count is within the direct addressing threshold, else one broadcast. Nodes, Batch and
// Limit force directed requests whose filter is reset to the agent alone, as mco does. Call
// returns as soon as every targeted node replied, or at the timeout: CallOptions.Timeout,
// else the agent's DDL timeout plus the discovery timeout, as mco computes it.
package client

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/discovery"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/security"
)

// Sentinel errors. Errors returned by this package wrap one of them where it applies.
var (
	// ErrInvalidArgs means the arguments of a call fail the agent's DDL; the error also wraps
	// the *ddl.ValidationError carrying MCollective's message. Nothing was sent.
	ErrInvalidArgs = errors.New("invalid arguments")
	// ErrUnknownAgent means no DDL was found for the agent. Nothing was sent.
	ErrUnknownAgent = errors.New("unknown agent")
	// ErrNoNodes means discovery found no node, so no request was sent (mco's exit code 1).
	ErrNoNodes = errors.New("no nodes discovered")
	// ErrClosed means the Client was closed.
	ErrClosed = errors.New("client closed")
)

// Defaults for zero Options fields.
const (
	DefaultDirectAddressingThreshold = 10
	DefaultDiscoveryTimeout          = 2 * time.Second
	DefaultTTL                       = 60 * time.Second
	DefaultBatchSleep                = time.Second
	// DefaultDDLTimeout is an agent's action timeout when its DDL sets none (rpc/agent.rb).
	DefaultDDLTimeout = 10 * time.Second
)

// Transport is what the client needs from a broker connection; *connector.Conn implements it.
type Transport interface {
	Subscribe(dest string, h connector.Handler) (*connector.Subscription, error)
	SubscribeTemp(name string, h connector.Handler) (*connector.Subscription, error)
	Send(ctx context.Context, dest string, body []byte, h connector.SendHeaders) error
}

// Options configures a Client. Identity and Security are required; every other zero value
// means MCollective's default.
type Options struct {
	Identity       string   // the client's identity, sent as senderid
	MainCollective string   // default collective; default the first of Collectives, else "mcollective"
	Collectives    []string // the known collectives
	Security       security.Provider
	// DirectAddressingThreshold is the largest node count sent as directed requests; 0 = 10.
	DirectAddressingThreshold int
	// NoDirectAddressing sends every request as a broadcast (direct_addressing = 0).
	NoDirectAddressing bool
	// UseReplyExchange receives replies through the mcollective_reply exchange instead of a
	// RabbitMQ temp queue.
	UseReplyExchange bool
	DiscoveryTimeout time.Duration // 0 = 2s
	TTL              time.Duration // 0 = 60s
	// DiscoveryMethod is the default discovery method (default_discovery_method); "" = mc.
	DiscoveryMethod string
	// Sources returns the discovery source for a method other than mc; nil means
	// discovery.New with no settings (the methods' options only).
	Sources func(method string) (discovery.Method, error)
	// DDLs finds an agent's DDL; nil means the built-in DDLs only.
	DDLs   func(agent string) (*ddl.Agent, error)
	Logger *slog.Logger
	// Clock times every wait of the client: discovery windows, reply timeouts and the
	// pause between batches; nil is the wall clock.
	Clock clock.Clock
	// Now is the time stamps' clock; nil is Clock.Now.
	Now func() time.Time
	// DiscoveryCache, when set, gives mc discovery of a filter the nodes its previous
	// discovery found, as DiscoverOptions.Expect, and keeps each result for the next one.
	DiscoveryCache DiscoveryCache
	// FirstDiscovery is how an mc discovery with no expected set ends (the first discovery
	// of a filter): FirstDiscoveryTimeout (the default, "") or FirstDiscoveryQuiet.
	FirstDiscovery string
}

// The values of Options.FirstDiscovery and of plugin.mcorun.discovery_first.
const (
	// FirstDiscoveryTimeout waits the whole discovery timeout, as mco does: rule 1.
	FirstDiscoveryTimeout = "timeout"
	// FirstDiscoveryQuiet stops after a quiet window: rule 3, faster, and may miss a node
	// much slower than the rest.
	FirstDiscoveryQuiet = "quiet"
)

// firstDiscoveryKey is the config key of Options.FirstDiscovery.
const firstDiscoveryKey = "mcorun.discovery_first"

// firstDiscovery reads plugin.mcorun.discovery_first; anything but its two values is refused.
func firstDiscovery(cfg *config.Config) (string, error) {
	return cfg.PluginChoice(firstDiscoveryKey, FirstDiscoveryTimeout, FirstDiscoveryQuiet)
}

// DiscoveryCache keeps the last mc discovery result per collective and filter;
// *discovery.Cache is one. It only tells discovery when to stop waiting.
type DiscoveryCache interface {
	Load(collective string, f message.Filter) (nodes []string, at time.Time, ok bool)
	Store(collective string, f message.Filter, nodes []string, at time.Time) error
}

// Client discovers nodes and calls agents. It is safe for concurrent use; per-call settings
// are arguments, never Client state.
type Client struct {
	opts  Options
	t     Transport
	log   *slog.Logger
	reply string // the reply-to destination
	sub   *connector.Subscription

	mu      sync.Mutex
	pending map[string]*waiter
	ddls    map[string]*ddl.Agent
	closed  bool
	done    chan struct{}
}

// New returns a Client on t and subscribes its reply destination, before anything is sent.
func New(t Transport, opts Options) (*Client, error) {
	if t == nil {
		return nil, errors.New("client: no transport")
	}
	if opts.Identity == "" {
		return nil, errors.New("client: identity is required")
	}
	if opts.Security == nil {
		return nil, errors.New("client: a security provider is required")
	}
	if len(opts.Collectives) == 0 {
		if opts.MainCollective == "" {
			opts.MainCollective = "mcollective"
		}
		opts.Collectives = []string{opts.MainCollective}
	}
	if opts.MainCollective == "" {
		opts.MainCollective = opts.Collectives[0]
	}
	s := Settings{MainCollective: opts.MainCollective, DirectAddressingThreshold: opts.DirectAddressingThreshold,
		DiscoveryTimeout: opts.DiscoveryTimeout, TTL: opts.TTL}.withDefaults()
	opts.DirectAddressingThreshold, opts.DiscoveryTimeout, opts.TTL = s.DirectAddressingThreshold, s.DiscoveryTimeout, s.TTL
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	method, err := discovery.Canonical(opts.DiscoveryMethod)
	if err != nil {
		return nil, fmt.Errorf("client: default_discovery_method: %w", err)
	}
	opts.DiscoveryMethod = method
	if opts.Sources == nil {
		opts.Sources = func(m string) (discovery.Method, error) { return discovery.New(m, discovery.Settings{}) }
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Now == nil {
		opts.Now = opts.Clock.Now
	}
	c := &Client{
		opts: opts, t: t, log: opts.Logger,
		pending: map[string]*waiter{},
		ddls:    map[string]*ddl.Agent{},
		done:    make(chan struct{}),
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	n := int(binary.BigEndian.Uint32(b[:]) & 0x7fffffff)
	if opts.UseReplyExchange {
		c.reply = connector.ReplyExchangeDest(opts.Identity, os.Getpid(), n)
		c.sub, err = t.Subscribe(c.reply, c.onMessage)
	} else {
		name := fmt.Sprintf("mcorun_reply_%s_%d_%d", opts.Identity, os.Getpid(), n)
		c.reply = connector.TempQueueDest(name)
		c.sub, err = t.SubscribeTemp(name, c.onMessage)
	}
	if err != nil {
		return nil, fmt.Errorf("client: subscribe replies: %w", err)
	}
	return c, nil
}

// FromConfig returns a Client with options from a client.cfg: identity, collectives, the
// security provider, direct addressing, discovery timeout, ttl and use_reply_exchange. DDLs
// come from JSON files (<agent>.json) in each libdir's mcollective/agent directory or the
// libdir itself, earlier libdirs first, then the built-in DDLs. A DDL file that cannot be
// read is logged as a warning, and only calls to its agent fail.
func FromConfig(cfg *config.Config, t Transport, log *slog.Logger) (*Client, error) {
	opts, err := OptionsFromConfig(cfg, log)
	if err != nil {
		return nil, err
	}
	return New(t, opts)
}

// OptionsFromConfig returns the Options FromConfig uses, for a caller that adds its own
// (a DiscoveryCache, a Clock).
func OptionsFromConfig(cfg *config.Config, log *slog.Logger) (Options, error) {
	if cfg == nil {
		return Options{}, errors.New("client: no configuration")
	}
	sec, err := security.New(cfg)
	if err != nil {
		return Options{}, fmt.Errorf("client: %w", err)
	}
	rmq, err := cfg.RabbitMQ()
	if err != nil {
		return Options{}, fmt.Errorf("client: %w", err)
	}
	sources, err := discovery.FromConfig(cfg)
	if err != nil {
		return Options{}, fmt.Errorf("client: %w", err)
	}
	first, err := firstDiscovery(cfg)
	if err != nil {
		return Options{}, fmt.Errorf("client: %w", err)
	}
	ddls, warnings := ddl.FromLibDirs(cfg.LibDir)
	if log != nil {
		for _, w := range warnings {
			log.Warn("client: a DDL in the libdir cannot be read", "error", w)
		}
	}
	return Options{
		Identity:                  cfg.Identity,
		MainCollective:            cfg.MainCollective,
		Collectives:               cfg.Collectives,
		Security:                  sec,
		DirectAddressingThreshold: cfg.DirectAddressingThreshold,
		NoDirectAddressing:        !cfg.DirectAddressing,
		UseReplyExchange:          rmq.UseReplyExchange,
		DiscoveryTimeout:          time.Duration(cfg.DiscoveryTimeout) * time.Second,
		TTL:                       time.Duration(cfg.TTL) * time.Second,
		DiscoveryMethod:           cfg.DefaultDiscoveryMethod,
		Sources:                   func(m string) (discovery.Method, error) { return discovery.New(m, sources) },
		DDLs:                      ddls,
		Logger:                    log,
		FirstDiscovery:            first,
	}, nil
}

// DDL returns the agent's DDL. An agent without one gives an error wrapping ErrUnknownAgent.
func (c *Client) DDL(agent string) (*ddl.Agent, error) {
	c.mu.Lock()
	a, ok := c.ddls[agent]
	c.mu.Unlock()
	if ok {
		return a, nil
	}
	find := c.opts.DDLs
	if find == nil {
		find = ddl.Builtin
	}
	a, err := find(agent)
	if err == nil && a == nil {
		err = ddl.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("ddl %s: %w: %w (install its DDL as %s.json in a libdir)", agent, ErrUnknownAgent, err, agent)
	}
	c.mu.Lock()
	c.ddls[agent] = a
	c.mu.Unlock()
	return a, nil
}

// ReplyTo returns the Client's reply destination, the reply-to of every request it sends.
func (c *Client) ReplyTo() string { return c.reply }

// Close stops receiving replies. Calls still waiting return ErrClosed. Close is idempotent
// and does not close the Transport.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	c.mu.Unlock()
	if c.sub == nil {
		return nil
	}
	if err := c.sub.Unsubscribe(); err != nil {
		return fmt.Errorf("client: close: %w", err)
	}
	return nil
}

func (c *Client) collective(s string) string {
	if s != "" {
		return s
	}
	return c.opts.MainCollective
}
