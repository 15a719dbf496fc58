package starlib

import (
	"fmt"
	"slices"
	"strings"

	startime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/mcorun/mcorun/runtime/client"

	"github.com/mcorun/mcorun/runtime/plural"
)

// ResultSet is the outcome of one rpc() call: every reply, sorted by sender, plus the nodes
// that never replied.
//
// Starlark: len(rs) (replies), for r in rs, rs[i], "id" in rs (replied), and the attributes
// .ok and .failed (ResultSets of the successful and failed replies), .missing (NodeSet:
// targeted, no reply), .missing_reasons (dict: missing identity -> "no reply", "broker
// connection lost" or "not sent"), .lost (NodeSet: missing because the broker connection
// dropped while their replies were due; the request went out at most once), .nodes (NodeSet: replied), .targets (NodeSet), .all_ok (bool: every
// target replied successfully), .agent, .action, .elapsed (time.duration), and the methods
// .summary(field) -> dict value->count, .sum(field), .average(field) -> float or None,
// .get(identity) -> Result or None. It is true when it holds at least one reply.
type ResultSet struct {
	res    *client.Results
	all    []*Result // OK and Failed merged, sorted by sender
	dryRun bool      // a dry run did not send the call: every reply is made up
}

var (
	_ starlark.Indexable = (*ResultSet)(nil)
	_ starlark.Sequence  = (*ResultSet)(nil)
	_ starlark.Container = (*ResultSet)(nil)
	_ starlark.HasAttrs  = (*ResultSet)(nil)
)

// NewResultSet wraps the results of a call. Reply data that does not convert to Starlark
// fails.
func NewResultSet(res *client.Results) (*ResultSet, error) {
	rs := &ResultSet{res: res}
	for _, group := range [][]client.Result{res.OK, res.Failed} {
		for _, r := range group {
			sr, err := NewResult(r)
			if err != nil {
				return nil, err
			}
			rs.all = append(rs.all, sr)
		}
	}
	slices.SortStableFunc(rs.all, func(a, b *Result) int { return strings.Compare(a.r.Sender, b.r.Sender) })
	return rs, nil
}

// Results returns the underlying call results. The caller must not change them.
func (rs *ResultSet) Results() *client.Results { return rs.res }

// sub is a ResultSet of some replies of rs, with no missing nodes.
func (rs *ResultSet) sub(keep func(*Result) bool) *ResultSet {
	out := &ResultSet{res: &client.Results{Agent: rs.res.Agent, Action: rs.res.Action,
		RequestID: rs.res.RequestID, Discovery: rs.res.Discovery, Elapsed: rs.res.Elapsed},
		dryRun: rs.dryRun}
	for _, r := range rs.all {
		if !keep(r) {
			continue
		}
		out.all = append(out.all, r)
		out.res.Targets = append(out.res.Targets, r.r.Sender)
		if r.r.OK() {
			out.res.OK = append(out.res.OK, r.r)
		} else {
			out.res.Failed = append(out.res.Failed, r.r)
		}
	}
	return out
}

func (rs *ResultSet) replied() *NodeSet {
	ids := make([]string, len(rs.all))
	for i, r := range rs.all {
		ids[i] = r.r.Sender
	}
	return NewNodeSet(ids)
}

// String returns a repr such as ResultSet(rpcutil.ping: 3 targets, 2 ok, 0 failed, 1 missing),
// or ResultSet(service.restart: dry run, 3 would run) for a call a dry run did not send.
func (rs *ResultSet) String() string {
	if rs.dryRun {
		return fmt.Sprintf("ResultSet(%s.%s: dry run, %d would run)", rs.res.Agent, rs.res.Action, len(rs.res.OK))
	}
	return fmt.Sprintf("ResultSet(%s.%s: %s, %d ok, %d failed, %d missing)",
		rs.res.Agent, rs.res.Action, plural.Count(len(rs.res.Targets), "target", "targets"), len(rs.res.OK), len(rs.res.Failed), len(rs.res.Missing))
}

// Type implements starlark.Value.
func (rs *ResultSet) Type() string { return "ResultSet" }

// Freeze implements starlark.Value; a ResultSet is immutable.
func (rs *ResultSet) Freeze() {}

// Truth implements starlark.Value: true when there is at least one reply.
func (rs *ResultSet) Truth() starlark.Bool { return len(rs.all) > 0 }

// Hash implements starlark.Value: ResultSets are not hashable.
func (rs *ResultSet) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: ResultSet") }

