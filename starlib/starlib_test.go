package starlib

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/playbook/fleettest"
)

// newTestThread returns a thread wired to a fresh test fleet (newTestFleet), the fleet's
// clock and a logger. The calling goroutine must be the one that runs the thread.
func newTestThread(t *testing.T) (*starlark.Thread, *fleettest.Fleet, *fakeLogger) {
	t.Helper()
	thread := &starlark.Thread{Name: t.Name(), Print: func(_ *starlark.Thread, msg string) { t.Log(msg) }}
	f, l := newTestFleet(t), &fakeLogger{}
	SetFleet(thread, f)
	SetClock(thread, f.Clock) // the playbook and the fleet share one timeline
	SetLogger(thread, l)
	SetContext(thread, context.Background())
	SetArgs(thread, map[string]string{})
	return thread, f, l
}

// testOptions are the RunOptions of the Starlark tests: the builtins plus the fake module,
// and assert.star.
func testOptions(t *testing.T, f *fleettest.Fleet, l *fakeLogger) RunOptions {
	t.Helper()
	assert, err := starlarktest.LoadAssertModule()
	if err != nil {
		t.Fatal(err)
	}
	pre := Predeclared()
	pre["fake"] = fakeModule(f, l)
	return RunOptions{Predeclared: pre, Modules: map[string]starlark.StringDict{"assert.star": assert}}
}

// TestStarlark runs every testdata/*.star file against the test fleet. Files whose name
// starts with dryrun run with dry-run on for "restart" actions.
func TestStarlark(t *testing.T) {
	files, err := filepath.Glob("testdata/*.star")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.star files")
	}
	for _, file := range files {
		if strings.Contains(filepath.ToSlash(file), "/lib/") {
			continue
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			thread, f, l := newTestThread(t)
			starlarktest.SetReporter(thread, t)
			if strings.HasPrefix(filepath.Base(file), "dryrun") {
				SetDryRun(thread, func(agent, action string) bool { return action == "restart" })
			}
			if _, err := Run(thread, file, nil, testOptions(t, f, l)); err != nil {
				var ee *starlark.EvalError
				if errors.As(err, &ee) {
					t.Fatal(ee.Backtrace())
				}
				t.Fatal(err)
			}
		})
	}
}

func runSrc(t *testing.T, thread *starlark.Thread, src string, f *fleettest.Fleet, l *fakeLogger) error {
	t.Helper()
	_, err := Run(thread, "inline.star", src, testOptions(t, f, l))
	return err
}

func TestFailError(t *testing.T) {
	thread, f, l := newTestThread(t)
	err := runSrc(t, thread, "def main():\n    fail('rollout', 'stopped')\nmain()\n", f, l)
	var fe *FailError
	if !errors.As(err, &fe) {
		t.Fatalf("errors.As(%v, *FailError) = false", err)
	}
	if fe.Msg != "rollout stopped" {
		t.Errorf("Msg = %q, want %q", fe.Msg, "rollout stopped")
	}
	var ee *starlark.EvalError
	if !errors.As(err, &ee) || !strings.Contains(ee.Backtrace(), "inline.star:2:9") {
		t.Errorf("backtrace does not point at the fail() line: %v", err)
	}
	// fail() inside a rolling step still surfaces as a FailError.
	thread, f, l = newTestThread(t)
	err = runSrc(t, thread, "rolling(['a'], lambda b: fail('in step'))\n", f, l)
	if !errors.As(err, &fe) || fe.Msg != "in step" {
		t.Errorf("nested fail: got %v", err)
	}
}

// awaitEnd returns the error of a run that was just cancelled, failing the test unless the
// run ends within 5s.
func awaitEnd(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("the run did not end within 5s of its cancellation")
		return nil
	}
}

// TestCancelWaitUntil cancels a wait_until that sleeps on the real clock from another
// goroutine and checks that it returns promptly.
func TestCancelWaitUntil(t *testing.T) {
	for _, how := range []string{"thread", "context"} {
		t.Run(how, func(t *testing.T) {
			thread, f, l := newTestThread(t)
			SetClock(thread, WallClock{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			SetContext(thread, ctx)
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				done <- runSrc(t, thread, `wait_until(lambda: False, timeout="1h", every="10m")`, f, l)
			}()
			time.Sleep(50 * time.Millisecond)
			if how == "thread" {
				thread.Cancel("interrupted")
			} else {
				cancel()
			}
			err := awaitEnd(t, done)
			if err == nil {
				t.Fatal("wait_until returned no error after cancellation")
			}
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("cancellation took %v", elapsed)
			}
			want := map[string]string{"thread": "cancelled: interrupted", "context": "context canceled"}[how]
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		})
	}
}

