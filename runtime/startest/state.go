package startest

import (
	"context"
	"errors"
	"os"

	"go.starlark.net/starlark"

	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/playbook/fleettest"
	"github.com/mcorun/mcorun/starlib"
)

// state is what one test (or the execution of a test file) shares between its helpers: the
// file, the fleet in use and the fake clock.
type state struct {
	ctx   context.Context
	file  string
	clock *clock.Fake
	fleet *fleetValue
	// fleets are every fleet the test made, closed with the state.
	fleets []*fleetValue
	// runsDir holds the journals of the test's playbook runs, removed with the state.
	runsDir string
}

// runs is the runs directory of the test's playbook runs, made on first use.
func (st *state) runs() string {
	if st.runsDir == "" {
		if d, err := os.MkdirTemp("", "mcorun-test-runs-"); err == nil {
			st.runsDir = d
		}
	}
	return st.runsDir
}

const (
	stateKey = "startest.state"
	// stateReporterKey holds the thread's assertion reporter, as starlarktest.SetReporter
	// does, for the threads that load_playbook starts.
	stateReporterKey = "startest.reporter"
)

func newState(ctx context.Context, file string) *state {
	st := &state{ctx: ctx, file: file, clock: clock.NewFake(fleettest.Epoch())}
	fv, err := newFleet(st, nil, nil)
	if err != nil {
		panic(err) // the default fleet has no DDL to parse
	}
	st.fleet = fv
	return st
}

// close closes every fleet of the state, which stops its clock.
func (st *state) close() {
	if st.runsDir != "" {
		_ = os.RemoveAll(st.runsDir)
	}
	for _, fv := range st.fleets {
		_ = fv.f.Close()
	}
	st.clock.Stop()
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
