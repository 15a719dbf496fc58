// Command mcod is the mcorun node daemon: an MCollective 2.12 wire-compatible server that
// answers stock mco clients and mcorun over STOMP (RabbitMQ).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/mcorun/mcorun/runtime/audit"
	"github.com/mcorun/mcorun/runtime/authz"
	"github.com/mcorun/mcorun/runtime/broker"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/facts"
	"github.com/mcorun/mcorun/runtime/match"
	"github.com/mcorun/mcorun/runtime/security"
	"github.com/mcorun/mcorun/runtime/server"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the daemon could not run, or stopped on an error
	exitUsage   = 2 // bad flags or a bad config file
)

// version is the MCollective version mcod reports to clients.
const version = "2.12.5"

const usage = `mcod: the mcorun node daemon, wire-compatible with MCollective 2.12.

Usage:
  mcod [--config FILE] [flags]

It reads an MCollective server.cfg, connects to the broker pool it names
(plugin.rabbitmq.pool.*), subscribes to its agents (rpcutil, discovery, and
puppet where Puppet is installed) in every collective, and answers requests
until SIGINT or SIGTERM, then stops gracefully. External agents (an executable
beside its JSON DDL in LIBDIR/mcollective/agent/, Choria's protocol) are served
too, and rescanned every plugin.mcod.external.rescan seconds (default 20). It runs in the foreground and
logs to the config's logfile, else to stderr; it retries an unreachable broker
forever, logging each attempt.

With --embedded-broker it also hosts a STOMP broker in-process (on --broker-listen,
loopback by default), so one machine needs nothing else. When the config has no
plugin.rabbitmq.pool.* and the broker listens on loopback, mcod connects to it itself
as mcollective/secret (or STOMP_USER/STOMP_PASSWORD). The broker admits the logins of
the config's pool, each with a user and a password; on any other address they must be
configured, or mcod refuses to start. Its limits are plugin.mcod.broker.* settings
(docs/security.md).
Other nodes and clients point their pool at it, with these settings (stock mco
needs all three; the embedded broker speaks STOMP 1.1+ and has no temp-queues):
  plugin.rabbitmq.heartbeat_interval = 30
  plugin.rabbitmq.stomp_1_0_fallback = false
  plugin.rabbitmq.use_reply_exchange = true

With --simulate N it runs N simulated node identities instead of this node, for
capacity planning ("will my broker take 10,000 nodes") and the scale benchmarks.
Each has its own facts and classes from a fleet file (--simulate-fleet, the
format of mcorun --sandbox; default the built-in fleet), runs the real pipeline
and agents (puppet over a simulated Puppet), and holds its own subscriptions,
exactly as a real node; they share --simulate-connections broker connections.
It uses the config's pool, main collective and security provider, reports
RabbitMQ's connection and queue counts once every node answers, and serves until
stopped. Replies can be delayed (--simulate-delay, --simulate-slow).

Examples:
  mcod --config /etc/mcollective/server.cfg
  mcod --config server.cfg --log-level debug
  mcod --config server.cfg --embedded-broker --broker-listen 0.0.0.0:61613
  mcod --config server.cfg --simulate 1000 --simulate-connections 100 --simulate-delay 5ms,100ms

Exit codes: 0 stopped cleanly, 1 could not run or stopped on an error,
2 bad flags or configuration.

Flags:
`

type options struct {
	configFile    string
	logLevel      string
	maxConcurrent int
	stopTimeout   time.Duration
	showVersion   bool
	embedded      bool
	brokerListen  string
	// notice, when set, also gets the few lines an operator at a terminal must see (the
	// broker is still unreachable) while the log goes to a file.
	notice io.Writer
	// slowConnect is how long mcod waits for its first broker connection before it logs what
	// to check; zero means defaultSlowConnect.
	slowConnect time.Duration
	// sim holds the --simulate flags; sim.nodes > 0 runs simulated nodes instead of this node.
	sim simOptions
}

func main() {
	os.Exit(runIO(os.Args[1:], os.Stdout, os.Stderr))
}

// run is runIO with help and version on stderr too.
func run(args []string, stderr io.Writer) int { return runIO(args, stderr, stderr) }

