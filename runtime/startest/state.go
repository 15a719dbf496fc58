package startest

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.starlark.net/starlark"

	"github.com/mcorun/mcorun/starlib"
)

// epoch is where every test's fake clock starts.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeClock is a starlib.Clock whose Sleep returns at once after moving the time forward.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// Now implements starlib.Clock.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep implements starlib.Clock: it advances the clock by d unless ctx is done.
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.advance(d)
	return nil
}

func (c *fakeClock) advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// state is what one test (or the execution of a test file) shares between its helpers: the
// file, the fleet in use and the fake clock.
type state struct {
	ctx   context.Context
	file  string
	clock *fakeClock
	fleet *fleetValue
}

const (
	stateKey = "startest.state"
	// stateReporterKey holds the thread's assertion reporter, as starlarktest.SetReporter
	// does, for the threads that load_playbook starts.
	stateReporterKey = "startest.reporter"
)

func newState(ctx context.Context, file string) *state {
	st := &state{ctx: ctx, file: file, clock: &fakeClock{now: epoch}}
	fv, err := newFleet(st, nil, nil)
	if err != nil {
		panic(err) // the default fleet has no DDL to parse
	}
	st.fleet = fv
	return st
}

// thread returns a thread wired to the state: its fleet, clock and context, and no args.
func (st *state) thread(name string) *starlark.Thread {
	t := &starlark.Thread{Name: name}
	t.SetLocal(stateKey, st)
	starlib.SetFleet(t, st.fleet.f)
	starlib.SetClock(t, st.clock)
	starlib.SetContext(t, st.ctx)
	starlib.SetArgs(t, map[string]string{})
	return t
}

// use makes fv the fleet of the state and of thread.
func (st *state) use(thread *starlark.Thread, fv *fleetValue) {
	st.fleet = fv
	starlib.SetFleet(thread, fv.f)
}

func stateOf(thread *starlark.Thread, fn string) (*state, error) {
	st, _ := thread.Local(stateKey).(*state)
	if st == nil {
		return nil, errors.New(fn + ": only available in a test file")
	}
	return st, nil
}
