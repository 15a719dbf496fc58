package startest

import (
	"bytes"
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

	"github.com/mcorun/mcorun/runtime/playbook"
	"github.com/mcorun/mcorun/starlib"
)

// run_playbook(path, args={}, *, dry_run=False)
func runPlaybook(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	st, err := stateOf(thread, b.Name())
	if err != nil {
		return nil, err
	}
	var (
		path   string
		pbArgs *starlark.Dict
		dryRun bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "args?", &pbArgs, "dry_run?", &dryRun); err != nil {
		return nil, err
	}
	raw, err := rawArgs(pbArgs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	file := callerRelative(thread, st, path)
	before := len(st.fleet.f.Calls())
	var stdout, stderr bytes.Buffer
	out := playbook.Run(st.ctx, playbook.Options{
		File: file, Args: raw, Fleet: st.fleet.f, DryRun: dryRun, NoLock: true,
		Stdout: &stdout, Stderr: &stderr, Clock: st.clock,
	})
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
	}), nil
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
