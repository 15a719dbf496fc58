package starlib

import (
	"fmt"
	"slices"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/mcorun/mcorun/runtime/client"

	"github.com/mcorun/mcorun/runtime/plural"
)

// RollingReport is what rolling() returns.
//
// Starlark: .done, .failed, .missing, .skipped (NodeSets), .ok (bool: every node done, none
// failed, missing or skipped), .completed (bool: no batch was left out), .stopped (the
// reason rolling stopped early, or None), .total (int) and .batches, a list of structs with
// index, kind ("canary" or "batch"), nodes, done, failed, missing and gate (True, False, or
// None without a gate). It is true when ok.
type RollingReport struct {
	Done, Failed, Missing, Skipped *NodeSet
	Batches                        []BatchReport
	Stopped                        string // empty when every batch ran
	Total                          int
}

// BatchReport is one step of a rolling run.
type BatchReport struct {
	Index                        int    // 1-based
	Kind                         string // "canary" or "batch"
	Nodes, Done, Failed, Missing *NodeSet
	Gate                         *bool // nil without a gate
}

var _ starlark.HasAttrs = (*RollingReport)(nil)

// OK reports whether every node was done.
func (r *RollingReport) OK() bool {
	return r.Failed.Len() == 0 && r.Missing.Len() == 0 && r.Skipped.Len() == 0
}

// String returns a repr such as RollingReport(ok: 10 done, 0 failed, 0 missing, 0 skipped in 4 batches).
func (r *RollingReport) String() string {
	state := "ok"
	switch {
	case r.Stopped != "":
		state = "stopped: " + r.Stopped
	case !r.OK():
		state = "completed with failures"
	}
	return fmt.Sprintf("RollingReport(%s; %d done, %d failed, %d missing, %d skipped in %s)",
		state, r.Done.Len(), r.Failed.Len(), r.Missing.Len(), r.Skipped.Len(), plural.Count(len(r.Batches), "batch", "batches"))
}

// Type implements starlark.Value.
func (r *RollingReport) Type() string { return "RollingReport" }

// Freeze implements starlark.Value; a RollingReport is immutable.
func (r *RollingReport) Freeze() {}

// Truth implements starlark.Value: true when ok.
func (r *RollingReport) Truth() starlark.Bool { return starlark.Bool(r.OK()) }

// Hash implements starlark.Value: reports are not hashable.
func (r *RollingReport) Hash() (uint32, error) {
	return 0, fmt.Errorf("unhashable type: RollingReport")
}

// Attr implements starlark.HasAttrs.
func (r *RollingReport) Attr(name string) (starlark.Value, error) {
	switch name {
	case "done":
		return r.Done, nil
	case "failed":
		return r.Failed, nil
	case "missing":
		return r.Missing, nil
	case "skipped":
		return r.Skipped, nil
	case "ok":
		return starlark.Bool(r.OK()), nil
	case "completed":
		return starlark.Bool(r.Stopped == ""), nil
	case "stopped":
		if r.Stopped == "" {
			return starlark.None, nil
		}
		return starlark.String(r.Stopped), nil
	case "total":
		return starlark.MakeInt(r.Total), nil
	case "batches":
		list := make([]starlark.Value, len(r.Batches))
		for i, b := range r.Batches {
			var gate starlark.Value = starlark.None
			if b.Gate != nil {
				gate = starlark.Bool(*b.Gate)
			}
			s := starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
				"index": starlark.MakeInt(b.Index), "kind": starlark.String(b.Kind), "nodes": b.Nodes,
				"done": b.Done, "failed": b.Failed, "missing": b.Missing, "gate": gate,
			})
			list[i] = s
		}
		l := starlark.NewList(list)
		l.Freeze()
		return l, nil
	}
	return nil, nil
}

// AttrNames implements starlark.HasAttrs.
func (r *RollingReport) AttrNames() []string {
	return []string{"batches", "completed", "done", "failed", "missing", "ok", "skipped", "stopped", "total"}
}