func TestMaxExecutionSteps(t *testing.T) {
	thread, f, l := newTestThread(t)
	thread.SetMaxExecutionSteps(10000)
	err := runSrc(t, thread, "n = 0\nwhile True:\n    n += 1\n", f, l)
	if err == nil || !strings.Contains(err.Error(), "too many steps") {
		t.Fatalf("got %v, want too many steps", err)
	}
	// The budget also stops a wait_until whose condition never holds.
	thread, f, l = newTestThread(t)
	thread.SetMaxExecutionSteps(5000)
	err = runSrc(t, thread, `wait_until(lambda: False, timeout="1000h", every="1s")`, f, l)
	if err == nil || !strings.Contains(err.Error(), "too many steps") {
		t.Fatalf("got %v, want too many steps", err)
	}
}

func TestCheckArgs(t *testing.T) {
	thread, f, l := newTestThread(t)
	SetArgs(thread, map[string]string{"window": "3"})
	if err := runSrc(t, thread, "x = 1\n", f, l); err != nil {
		t.Fatal(err)
	}
	if err := CheckArgs(thread); err == nil || !strings.Contains(err.Error(), `"window"`) {
		t.Errorf("CheckArgs = %v, want an error naming window", err)
	}
	thread, f, l = newTestThread(t)
	SetArgs(thread, map[string]string{"window": "3"})
	if err := runSrc(t, thread, "params(window=1)\nassert_window = args.window\n", f, l); err != nil {
		t.Fatal(err)
	}
	if err := CheckArgs(thread); err != nil {
		t.Errorf("CheckArgs after params() = %v", err)
	}
}

func TestEvents(t *testing.T) {
	thread, f, l := newTestThread(t)
	f.Fail("db1")
	f.Silence("db2")
	if err := runSrc(t, thread, "discover('role=db')\nrpc('rpcutil', 'ping', filter='role=db')\n", f, l); err != nil {
		t.Fatal(err)
	}
	if len(l.events) != 2 {
		t.Fatalf("got %d events, want 2", len(l.events))
	}
	d, r := l.events[0], l.events[1]
	if d.Kind != "discover" || len(d.Targets) != 3 || d.Filter != "fact role=db" {
		t.Errorf("discover event = %+v", d)
	}
	if r.Kind != "rpc" || r.Agent != "rpcutil" || r.Action != "ping" || len(r.Targets) != 3 ||
		len(r.OK) != 1 || len(r.Failed) != 1 || len(r.Missing) != 1 {
		t.Errorf("rpc event = %+v", r)
	}
	// on the fleet's clock: discovery ends at its 300ms least wait; the rpc discovers again,
	// then waits its whole reply timeout for the silent db2 (rpcutil's 10s plus 2s)
	if d.Duration != 300*time.Millisecond || r.Duration != 12300*time.Millisecond {
		t.Errorf("durations: discover %v, rpc %v; want 300ms and 12.3s", d.Duration, r.Duration)
	}
}

