package startest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	startime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/starlarktest"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/journal"
	"github.com/mcorun/mcorun/runtime/playbook"
	"github.com/mcorun/mcorun/runtime/playbook/fleettest"
	"github.com/mcorun/mcorun/starlib"
)

// run_playbook(path, args={}, *, dry_run=False, kill_after=None)
func runPlaybook(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		path      string
		pbArgs    *starlark.Dict
		dryRun    bool
		killAfter int
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "args?", &pbArgs, "dry_run?", &dryRun,
		"kill_after?", &killAfter); err != nil {
		return nil, err
	}
	raw, err := rawArgs(pbArgs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return playRun(thread, b, path, playbook.Options{Args: raw, DryRun: dryRun}, killAfter)
}

// resume_playbook(path, run_id, *, retry_failed=False, force=False, dry_run=False, kill_after=None)
func resumePlaybook(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		path, id                   string
		retryFailed, force, dryRun bool
		killAfter                  int
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "run_id", &id, "retry_failed?", &retryFailed,
		"force?", &force, "dry_run?", &dryRun, "kill_after?", &killAfter); err != nil {
		return nil, err
	}
	st, err := stateOf(thread, b.Name())
	if err != nil {
		return nil, err
	}
	dir, err := journal.RunDir(st.runs(), id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	j, err := journal.ReadFile(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return playRun(thread, b, path, playbook.Options{Args: j.Header.Args,
		Resume: &playbook.Resume{ID: id, Journal: j, RetryFailed: retryFailed, Force: force, DryRun: dryRun}}, killAfter)
}

// killFleet interrupts a run, as SIGTERM does, once its n-th rpc call has returned.
type killFleet struct {
	starlib.Fleet
	n, calls int
	cancel   context.CancelFunc
}

func (k *killFleet) Call(ctx context.Context, agent, action string, args map[string]any, opts client.CallOptions) (*client.Results, error) {
	res, err := k.Fleet.Call(ctx, agent, action, args, opts)
	if k.calls++; k.calls == k.n {
		k.cancel()
	}
	return res, err
}

// playRun runs (or resumes) a playbook of a test on the test's fleet and clock, with a
// journal in the test's runs directory, and returns its result struct.
func playRun(thread *starlark.Thread, b *starlark.Builtin, path string, o playbook.Options, killAfter int) (starlark.Value, error) {
	st, err := stateOf(thread, b.Name())
	if err != nil {
		return nil, err
	}
	file := callerRelative(thread, st, path)
	before := len(st.fleet.f.Calls())
	var stdout, stderr bytes.Buffer
	ctx := st.ctx
	o.File, o.Fleet, o.NoLock, o.Stdout, o.Stderr, o.Clock, o.Journal = file, st.fleet.f, true, &stdout, &stderr, st.clock, st.runs()
	if killAfter > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		o.Fleet = &killFleet{Fleet: st.fleet.f, n: killAfter, cancel: cancel}
	}
	out := playbook.Run(ctx, o)
	if out.ExitCode == playbook.ExitUsage && out.Err != nil && strings.HasPrefix(out.Err.Error(), "playbook: open ") {
		return nil, fmt.Errorf("%s: %w", b.Name(), out.Err)
	}
	// the run's output joins the test's, shown when the test fails or with -v
	if thread.Print != nil {
		for _, text := range []string{stdout.String(), stderr.String()} {
			if text = strings.TrimRight(text, "\n"); text != "" {
				thread.Print(thread, text)
			}
		}
	}
	report, err := reportValue(out.Report)
	if err != nil {
		return nil, fmt.Errorf("%s: report: %w", b.Name(), err)
	}
	calls, err := callsOf(st.fleet.f.Calls()[before:], starlark.NewBuiltin("calls", nil), nil, nil)
	if err != nil {
		return nil, err
	}
	replayed, err := replayedCalls(out.Report.Journal)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	var errVal starlark.Value = starlark.None
	if out.Err != nil {
		errVal = starlark.String(out.Err.Error())
	}
	return starlarkstruct.FromStringDict(starlark.String("result"), starlark.StringDict{
		"exit_code": starlark.MakeInt(out.ExitCode),
		"ok":        starlark.Bool(out.ExitCode == playbook.ExitOK),
		"error":     errVal,
		"stdout":    starlark.String(stdout.String()),
		"stderr":    starlark.String(stderr.String()),
		"report":    report,
		"calls":     calls,
		"run_id":    starlark.String(out.Report.RunID),
		"replayed":  replayed,
	}), nil
}

