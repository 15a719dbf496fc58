package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/rabbitstat"
	"github.com/mcorun/mcorun/runtime/sandbox"
)

// simOptions are the --simulate flags.
type simOptions struct {
	nodes       int
	connections int
	fleet       string
	delay       string // "P50,P99"
	slow        string // "FRACTION:MIN-MAX"
	seed        uint64
	mgmt        string // management API URL; "none" turns the report off
}

// simulate runs o.sim.nodes node identities in this process, each with the real pipeline
// and agents and its own subscriptions, on the config's broker pool, in its main collective,
// with its security provider; it reports RabbitMQ's counts once every node answers, then
// serves until ctx ends.
func simulate(ctx context.Context, cfg *config.Config, o options, logger *slog.Logger, out io.Writer) error {
	delay, err := parseDelay(o.sim)
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	fleet := sandbox.DefaultFleet()
	if o.sim.fleet != "" {
		if fleet, err = sandbox.LoadFleet(o.sim.fleet); err != nil {
			return fmt.Errorf("%w: %w", errConfig, err)
		}
	}
	sec, rabbit, stopBroker, err := securityAndPool(ctx, cfg, o, logger)
	if err != nil {
		return err
	}
	defer stopBroker()
	copts, err := connector.OptionsFromConfig(rabbit, cfg.Identity, logger)
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	var stat *rabbitstat.Client
	if !o.embedded && o.sim.mgmt != "none" {
		stat = &rabbitstat.Client{URL: o.sim.mgmt, User: rabbit.Pool[0].User, Password: rabbit.Pool[0].Password}
	}
	var before rabbitstat.Counts
	if stat != nil {
		if before, err = stat.Counts(ctx); err != nil {
			logger.Warn("no broker counts will be reported", "err", err, "hint", "pass --simulate-mgmt URL, or none")
			stat = nil
		}
	}
	start := time.Now()
	sb, err := sandbox.Start(ctx, sandbox.Options{
		Nodes: o.sim.nodes, Fleet: fleet, Plugins: sandbox.SimulatedPuppet, Logger: logger,
		Broker: &copts, Collective: cfg.MainCollective, Security: sec,
		Connections: o.sim.connections, Delay: delay,
	})
	if err != nil {
		return err
	}
	defer sb.Close()
	fmt.Fprintf(out, "mcod: simulating %d nodes over %d connections on %s, collective %s: every node answered after %v\n",
		o.sim.nodes, sb.Connections(), sb.Addr(), cfg.MainCollective, time.Since(start).Round(time.Millisecond))
	if stat != nil {
		// The management API refreshes its totals every 5 s by default.
		if err := clock.Sleep(ctx, clock.Real{}, 6*time.Second); err == nil {
			reportCounts(ctx, out, stat, before, o.sim.nodes, logger)
		}
	}
	<-ctx.Done()
	logger.Info("stopping the simulated nodes")
	return sb.Close()
}

// reportCounts prints the broker's totals and the simulated fleet's share per node.
func reportCounts(ctx context.Context, out io.Writer, stat *rabbitstat.Client, before rabbitstat.Counts, nodes int, logger *slog.Logger) {
	now, err := stat.Counts(ctx)
	if err != nil {
		logger.Warn("broker counts", "err", err)
		return
	}
	d := now.Sub(before)
	fmt.Fprintf(out, "mcod: rabbitmq now: %s\nmcod: rabbitmq added by %d nodes: %s; per node %.2f queues, %.1f kB\n",
		now, nodes, d, float64(d.Queues)/float64(nodes), float64(d.MemoryBytes)/float64(nodes)/1e3)
}

// parseDelay reads --simulate-delay P50,P99 and --simulate-slow FRACTION:MIN-MAX; neither
// set means no delay.
func parseDelay(o simOptions) (*sandbox.Delay, error) {
	if o.delay == "" && o.slow == "" {
		return nil, nil
	}
	d := sandbox.Delay{Seed: o.seed}
	if o.delay != "" {
		p50, p99, ok := strings.Cut(o.delay, ",")
		var err1, err2 error
		d.P50, err1 = time.ParseDuration(p50)
		d.P99, err2 = time.ParseDuration(p99)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("--simulate-delay %q: want P50,P99 such as 5ms,100ms", o.delay)
		}
	}
	if o.slow != "" {
		frac, span, ok := strings.Cut(o.slow, ":")
		lo, hi, ok2 := strings.Cut(span, "-")
		f, err := strconv.ParseFloat(strings.TrimSuffix(frac, "%"), 64)
		if strings.HasSuffix(frac, "%") {
			f /= 100
		}
		var err1, err2 error
		d.SlowMin, err1 = time.ParseDuration(lo)
		d.SlowMax, err2 = time.ParseDuration(hi)
		if !ok || !ok2 || err != nil || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("--simulate-slow %q: want FRACTION:MIN-MAX such as 1%%:800ms-1.5s", o.slow)
		}
		d.Slow = f
	}
	if err := d.Check(); err != nil {
		return nil, err
	}
	return &d, nil
}