// Len implements starlark.Sequence.
func (rs *ResultSet) Len() int { return len(rs.all) }

// Index implements starlark.Indexable.
func (rs *ResultSet) Index(i int) starlark.Value { return rs.all[i] }

// Iterate implements starlark.Iterable.
func (rs *ResultSet) Iterate() starlark.Iterator { return &resultIter{all: rs.all} }

// Has implements starlark.Container: whether identity replied.
func (rs *ResultSet) Has(x starlark.Value) (bool, error) {
	id, ok := x.(starlark.String)
	if !ok {
		return false, fmt.Errorf("in ResultSet: want string, got %s", x.Type())
	}
	return rs.find(string(id)) != nil, nil
}

func (rs *ResultSet) find(id string) *Result {
	i, ok := slices.BinarySearchFunc(rs.all, id, func(r *Result, id string) int { return strings.Compare(r.r.Sender, id) })
	if !ok {
		return nil
	}
	return rs.all[i]
}

var resultSetMethods = map[string]*starlark.Builtin{
	"summary": starlark.NewBuiltin("summary", resultSetSummary),
	"sum":     starlark.NewBuiltin("sum", resultSetSum),
	"average": starlark.NewBuiltin("average", resultSetAverage),
	"get":     starlark.NewBuiltin("get", resultSetGet),
}

// Attr implements starlark.HasAttrs.
func (rs *ResultSet) Attr(name string) (starlark.Value, error) {
	switch name {
	case "ok":
		return rs.sub(func(r *Result) bool { return r.r.OK() }), nil
	case "failed":
		return rs.sub(func(r *Result) bool { return !r.r.OK() }), nil
	case "missing":
		return NewNodeSet(rs.res.Missing), nil
	case "missing_reasons":
		d := starlark.NewDict(len(rs.res.Missing))
		for _, n := range rs.res.Missing {
			_ = d.SetKey(starlark.String(n), starlark.String(rs.res.Reason(n)))
		}
		d.Freeze()
		return d, nil
	case "lost":
		var lost []string
		for _, n := range rs.res.Missing {
			if rs.res.Reason(n) == client.ReasonConnectionLost {
				lost = append(lost, n)
			}
		}
		return NewNodeSet(lost), nil
	case "nodes":
		return rs.replied(), nil
	case "targets":
		return NewNodeSet(rs.res.Targets), nil
	case "all_ok":
		return starlark.Bool(len(rs.res.Failed) == 0 && len(rs.res.Missing) == 0), nil
	case "agent":
		return starlark.String(rs.res.Agent), nil
	case "action":
		return starlark.String(rs.res.Action), nil
	case "elapsed":
		return startime.Duration(rs.res.Elapsed), nil
	case "batches":
		list := make([]starlark.Value, len(rs.res.Batches))
		for i, b := range rs.res.Batches {
			list[i] = NewNodeSet(b)
		}
		return starlark.NewList(list), nil
	}
	if m, ok := resultSetMethods[name]; ok {
		return m.BindReceiver(rs), nil
	}
	return nil, nil
}

// AttrNames implements starlark.HasAttrs.
func (rs *ResultSet) AttrNames() []string {
	return []string{"action", "agent", "all_ok", "average", "batches", "elapsed", "failed", "get", "lost", "missing",
		"missing_reasons", "nodes", "ok", "sum", "summary", "targets"}
}

func resultSetSummary(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var field string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "field", &field); err != nil {
		return nil, err
	}
	rs := b.Receiver().(*ResultSet)
	counts := starlark.NewDict(0)
	for _, r := range rs.all {
		v, ok := r.field(field)
		if !ok || v == starlark.None {
			continue
		}
		if _, err := v.Hash(); err != nil {
			v = starlark.String(v.String()) // lists and dicts count by their repr
		}
		n, found, err := counts.Get(v)
		if err != nil {
			return nil, fmt.Errorf("summary: %w", err)
		}
		c := 0
		if found {
			c, _ = starlark.AsInt32(n)
		}
		if err := counts.SetKey(v, starlark.MakeInt(c+1)); err != nil {
			return nil, fmt.Errorf("summary: %w", err)
		}
	}
	return counts, nil
}

