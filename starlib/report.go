package starlib

import (
	"fmt"
	"maps"
	"sync"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// reportKey is the thread-local key of a run's report data.
const reportKey = "mcorun.report"

// reportData is what a playbook attached to its report with report.set.
type reportData struct {
	mu sync.Mutex
	m  map[string]any
}

// newReportModule returns the predeclared report: report.set(key, value) attaches data to
// the run's report, report.get(key, default=None) reads it back.
func newReportModule() *starlarkstruct.Module {
	return &starlarkstruct.Module{Name: "report", Members: starlark.StringDict{
		"set": starlark.NewBuiltin("report.set", reportSet),
		"get": starlark.NewBuiltin("report.get", reportGet),
	}}
}

func threadReport(thread *starlark.Thread) *reportData {
	if d, _ := thread.Local(reportKey).(*reportData); d != nil {
		return d
	}
	d := &reportData{m: map[string]any{}}
	thread.SetLocal(reportKey, d)
	return d
}

// ReportData returns a copy of what the playbook run on thread attached with report.set:
// plain Go data (value.Plain's types, durations as strings such as "1m30s").
func ReportData(thread *starlark.Thread) map[string]any {
	d, _ := thread.Local(reportKey).(*reportData)
	if d == nil {
		return map[string]any{}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.m)
}

func reportSet(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key string
	var v starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key, "value", &v); err != nil {
		return nil, err
	}
	if key == "" {
		return nil, fmt.Errorf("report.set: the key is empty; name the value, e.g. report.set(\"restarted\", rs.ok.nodes)")
	}
	x, err := FromStarlark(v)
	if err != nil {
		return nil, fmt.Errorf("report.set: %s: %w; attach plain data: numbers, strings, lists, dicts, NodeSets, durations", key, err)
	}
	d := threadReport(thread)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m[key] = reportValue(x)
	return starlark.None, nil
}

func reportGet(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key string
	var def starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key, "default?", &def); err != nil {
		return nil, err
	}
	d := threadReport(thread)
	d.mu.Lock()
	v, ok := d.m[key]
	d.mu.Unlock()
	if !ok {
		return def, nil
	}
	return ToStarlark(v)
}

// reportValue is x as the report's JSON shows it: durations as their text.
func reportValue(x any) any {
	switch t := x.(type) {
	case time.Duration:
		return t.String()
	case []any:
		for i, e := range t {
			t[i] = reportValue(e)
		}
	case map[string]any:
		for k, e := range t {
			t[k] = reportValue(e)
		}
	case []string:
		out := make([]any, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out
	}
	return x
}
