package startest

import (
	"context"
	"errors"
	"time"

	"go.starlark.net/starlark"

	"github.com/mcorun/mcorun/starlib"
)

// epoch is where every test's fake clock starts.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// state is what one test (or the execution of a test file) shares between its helpers: the
// file, the fleet in use and the fake clock.
type state struct {
	ctx   context.Context
	file  string
	clock *starlib.FakeClock
	fleet *fleetValue
}

const (
	stateKey = "startest.state"
	// stateReporterKey holds the thread's assertion reporter, as starlarktest.SetReporter
	// does, for the threads that load_playbook starts.
	stateReporterKey = "startest.reporter"
)

func newState(ctx context.Context, file string) *state {
	st := &state{ctx: ctx, file: file, clock: starlib.NewFakeClock(epoch)}
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