// TestFleetErrors checks that a discover or rpc the fleet cannot complete fails with the
// fleet's error and records it in its event: here the calls hang until the run's context is
// cancelled.
func TestFleetErrors(t *testing.T) {
	for _, src := range []string{"discover('role=db')\n", "rpc('rpcutil', 'ping', filter='role=db')\n"} {
		kind := strings.SplitN(src, "(", 2)[0]
		t.Run(kind, func(t *testing.T) {
			thread, f, l := newTestThread(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			SetContext(thread, ctx)
			f.Block()
			done := make(chan error, 1)
			go func() { done <- runSrc(t, thread, src, f, l) }()
			select {
			case <-f.Entered():
			case <-time.After(5 * time.Second):
				t.Fatal("the call never reached the fleet")
			}
			cancel()
			err := awaitEnd(t, done)
			if err == nil || !strings.Contains(err.Error(), kind+": ") || !strings.Contains(err.Error(), "context canceled") {
				t.Fatalf("err = %v, want the %s's context error", err, kind)
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			if len(l.events) != 1 || l.events[0].Kind != kind || !strings.Contains(l.events[0].Err, "context canceled") {
				t.Errorf("events = %+v, want one %s event with the error", l.events, kind)
			}
		})
	}
}

// cutFleet is a fleet whose calls end with an error after some replies, as the client's
// do when the broker goes away or the run is interrupted mid-call.
type cutFleet struct{ *fleettest.Fleet }

func (f cutFleet) Call(ctx context.Context, agent, action string, args map[string]any, opts client.CallOptions) (*client.Results, error) {
	res, err := f.Fleet.Call(ctx, agent, action, args, opts)
	if err != nil {
		return nil, err
	}
	return res, errors.New("connection lost")
}

// TestEventsCutCall checks that the event of an rpc that fails part-way keeps the replies it
// got, so that the run report records them.
func TestEventsCutCall(t *testing.T) {
	thread, f, l := newTestThread(t)
	SetFleet(thread, cutFleet{f})
	f.Fail("db1")
	f.Silence("db2")
	err := runSrc(t, thread, "rpc('rpcutil', 'ping', filter='role=db')\n", f, l)
	if err == nil || !strings.Contains(err.Error(), "rpc: rpcutil.ping: connection lost") {
		t.Fatalf("err = %v, want the call's error", err)
	}
	if len(l.events) != 1 {
		t.Fatalf("got %d events, want 1", len(l.events))
	}
	if r := l.events[0]; r.Err == "" || len(r.Targets) != 3 || len(r.OK) != 1 || len(r.Failed) != 1 || len(r.Missing) != 1 {
		t.Errorf("rpc event = %+v, want 3 targets, 1 ok, 1 failed, 1 missing and the error", r)
	}
}

func TestConvertRoundTrip(t *testing.T) {
	in := map[string]any{"a": int64(1), "b": []any{"x", 2.5, true, nil}, "c": map[string]any{"d": "e"}}
	v, err := ToStarlark(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := FromStarlark(v)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.String(), `{"a": 1, "b": ["x", 2.5, True, None], "c": {"d": "e"}}`; got != want {
		t.Errorf("ToStarlark = %s, want %s", got, want)
	}
	if m := out.(map[string]any); m["a"] != int64(1) || m["c"].(map[string]any)["d"] != "e" {
		t.Errorf("FromStarlark = %#v", out)
	}
	if _, err := ToStarlark(struct{}{}); err == nil {
		t.Error("ToStarlark(struct{}{}) did not fail")
	}
	if _, err := FromStarlark(starlark.NewDict(0)); err != nil {
		t.Error(err)
	}
}

// TestParams keeps the parameter table of static checks in step with the builtins: each
// listed keyword is accepted (whatever else goes wrong with the call) and one not listed is
// rejected.
func TestParams(t *testing.T) {
	pre := Predeclared()
	lookup := func(name string) starlark.Callable {
		if fn, method, ok := strings.Cut(name, "."); ok {
			v, err := pre[fn].(starlark.HasAttrs).Attr(method)
			if err != nil || v == nil {
				t.Fatalf("%s: no such builtin", name)
			}
			return v.(starlark.Callable)
		}
		return pre[name].(starlark.Callable)
	}
	for _, e := range HelpEntries() {
		name := e.Name
		if _, ok := Params(name); !ok || name == "help" {
			continue // takes any keyword, or not a playbook builtin
		}
		t.Run(name, func(t *testing.T) {
			params, ok := Params(name)
			if !ok {
				t.Fatalf("Params(%q) not found", name)
			}
			fn := lookup(name)
			call := func(kw string) error {
				thread, _, _ := newTestThread(t)
				kwargs := []starlark.Tuple{{starlark.String(kw), starlark.MakeInt(-1)}}
				_, err := starlark.Call(thread, fn, nil, kwargs)
				return err
			}
			for _, p := range params {
				if err := call(p); err != nil && strings.Contains(err.Error(), "unexpected keyword") {
					t.Errorf("%s rejects its listed keyword %q: %v", name, p, err)
				}
			}
			if err := call("no_such_param"); err == nil || !strings.Contains(err.Error(), "unexpected keyword") {
				t.Errorf("%s(no_such_param=...): got %v, want an unexpected keyword error", name, err)
			}
		})
	}
	for _, name := range []string{"log", "params", "struct"} {
		if _, ok := Params(name); ok {
			t.Errorf("Params(%q): it takes any keyword", name)
		}
	}
}