// runIO runs mcod and returns its exit code: --help and --version print on stdout, everything
// else goes to stderr or the config's logfile.
func runIO(args []string, stdout, stderr io.Writer) int {
	o := options{slowConnect: defaultSlowConnect}
	fs := pflag.NewFlagSet("mcod", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVarP(&o.configFile, "config", "c", "/etc/mcollective/server.cfg", "server config file (MCollective server.cfg format)")
	fs.StringVar(&o.logLevel, "log-level", "", "override the config's loglevel: debug, info, warn or error")
	fs.IntVar(&o.maxConcurrent, "max-concurrent", 0, "actions that may run at once (default 4 per CPU)")
	fs.DurationVar(&o.stopTimeout, "stop-timeout", 30*time.Second, "how long in-flight actions may run after SIGTERM")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")
	fs.BoolVar(&o.embedded, "embedded-broker", false, "also host a STOMP broker in-process (see above)")
	fs.StringVar(&o.brokerListen, "broker-listen", broker.DefaultAddr, "address the embedded broker listens on; a non-loopback one needs pool credentials")
	fs.IntVar(&o.sim.nodes, "simulate", 0, "run N simulated node identities in this process instead of this node (see above)")
	fs.IntVar(&o.sim.connections, "simulate-connections", 0, "broker connections the simulated nodes share (default one per node)")
	fs.StringVar(&o.sim.fleet, "simulate-fleet", "", "fleet file the simulated nodes' facts and classes come from (default the built-in fleet)")
	fs.StringVar(&o.sim.delay, "simulate-delay", "", "reply delay of the simulated nodes, lognormal: P50,P99 such as 5ms,100ms")
	fs.StringVar(&o.sim.slow, "simulate-slow", "", "a fraction of simulated nodes replying slowly: FRACTION:MIN-MAX such as 1%:800ms-1.5s")
	fs.Uint64Var(&o.sim.seed, "simulate-seed", 1, "seed of the reply delays and of which nodes are slow")
	fs.StringVar(&o.sim.mgmt, "simulate-mgmt", "", "RabbitMQ management API to report queue and connection counts from (default http://127.0.0.1:15672 with pool 1's login; none: no report)")
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return exitOK
		}
		fmt.Fprintf(stderr, "mcod: %v\nRun 'mcod --help' for usage.\n", err)
		return exitUsage
	}
	if o.showVersion {
		fmt.Fprintf(stdout, "mcod %s\n", version)
		return exitOK
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mcod: unexpected argument %q\nRun 'mcod --help' for usage.\n", fs.Arg(0))
		return exitUsage
	}
	cfg, err := config.Load(o.configFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "mcod: config file %s not found: pass --config FILE (an MCollective server.cfg; see README.md, \"Run mcod on each node\")\n", o.configFile)
		} else {
			fmt.Fprintf(stderr, "mcod: %v\n", err)
		}
		return exitUsage
	}
	logger, closeLog, err := newLogger(cfg, o.logLevel, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "mcod: %v\n", err)
		return exitUsage
	}
	defer closeLog()
	toFile := logsToFile(cfg)
	if toFile {
		// Nothing else reaches the terminal until mcod stops: say where to look.
		fmt.Fprintf(stderr, "mcod: logging to %s\n", cfg.LogFile)
		o.notice = stderr
	}
	for _, w := range cfg.Warnings {
		logger.Warn(w)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	work := func() error { return serve(ctx, cfg, o, logger) }
	if o.sim.nodes > 0 {
		work = func() error { return simulate(ctx, cfg, o, logger, stdout) }
	}
	if err := work(); err != nil {
		logger.Error("mcod stopped", "err", err)
		if toFile {
			fmt.Fprintf(stderr, "mcod: %v\n", err)
		}
		if errors.Is(err, errConfig) {
			return exitUsage
		}
		return exitFailure
	}
	return exitOK
}

var errConfig = errors.New("configuration error")

// defaultSlowConnect is how long mcod waits for its first broker connection before it logs
// what to check.
const defaultSlowConnect = 5 * time.Second

// poolAddrs lists the broker pool's addresses for a log line.
func poolAddrs(o connector.Options) string {
	addrs := make([]string, len(o.Pool))
	for i, b := range o.Pool {
		addrs[i] = b.Addr()
	}
	return strings.Join(addrs, ",")
}

