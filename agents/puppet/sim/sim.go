// Package sim is a simulated Puppet for the sandbox: the real puppet agent of package
// agents/puppet, reading and writing a state directory of its own, whose runs are simulated
// instead of started as processes. A run takes the catalog run lock, waits out its run time,
// then writes last_run_summary.yaml (in Puppet 7's format), last_run_report.yaml and the
// resource list and drops the lock, as `puppet agent --onetime` does. The agent's actions
// (status, runonce, enable, disable, last_run_summary) and the puppet data plugin work
// through those files unchanged.
//
// Runs are configurable per node: how long they take (a range, drawn per run from a seeded
// generator), how many resources fail, whether the agent starts disabled, and whether runs
// never finish.
package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mcorun/mcorun/runtime/clock"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/mcorun/mcorun/agents/puppet"
	"github.com/mcorun/mcorun/runtime/agent"
)

// Defaults of Options.
const (
	DefaultMinRunTime = 1 * time.Second
	DefaultMaxRunTime = 3 * time.Second
	DefaultResources  = 40
)

// ErrClosed is returned by a run started after Close.
var ErrClosed = errors.New("sim: closed")

// Options configure one node's simulated Puppet. The zero value, with Dir set, is a healthy
// enabled agent whose runs take 1 to 3 seconds.
type Options struct {
	// Dir is the node's Puppet directory (public, state and run below it); it is created
	// when missing.
	Dir string
	// MinRunTime and MaxRunTime bound how long a run applies its catalog: each run takes a
	// duration drawn between them. Both zero means DefaultMinRunTime to DefaultMaxRunTime;
	// a MaxRunTime below MinRunTime means exactly MinRunTime.
	MinRunTime, MaxRunTime time.Duration
	// FailedResources is how many resources fail in every run; 0 gives successful runs.
	FailedResources int
	// Disabled, when not empty, starts the agent disabled with this message, as
	// `puppet agent --disable MESSAGE` does.
	Disabled string
	// Hang makes runs never finish: a run holds the catalog run lock until Close.
	Hang bool
	// Resources is the size of the catalog; 0 means DefaultResources.
	Resources int
	// Seed seeds the run times and the changes each run makes, so a node's runs repeat.
	Seed uint64
	// Clock times the runs; nil is the wall clock.
	Clock clock.Clock
	// Now is the clock of the agent and the summaries; nil is Clock.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Puppet is one node's simulated Puppet with the real agent over it. Close it to end the
// runs in flight.
type Puppet struct {
	opts  Options
	agent *puppet.Puppet
	paths puppet.Paths
	log   *slog.Logger

	mu      sync.Mutex
	rng     *rand.Rand
	runs    int
	running bool
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

// New lays out the node's Puppet directory, with a summary of an earlier successful run
// half an hour ago and the disable lock when opts.Disabled is set, and returns its Puppet.
func New(opts Options) (*Puppet, error) {
	if opts.Dir == "" {
		return nil, errors.New("sim: no directory")
	}
	if opts.MinRunTime == 0 && opts.MaxRunTime == 0 {
		opts.MinRunTime, opts.MaxRunTime = DefaultMinRunTime, DefaultMaxRunTime
	}
	opts.MaxRunTime = max(opts.MaxRunTime, opts.MinRunTime)
	if opts.Resources <= 0 {
		opts.Resources = DefaultResources
	}
	opts.FailedResources = min(max(opts.FailedResources, 0), opts.Resources)
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Now == nil {
		opts.Now = opts.Clock.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	paths := Layout(opts.Dir)
	for _, d := range []string{filepath.Dir(paths.LastRunFile), filepath.Dir(paths.CatalogRunLock), filepath.Dir(paths.PidFile)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
	}
	s := &Puppet{opts: opts, paths: paths, log: opts.Logger, stop: make(chan struct{}),
		rng: rand.New(rand.NewPCG(opts.Seed, 0x5eed))}
	ag, err := puppet.New(context.Background(), puppet.Options{
		Command: "puppet agent", Paths: &paths, SplayLimit: 30, SignalDaemon: true,
		Launch: s.launch, Now: opts.Now, Logger: opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	s.agent = ag
	if err := s.writeResources(); err != nil {
		return nil, err
	}
	end := opts.Now().Add(-30 * time.Minute)
	if err := s.writeRun(run{start: end.Add(-20 * time.Second), end: end, changed: 0}); err != nil {
		return nil, err
	}
	if opts.Disabled != "" {
		b, err := json.Marshal(map[string]string{"disabled_message": opts.Disabled})
		if err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		if err := writeAtomic(paths.DisabledLock, b); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Layout returns where a simulated Puppet in dir keeps its files, as Puppet's publicdir,
// statedir and rundir would hold them.
func Layout(dir string) puppet.Paths {
	return puppet.Paths{
		LastRunFile:    filepath.Join(dir, "public", "last_run_summary.yaml"),
		LastRunReport:  filepath.Join(dir, "state", "last_run_report.yaml"),
		DisabledLock:   filepath.Join(dir, "state", "agent_disabled.lock"),
		CatalogRunLock: filepath.Join(dir, "state", "agent_catalog_run.lock"),
		PidFile:        filepath.Join(dir, "run", "agent.pid"),
		ResourceFile:   filepath.Join(dir, "state", "resources.txt"),
	}
}

// Agent returns the real puppet agent over the simulated Puppet.
func (s *Puppet) Agent() *agent.Agent { return s.agent.Agent() }

// DataPlugin returns the real puppet data plugin over the simulated Puppet.
func (s *Puppet) DataPlugin() *agent.DataPlugin { return s.agent.DataPlugin() }

// Status returns the agent's state, as the status action reports it.
func (s *Puppet) Status(ctx context.Context) (map[string]any, error) { return s.agent.Status(ctx) }

// Paths returns the Puppet files of the node.
func (s *Puppet) Paths() puppet.Paths { return s.paths }

// Runs returns how many runs have started.
func (s *Puppet) Runs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs
}

// Close ends the runs in flight, a hanging run included, without writing their summaries,
// and waits for them. Runs started afterwards fail with ErrClosed.
func (s *Puppet) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stop)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// run is one simulated run.
type run struct {
	start, end time.Time
	changed    int
	failed     int
	noop       bool
}

// launch is the agent's Options.Launch: it starts a simulated run of argv (puppet agent
// --onetime ... [--noop] [--splay --splaylimit N]). Like Puppet, a run started while another
// one holds the lock does nothing.
func (s *Puppet) launch(_ context.Context, argv []string) error {
	noop, splay, splayLimit := false, false, 0
	for i, a := range argv {
		switch a {
		case "--noop":
			noop = true
		case "--no-noop":
			noop = false
		case "--splay":
			splay = true
		case "--splaylimit":
			if i+1 < len(argv) {
				splayLimit, _ = strconv.Atoi(argv[i+1])
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.running {
		s.log.Info("sim: a run is in progress; skipping", "dir", s.opts.Dir)
		return nil
	}
	var wait time.Duration
	if splay && splayLimit > 0 {
		wait = time.Duration(s.rng.Int64N(int64(splayLimit)*int64(time.Second) + 1))
	}
	d := s.opts.MinRunTime
	if spread := s.opts.MaxRunTime - s.opts.MinRunTime; spread > 0 {
		d += time.Duration(s.rng.Int64N(int64(spread) + 1))
	}
	r := run{changed: s.rng.IntN(4), failed: s.opts.FailedResources, noop: noop}
	if wait == 0 {
		// Take the lock before runonce replies, so a status right after it shows the run.
		if err := s.lock(); err != nil {
			return err
		}
	}
	s.runs++
	s.running = true
	s.wg.Add(1)
	s.opts.Clock.Go(func() { s.apply(r, wait, d) })
	return nil
}

// apply is one run in flight: after the splay wait it holds the catalog run lock for d, then
// writes the run's files and releases the lock. Close ends it early, lock released, with no
// summary written.
func (s *Puppet) apply(r run, wait, d time.Duration) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()
	defer s.unlock()
	if wait > 0 {
		if !s.sleep(wait) {
			return
		}
		if err := s.lock(); err != nil {
			s.log.Warn("sim: take the run lock", "err", err)
			return
		}
	}
	r.start = s.opts.Now()
	if s.opts.Hang {
		_ = s.opts.Clock.Wait(context.Background(), nil, time.Time{}, s.stop)
		return
	}
	if !s.sleep(d) {
		return
	}
	r.end = r.start.Add(d) // the drawn duration, so that seeded runs report the same times
	if err := s.writeRun(r); err != nil {
		s.log.Warn("sim: write the run's files", "err", err)
	}
}

// sleep waits d, false when Close came first.
func (s *Puppet) sleep(d time.Duration) bool {
	_ = s.opts.Clock.Wait(context.Background(), nil, s.opts.Clock.Now().Add(d), s.stop)
	select {
	case <-s.stop:
		return false
	default:
		return true
	}
}

// lock writes the catalog run lock with this process's pid, which is alive for as long as
// the sandbox runs.
func (s *Puppet) lock() error {
	return writeAtomic(s.paths.CatalogRunLock, []byte(strconv.Itoa(os.Getpid())))
}

func (s *Puppet) unlock() {
	if err := os.Remove(s.paths.CatalogRunLock); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("sim: release the run lock", "err", err)
	}
}

// writeAtomic writes b to path through a temporary file and a rename, as Puppet replaces its
// state files, so that a reader never sees a partial file.
func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	_, werr := f.Write(b)
	if err := errors.Join(werr, f.Close()); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("sim: write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("sim: %w", err)
	}
	return nil
}