// rolling(nodes, step, *, window=1, canaries=0, batch=None, max_failures=0, sleep="0s", gate=None)
func rolling(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		nodes       nodesArg
		step        starlark.Callable
		window      = optInt(1)
		canaries    optInt
		batch       countArg
		maxFailures countArg
		pause       Duration
		gate        starlark.Value = starlark.None
	)
	if err := maxPositional(b, args, 2); err != nil {
		return nil, err
	}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "nodes", &nodes, "step", &step, "window?", &window,
		"canaries?", &canaries, "batch?", &batch, "max_failures?", &maxFailures, "sleep?", &pause,
		"gate?", &gate); err != nil {
		return nil, err
	}
	if !nodes.set {
		return nil, fmt.Errorf("rolling: nodes: want NodeSet or list of identities, got None")
	}
	gateFn, hasGate := gate.(starlark.Callable)
	if gate != starlark.None && !hasGate {
		return nil, fmt.Errorf("rolling: gate: want callable or None, got %s", gate.Type())
	}
	if window < 1 {
		return nil, fmt.Errorf("rolling: window must be at least 1, got %d", window)
	}
	if canaries < 0 {
		return nil, fmt.Errorf("rolling: canaries must be >= 0, got %d", canaries)
	}
	all := nodes.nodes.IDs()
	size := int(min(window, optInt(max(len(all), 1))))
	if batch.s != "" {
		if size = batch.of(len(all)); size < 1 {
			return nil, fmt.Errorf("rolling: batch must be at least 1, got %s", batch.s)
		}
	}
	type group struct {
		kind string
		ids  []string
	}
	var groups []group
	nc := int(min(canaries, optInt(len(all))))
	if nc > 0 {
		groups = append(groups, group{"canary", all[:nc]})
	}
	for _, c := range NewNodeSet(all[nc:]).Batches(size) {
		groups = append(groups, group{"batch", c.IDs()})
	}
	exceeded := func(failures int) bool { return maxFailures.size.Exceeds(failures, len(all)) }

	logger := loggerOf(thread)
	rep := &RollingReport{Total: len(all)}
	var done, failed, missing, skipped []string
	failures := 0
	for i, g := range groups {
		if rep.Stopped != "" {
			skipped = append(skipped, g.ids...)
			continue
		}
		if i > 0 && pause > 0 {
			if err := sleepFor(thread, time.Duration(pause)); err != nil {
				return nil, fmt.Errorf("rolling: %w", err)
			}
		}
		set := &NodeSet{ids: g.ids}
		if bl, ok := logger.(BatchLogger); ok {
			bl.BatchStart(BatchReport{Index: i + 1, Kind: g.kind, Nodes: set})
		}
		v, err := starlark.Call(thread, step, starlark.Tuple{set}, nil)
		if err != nil {
			return nil, err
		}
		br := BatchReport{Index: i + 1, Kind: g.kind, Nodes: set}
		switch x := v.(type) {
		case *ResultSet:
			br.Failed = NewNodeSet(senders(x.res.Failed)).filter(set.Contains)
			br.Missing = NewNodeSet(x.res.Missing).filter(set.Contains)
		case starlark.NoneType:
		case starlark.Bool:
			if !x {
				br.Failed = set
			}
		case *starlarkstruct.Struct:
			if br.Failed, br.Missing, err = stepOutcome(x, set); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("rolling: step must return a ResultSet, struct, bool or None, got %s", v.Type())
		}
		if br.Failed == nil {
			br.Failed = NewNodeSet(nil)
		}
		if br.Missing == nil {
			br.Missing = NewNodeSet(nil)
		}
		if hasGate {
			gv, err := starlark.Call(thread, gateFn, starlark.Tuple{set}, nil)
			if err != nil {
				return nil, err
			}
			passed := bool(gv.Truth())
			br.Gate = &passed
			if !passed {
				br.Failed = set.filter(func(id string) bool { return !br.Missing.Contains(id) })
				rep.Stopped = fmt.Sprintf("gate failed after batch %d", br.Index)
			}
		}
		br.Done = set.filter(func(id string) bool { return !br.Failed.Contains(id) && !br.Missing.Contains(id) })
		done = append(done, br.Done.ids...)
		failed = append(failed, br.Failed.ids...)
		missing = append(missing, br.Missing.ids...)
		failures += br.Failed.Len() + br.Missing.Len()
		rep.Batches = append(rep.Batches, br)
		logger.Log(fmt.Sprintf("rolling: %s %d/%d", g.kind, i+1, len(groups)), map[string]any{
			"nodes": set.Len(), "done": br.Done.Len(), "failed": br.Failed.Len(), "missing": br.Missing.Len()})
		switch {
		case rep.Stopped != "":
		case g.kind == "canary" && br.Failed.Len()+br.Missing.Len() > 0:
			rep.Stopped = "canary failed"
		case exceeded(failures):
			rep.Stopped = fmt.Sprintf("%s %s max_failures %s", plural.Count(failures, "failure", "failures"), plural.Word(failures, "exceeds", "exceed"), maxFailuresString(maxFailures))
		}
		if bl, ok := logger.(BatchLogger); ok {
			bl.Batch(br, rep.Stopped)
		}
	}
	rep.Done, rep.Failed, rep.Missing, rep.Skipped = NewNodeSet(done), NewNodeSet(failed), NewNodeSet(missing), NewNodeSet(skipped)
	if rep.Stopped != "" {
		logger.Log("rolling: stopped: "+rep.Stopped, map[string]any{"skipped": rep.Skipped.Len()})
	}
	return rep, nil
}

// stepOutcome reads a step's struct(failed=..., missing=...): each field, when present, names
// nodes (a NodeSet, a list of identities or a ResultSet's repliers); nodes outside the batch
// are ignored.
func stepOutcome(x *starlarkstruct.Struct, batch *NodeSet) (failed, missing *NodeSet, _ error) {
	get := func(name string) (*NodeSet, error) {
		if !slices.Contains(x.AttrNames(), name) {
			return NewNodeSet(nil), nil
		}
		v, err := x.Attr(name)
		if err != nil {
			return nil, fmt.Errorf("rolling: step result: %w", err)
		}
		var n nodesArg
		if err := n.Unpack(v); err != nil {
			return nil, fmt.Errorf("rolling: step result .%s: %w", name, err)
		}
		if !n.set {
			return NewNodeSet(nil), nil
		}
		return n.nodes.filter(batch.Contains), nil
	}
	failed, err := get("failed")
	if err != nil {
		return nil, nil, err
	}
	if missing, err = get("missing"); err != nil {
		return nil, nil, err
	}
	return failed, missing.filter(func(id string) bool { return !failed.Contains(id) }), nil
}

func maxFailuresString(c countArg) string {
	if c.s == "" {
		return "0"
	}
	return c.s
}

func senders(rs []client.Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Sender
	}
	return out
}