func serve(ctx context.Context, cfg *config.Config, o options, logger *slog.Logger) error {
	// The node's filters and its authorization rules share one memo of compiled expressions.
	regexps := match.NewRegexps()
	authorizer, auditor, err := authAndAudit(cfg, regexps, logger)
	if err != nil {
		return err
	}
	sec, err := nodeSecurity(cfg, logger)
	if err != nil {
		return err
	}
	if c, ok := sec.(io.Closer); ok {
		defer c.Close()
	}
	rabbit, stopBroker, err := brokerPool(ctx, cfg, o, logger)
	if err != nil {
		return err
	}
	defer stopBroker()
	var factFiles []string
	if p := cfg.PluginString("yaml", ""); p != "" {
		factFiles = strings.Split(p, ":")
	}
	src := facts.NewSource(factFiles...)
	if err := src.Err(); err != nil {
		logger.Warn("facts could not be loaded", "err", err)
	}
	plugins, err := nodePlugins(cfg, logger)
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	srv, err := server.New(server.Options{
		Identity:         cfg.Identity,
		Collectives:      cfg.Collectives,
		MainCollective:   cfg.MainCollective,
		DirectAddressing: cfg.DirectAddressing,
		ReplyTTL:         time.Duration(cfg.TTL) * time.Second,
		MaxConcurrent:    o.maxConcurrent,
		ConfigFile:       cfg.ConfigFile,
		Security:         sec,
		Facts:            src,
		Classes:          facts.NewClasses(cfg.ClassesFile),
		ConfigItem:       cfg.Item,
		Plugins:          plugins,
		Authorizer:       authorizer,
		Audit:            auditor,
		Logger:           logger,
		Regexps:          regexps,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	registerPuppet(ctx, cfg, srv, logger)
	watcher, err := externalAgents(ctx, cfg, srv, src.Facts, logger)
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	copts, err := connector.OptionsFromConfig(rabbit, cfg.Identity, logger)
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	const hint = "still no broker reachable; mcod keeps retrying. Check plugin.rabbitmq.pool.N.host, .port, .user and .password, and that RabbitMQ's STOMP plugin listens there"
	wait := o.slowConnect
	if wait <= 0 {
		wait = defaultSlowConnect
	}
	slow := time.AfterFunc(wait, func() {
		logger.Warn(hint, "config", cfg.ConfigFile, "pool", poolAddrs(copts))
		if o.notice != nil {
			fmt.Fprintf(o.notice, "mcod: %s (%s in %s)\n", hint, poolAddrs(copts), cfg.ConfigFile)
		}
	})
	conn, err := connector.Dial(ctx, copts)
	slow.Stop()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("stopped before any broker of the pool (%s) was reachable: %w", poolAddrs(copts), err)
		}
		return err
	}
	if err := srv.Start(conn); err != nil {
		_ = conn.Close()
		return err
	}
	watched := make(chan struct{})
	go func() { defer close(watched); watcher.Watch(ctx) }()
	defer func() { <-watched }()
	<-ctx.Done()
	logger.Info("stopping: waiting for in-flight actions", "timeout", o.stopTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), o.stopTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	// The clean DISCONNECT gets what is left of the stop timeout: mcod ends within it.
	closed := make(chan struct{})
	go func() { _ = conn.Close(); close(closed) }()
	select {
	case <-closed:
	case <-sctx.Done():
		logger.Warn("stop timeout reached before the broker connection closed cleanly")
	}
	return err
}

// securityAndPool returns the config's security provider and the broker pool (see
// brokerPool), with the func that stops an embedded broker.
func securityAndPool(ctx context.Context, cfg *config.Config, o options, logger *slog.Logger) (security.Provider, config.Rabbit, func(), error) {
	sec, err := security.New(cfg)
	if err != nil {
		return nil, config.Rabbit{}, nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	rabbit, stop, err := brokerPool(ctx, cfg, o, logger)
	return sec, rabbit, stop, err
}

// brokerPool checks the connector and returns the broker pool mcod connects to: the
// config's, or with --embedded-broker the in-process broker it starts (stop it with the
// returned func).
func brokerPool(ctx context.Context, cfg *config.Config, o options, logger *slog.Logger) (config.Rabbit, func(), error) {
	if cfg.Connector != "rabbitmq" {
		return config.Rabbit{}, nil, fmt.Errorf("%w: %s: connector = %q is not supported; set connector = rabbitmq", errConfig, cfg.ConfigFile, cfg.Connector)
	}
	if !o.embedded {
		rabbit, err := cfg.RabbitMQ()
		if err != nil {
			return config.Rabbit{}, nil, fmt.Errorf("%w: %w", errConfig, err)
		}
		return rabbit, func() {}, nil
	}
	br, rabbit, err := startEmbedded(ctx, cfg, o.brokerListen, logger)
	if err != nil {
		return config.Rabbit{}, nil, err
	}
	return rabbit, func() { _ = br.Close() }, nil
}

// authAndAudit builds the authorizer and the audit log the config asks for (rpcauthorization,
// rpcaudit). A provider mcod does not implement is a configuration error: mcod refuses to
// serve rather than run without the authorization or audit asked for. The authorizer compiles
// its rules' regular expressions through rx.
func authAndAudit(cfg *config.Config, rx *match.Regexps, logger *slog.Logger) (server.Authorizer, server.Auditor, error) {
	var authorizer server.Authorizer
	if cfg.RPCAuthorization {
		if cfg.RPCAuthProvider != authz.ProviderName {
			return nil, nil, fmt.Errorf("%w: %s: rpcauthorization is on but rpcauthprovider = %q is not implemented; set rpcauthprovider = %s",
				errConfig, cfg.ConfigFile, cfg.RPCAuthProvider, authz.ProviderName)
		}
		ap, err := authz.FromConfig(cfg, rx)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", errConfig, err)
		}
		logger.Info("authorization on", "provider", authz.ProviderName, "policy_dir", ap.Dir())
		authorizer = ap
	}
	var auditor server.Auditor
	al, err := audit.FromConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", errConfig, cfg.ConfigFile, err)
	}
	if al != nil {
		logger.Info("audit on", "provider", audit.ProviderName, "logfile", al.Path())
		auditor = al
	}
	return authorizer, auditor, nil
}