// numbers collects the numeric values of field across the replies, skipping None.
func (rs *ResultSet) numbers(fn, field string) ([]starlark.Value, error) {
	var out []starlark.Value
	for _, r := range rs.all {
		v, ok := r.field(field)
		if !ok || v == starlark.None {
			continue
		}
		switch v.(type) {
		case starlark.Int, starlark.Float:
			out = append(out, v)
		default:
			return nil, fmt.Errorf("%s: %s of %s: want number, got %s", fn, field, r.r.Sender, v.Type())
		}
	}
	return out, nil
}

func resultSetSum(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var field string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "field", &field); err != nil {
		return nil, err
	}
	nums, err := b.Receiver().(*ResultSet).numbers("sum", field)
	if err != nil {
		return nil, err
	}
	var total starlark.Value = starlark.MakeInt(0)
	for _, n := range nums {
		if total, err = starlark.Binary(syntax.PLUS, total, n); err != nil {
			return nil, fmt.Errorf("sum: %w", err)
		}
	}
	return total, nil
}

func resultSetAverage(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var field string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "field", &field); err != nil {
		return nil, err
	}
	nums, err := b.Receiver().(*ResultSet).numbers("average", field)
	if err != nil {
		return nil, err
	}
	if len(nums) == 0 {
		return starlark.None, nil
	}
	var total float64
	for _, n := range nums {
		f, _ := starlark.AsFloat(n)
		total += f
	}
	return starlark.Float(total / float64(len(nums))), nil
}

func resultSetGet(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var id string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "identity", &id); err != nil {
		return nil, err
	}
	if r := b.Receiver().(*ResultSet).find(id); r != nil {
		return r, nil
	}
	return starlark.None, nil
}

type resultIter struct {
	all []*Result
	i   int
}

func (it *resultIter) Next(p *starlark.Value) bool {
	if it.i >= len(it.all) {
		return false
	}
	*p = it.all[it.i]
	it.i++
	return true
}

func (it *resultIter) Done() {}

// Result is one node's reply.
//
// Starlark: .sender, .code (int), .msg, .ok (bool), .data (a frozen dict of output name to
// value, DDL defaults filled in), .elapsed (time.duration), and r["output"] as a shorthand
// for r.data["output"]. It is true when ok.
type Result struct {
	r    client.Result
	data *starlark.Dict
}

var (
	_ starlark.HasAttrs = (*Result)(nil)
	_ starlark.Mapping  = (*Result)(nil)
)

// NewResult converts a reply; its data must convert with ToStarlark.
func NewResult(r client.Result) (*Result, error) {
	data := r.Data
	if data == nil {
		data = map[string]any{}
	}
	v, err := ToStarlark(data)
	if err != nil {
		return nil, fmt.Errorf("reply from %s: %w", r.Sender, err)
	}
	return &Result{r: r, data: v.(*starlark.Dict)}, nil
}

func (r *Result) field(name string) (starlark.Value, bool) {
	v, found, _ := r.data.Get(starlark.String(name))
	return v, found
}

// String returns a repr such as Result(web1: ok, {"value": "Debian"}).
func (r *Result) String() string {
	status := "ok"
	if !r.r.OK() {
		status = fmt.Sprintf("code %d %q", r.r.Code, r.r.Message)
	}
	return fmt.Sprintf("Result(%s: %s, %s)", r.r.Sender, status, r.data.String())
}

// Type implements starlark.Value.
func (r *Result) Type() string { return "Result" }

// Freeze implements starlark.Value; a Result is immutable.
func (r *Result) Freeze() {}

// Truth implements starlark.Value: true when the node ran the action successfully.
func (r *Result) Truth() starlark.Bool { return starlark.Bool(r.r.OK()) }

// Hash implements starlark.Value: Results are not hashable.
func (r *Result) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: Result") }

// Get implements starlark.Mapping: r["output"].
func (r *Result) Get(k starlark.Value) (starlark.Value, bool, error) { return r.data.Get(k) }

// Attr implements starlark.HasAttrs.
func (r *Result) Attr(name string) (starlark.Value, error) {
	switch name {
	case "sender":
		return starlark.String(r.r.Sender), nil
	case "code":
		return starlark.MakeInt(int(r.r.Code)), nil
	case "msg":
		return starlark.String(r.r.Message), nil
	case "ok":
		return starlark.Bool(r.r.OK()), nil
	case "data":
		return r.data, nil
	case "elapsed":
		return startime.Duration(r.r.Elapsed), nil
	}
	return nil, nil
}

// AttrNames implements starlark.HasAttrs.
func (r *Result) AttrNames() []string {
	return []string{"code", "data", "elapsed", "msg", "ok", "sender"}
}
