// Command mcobench is the scale benchmark suite: at each fleet size, on the embedded broker
// and on RabbitMQ, it measures the raw STOMP floor (package floor), mcorun's rpc ping
// (discovery, then the call) and find end to end, and stock mco's where it keeps up, and
// prints them as ratios to two floor rounds, with client CPU per reply, memory per node and
// the broker's cost per node. The nodes are mcod --simulate's (package sandbox), in this
// process; the clients are real processes. See docs/benchmarks.md.
//
//	go run ./cmd/mcobench                      # N = 100 and 1,000
//	go run ./cmd/mcobench --slow               # also N = 10,000 (the slow tier)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

const usage = `mcobench: the scale benchmark suite (docs/benchmarks.md).

Usage:
  go run ./cmd/mcobench [flags]

For every broker and fleet size it starts simulated nodes (mcod --simulate's, in this
process), then measures: the raw floor (one go-stomp broadcast and N replies over the
same connections, no codec; the median of --rounds rounds, doubled for mcorun's two round
trips), 'mcorun rpc rpcutil ping' and 'mcorun find' end to end, and stock mco's same
commands up to --mco-max nodes. Every run must hear every node: a lost reply is reported
and makes the exit code 1. Results go to stdout as a table and to --tsv for the plot
script (docs/benchmarks.sh).

Exit codes: 0 every run heard every node, 1 a reply was lost or a run failed,
2 bad flags.

Flags:
`

type options struct {
	nodes       []int
	slow        bool
	brokers     []string
	connections int
	rounds      int
	mcoMax      int
	dt, timeout int // seconds given to mcorun and mco as --dt and --timeout; 0: theirs
	rabbit      string
	mgmt        string
	vhost       string
	user, pass  string
	tsv         string
	mcorun      string
	mco         string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := pflag.NewFlagSet("mcobench", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntSliceVar(&o.nodes, "nodes", []int{100, 1000}, "fleet sizes")
	fs.BoolVar(&o.slow, "slow", os.Getenv("MCORUN_BENCH_SLOW") == "1", "also 10,000 nodes (the slow tier; MCORUN_BENCH_SLOW=1)")
	fs.StringSliceVar(&o.brokers, "brokers", []string{"embedded", "rabbitmq"}, "brokers to run on: embedded, rabbitmq")
	fs.IntVar(&o.connections, "connections", 1000, "broker connections the simulated nodes (and the floor's subscribers) share, at most one per node")
	fs.IntVar(&o.rounds, "rounds", 3, "repeats of each measurement; the median is reported")
	fs.IntVar(&o.mcoMax, "mco-max", 1000, "largest fleet stock mco is run against (0: never)")
	fs.IntVar(&o.dt, "dt", 0, "discovery timeout in seconds given to mcorun and mco (0: their default, 2 s); a fleet whose replies take longer to come back needs more")
	fs.IntVar(&o.timeout, "timeout", 0, "rpc reply timeout in seconds given to mcorun and mco (0: the DDL's)")
	fs.StringVar(&o.rabbit, "rabbitmq", "127.0.0.1:61613", "RabbitMQ's STOMP address")
	fs.StringVar(&o.mgmt, "rabbitmq-mgmt", "http://127.0.0.1:15672", "RabbitMQ's management API")
	fs.StringVar(&o.vhost, "vhost", "/mcollective", "RabbitMQ vhost")
	fs.StringVar(&o.user, "user", "mcollective", "RabbitMQ login (also the management API's; it declares the benchmark's exchanges)")
	fs.StringVar(&o.pass, "password", "secret", "RabbitMQ password")
	fs.StringVar(&o.tsv, "tsv", "", "also write the results to this file, one row per measurement")
	fs.StringVar(&o.mcorun, "mcorun", "", "mcorun binary (default: built from this checkout)")
	fs.StringVar(&o.mco, "mco", "mco", "stock mco binary; empty: never run mco")
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "mcobench: %v\nRun 'mcobench --help' for usage.\n", err)
		return 2
	}
	if o.slow {
		o.nodes = append(o.nodes, 10000)
	}
	for _, b := range o.brokers {
		if b != "embedded" && b != "rabbitmq" {
			fmt.Fprintf(stderr, "mcobench: --brokers: unknown broker %q: want embedded or rabbitmq\n", b)
			return 2
		}
	}
	if o.rounds < 1 || o.connections < 1 {
		fmt.Fprintln(stderr, "mcobench: --rounds and --connections must be at least 1")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "mcobench-")
	if err != nil {
		fmt.Fprintf(stderr, "mcobench: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if o.mcorun == "" {
		o.mcorun = filepath.Join(dir, "mcorun")
		if out, err := exec.Command("go", "build", "-o", o.mcorun, "github.com/mcorun/mcorun/cmd/mcorun").CombinedOutput(); err != nil {
			fmt.Fprintf(stderr, "mcobench: building mcorun: %v\n%s(pass --mcorun PATH)\n", err, out)
			return 1
		}
	}
	if o.mco != "" {
		if p, err := exec.LookPath(o.mco); err != nil {
			fmt.Fprintf(stderr, "mcobench: stock mco not found (%v): its rows are left out; .ci/setup-services installs it\n", err)
			o.mco = ""
		} else {
			o.mco = p
		}
	}
	s := &suite{o: o, dir: dir, log: stderr, out: stdout}
	fmt.Fprintf(stdout, "mcobench: %s, %d CPUs, load %s\n", hostInfo(), numCPU(), loadavg())
	failed := false
	for _, b := range o.brokers {
		for _, n := range o.nodes {
			if ctx.Err() != nil {
				break
			}
			res, err := s.measure(ctx, b, n)
			if err != nil {
				fmt.Fprintf(stderr, "mcobench: %s, %d nodes: %v\n", b, n, err)
				failed = true
			}
			failed = failed || (res != nil && res.lost())
		}
	}
	if failed || s.tsvFailed {
		return 1
	}
	return 0
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return max(1, strings.Count(string(b), "processor\t:"))
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func hostInfo() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// rssBytes is this process's resident set size.
func rssBytes() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// timed runs bin with args (at most 5 minutes) and returns its wall time, CPU time (user
// and system) and stdout.
func timed(ctx context.Context, home, bin string, args ...string) (wall, cpu time.Duration, out string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "HOME="+home)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	wall = time.Since(start)
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return wall, cpu, stdout.String(), err
		}
		// A non-zero exit (such as 4, some nodes did not reply) still has its output.
		err = fmt.Errorf("%s exited %d: %s", filepath.Base(bin), ee.ExitCode(), strings.TrimSpace(lastLines(stderr.String(), 3)))
	}
	return wall, cpu, stdout.String(), err
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(ls[max(0, len(ls)-n):], "\n")
}