// replayedCalls lists the calls a resumed run answered from the journal, as calls() shows
// calls; none for a run that resumed nothing (or wrote no journal).
func replayedCalls(dir string) (starlark.Value, error) {
	var out []fleettest.Call
	if dir != "" {
		j, err := journal.ReadFile(dir)
		if err != nil {
			return nil, err
		}
		for _, r := range j.Records {
			if r.Type != journal.TypeDone || !r.Replayed {
				continue
			}
			c := fleettest.Call{Kind: r.Call.Kind, Agent: r.Call.Agent, Action: r.Call.Action, Nodes: r.Call.Nodes}
			if r.Outcome != nil {
				c.Targets = r.Outcome.Targets
			}
			if v, err := journal.DecodeValue(r.Call.Args); err == nil {
				c.Args, _ = v.(map[string]any)
			}
			out = append(out, c)
		}
	}
	return callsOf(out, starlark.NewBuiltin("replayed", nil), nil, nil)
}

// load_playbook(path, args={})
func loadPlaybook(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	st, err := stateOf(thread, b.Name())
	if err != nil {
		return nil, err
	}
	var (
		path   string
		pbArgs *starlark.Dict
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "args?", &pbArgs); err != nil {
		return nil, err
	}
	raw, err := rawArgs(pbArgs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	file := callerRelative(thread, st, path)
	// A thread of its own, sharing the test's fleet, clock, output and reporter, so that the
	// playbook's params() and load() state stay apart from the test's.
	pt := st.thread("load_playbook " + file)
	pt.Print = thread.Print
	if r, ok := thread.Local(stateReporterKey).(starlarktest.Reporter); ok {
		starlarktest.SetReporter(pt, r)
	}
	starlib.SetArgs(pt, raw)
	globals, err := starlib.Run(pt, file, nil, runOptions())
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", b.Name(), path, err)
	}
	if err := starlib.CheckArgs(pt); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", b.Name(), path, err)
	}
	return starlarkstruct.FromStringDict(starlark.String("playbook"), globals), nil
}

// callerRelative resolves path against the directory of the file that calls the builtin.
func callerRelative(thread *starlark.Thread, st *state, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	from := st.file
	if thread.CallStackDepth() > 1 {
		from = thread.CallFrame(1).Pos.Filename()
	}
	return filepath.Join(filepath.Dir(from), path)
}

// rawArgs turns the args dict into --arg k=v strings.
func rawArgs(d *starlark.Dict) (map[string]string, error) {
	raw := map[string]string{}
	if d == nil {
		return raw, nil
	}
	for _, kv := range d.Items() {
		k, ok := starlark.AsString(kv[0])
		if !ok {
			return nil, fmt.Errorf("args: want string keys, got %s", kv[0].Type())
		}
		s, err := argString(kv[1])
		if err != nil {
			return nil, fmt.Errorf("args: %s: %w", k, err)
		}
		raw[k] = s
	}
	return raw, nil
}

func argString(v starlark.Value) (string, error) {
	switch x := v.(type) {
	case starlark.String:
		return string(x), nil
	case starlark.Bool:
		return strconv.FormatBool(bool(x)), nil
	case starlark.Int, starlark.Float:
		return x.String(), nil
	case startime.Duration:
		return time.Duration(x).String(), nil
	case *starlark.List, starlark.Tuple:
		items, err := stringList("list", x)
		if err != nil {
			return "", err
		}
		return strings.Join(items, ","), nil
	}
	return "", fmt.Errorf("want a string, int, float, bool or list of strings, got %s", v.Type())
}

// reportValue converts the report to Starlark through its JSON form, keeping integers.
func reportValue(rep *playbook.Report) (starlark.Value, error) {
	b, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return starlib.ToStarlark(numbers(v))
}

// numbers replaces json.Number values by int64 or float64.
func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	}
	return v
}

// elapsed()
func elapsedBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	st, err := stateOf(thread, b.Name())
	if err != nil {
		return nil, err
	}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	return startime.Duration(st.clock.Elapsed()), nil
}

// advance(duration)
func advanceBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	st, err := stateOf(thread, b.Name())
	if err != nil {
		return nil, err
	}
	var d starlib.Duration
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "duration", &d); err != nil {
		return nil, err
	}
	if d < 0 {
		return nil, fmt.Errorf("%s: want a duration of at least 0", b.Name())
	}
	if err := st.clock.Sleep(st.ctx, time.Duration(d)); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.None, nil
}
