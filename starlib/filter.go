package starlib

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/mcorun/mcorun/runtime/filter"
	"github.com/mcorun/mcorun/runtime/match"
	"github.com/mcorun/mcorun/runtime/message"
)

// Filter is an immutable MCollective host filter (mco's -F -C -I -A -W -S in one value).
//
// Starlark: f & g combines two filters (or a filter and a string, parsed as filter(s)):
// fact, class and agent entries and compound expressions are ANDed, while identity entries
// stay ORed with each other as in MCollective. Filters compare with == and are hashable.
// A filter is true unless it is empty (matches every node).
type Filter struct {
	f message.Filter
}

var (
	_ starlark.HasBinary  = (*Filter)(nil)
	_ starlark.Comparable = (*Filter)(nil)
)

// NewFilter wraps a message.Filter.
func NewFilter(f message.Filter) *Filter { return &Filter{f: cloneFilter(f)} }

// Message returns the wire filter. The caller must not change it.
func (f *Filter) Message() message.Filter { return f.f }

// String returns a repr such as Filter(fact role=web, class web::nginx).
func (f *Filter) String() string { return "Filter(" + filter.String(f.f) + ")" }

// Type implements starlark.Value.
func (f *Filter) Type() string { return "filter" }

// Freeze implements starlark.Value; a Filter is immutable.
func (f *Filter) Freeze() {}

// Truth implements starlark.Value.
func (f *Filter) Truth() starlark.Bool { return starlark.Bool(!f.f.Empty()) }

// Hash implements starlark.Value.
func (f *Filter) Hash() (uint32, error) {
	h := fnv.New32a()
	h.Write([]byte(filter.String(f.f)))
	return h.Sum32(), nil
}

// CompareSameType implements starlark.Comparable: == and != compare the rendered filters.
func (f *Filter) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	eq := filter.String(f.f) == filter.String(y.(*Filter).f)
	switch op {
	case syntax.EQL:
		return eq, nil
	case syntax.NEQ:
		return !eq, nil
	}
	return false, fmt.Errorf("filter %s filter not supported", op)
}

// Binary implements starlark.HasBinary: & is AND.
func (f *Filter) Binary(op syntax.Token, y starlark.Value, side starlark.Side) (starlark.Value, error) {
	if op != syntax.AMP {
		return nil, nil
	}
	var other filterArg
	if _, ok := y.(starlark.NoneType); ok {
		return nil, nil
	}
	if err := other.Unpack(y); err != nil {
		if isString(y) {
			return nil, fmt.Errorf("filter &: %w", err)
		}
		return nil, nil
	}
	a, b := f, other.f
	if side == starlark.Right {
		a, b = b, a
	}
	return andFilters(a, b), nil
}

func andFilters(a, b *Filter) *Filter {
	out := cloneFilter(a.f)
	out.Fact = append(out.Fact, b.f.Fact...)
	out.CFClass = append(out.CFClass, b.f.CFClass...)
	out.Agent = append(out.Agent, b.f.Agent...)
	out.Identity = append(out.Identity, b.f.Identity...)
	for _, c := range b.f.Compound {
		out.Compound = append(out.Compound, slices.Clone(c))
	}
	return &Filter{f: out}
}

func cloneFilter(f message.Filter) message.Filter {
	out := message.Filter{
		Fact:     slices.Clone(f.Fact),
		CFClass:  slices.Clone(f.CFClass),
		Agent:    slices.Clone(f.Agent),
		Identity: slices.Clone(f.Identity),
	}
	for _, c := range f.Compound {
		out.Compound = append(out.Compound, slices.Clone(c))
	}
	return out
}

// withFilter parses words as mco -W does: "fact=value" (any fact operator) or a class name.
func withFilter(words []string) (*Filter, error) {
	var b filter.Builder
	for _, w := range words {
		if strings.TrimSpace(w) == "" {
			return nil, fmt.Errorf("filter: empty filter string")
		}
		for _, f := range strings.Fields(w) {
			if op := strings.ToLower(f); op == "and" || op == "or" || op == "not" {
				if f == w {
					return nil, fmt.Errorf("filter: %q is an operator of compound expressions, not a class name: "+
						"put the whole expression in filter.compound(...)", w)
				}
				return nil, fmt.Errorf("filter: %q reads as a compound expression, where %q would be a class name: "+
					"use filter.compound(%q), or give each fact or class as its own word", w, f, w)
			}
		}
		if err := b.With(w); err != nil {
			return nil, fmt.Errorf("filter: %w", err)
		}
	}
	return &Filter{f: b.Filter()}, nil
}

// filterFunc is the predeclared filter: callable as filter(*words), with the constructors
// filter.fact, filter.cls, filter.identity, filter.agent and filter.compound as attributes.
type filterFunc struct{}

var (
	_ starlark.Callable = filterFunc{}
	_ starlark.HasAttrs = filterFunc{}
)

func (filterFunc) String() string        { return "<built-in function filter>" }
func (filterFunc) Type() string          { return "builtin_function_or_method" }
func (filterFunc) Freeze()               {}
func (filterFunc) Truth() starlark.Bool  { return true }
func (filterFunc) Hash() (uint32, error) { return 0x66696c74, nil }
func (filterFunc) Name() string          { return "filter" }

// CallInternal implements filter(*words).
func (filterFunc) CallInternal(thread *starlark.Thread, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(kwargs) > 0 {
		return nil, fmt.Errorf("filter: unexpected keyword argument %s", string(kwargs[0][0].(starlark.String)))
	}
	words := make([]string, len(args))
	for i, a := range args {
		s, ok := a.(starlark.String)
		if !ok {
			return nil, fmt.Errorf("filter: argument %d: want string, got %s", i+1, a.Type())
		}
		words[i] = string(s)
	}
	return withFilter(words)
}

var filterMethods = map[string]*starlark.Builtin{
	"fact":     starlark.NewBuiltin("filter.fact", filterFact),
	"cls":      starlark.NewBuiltin("filter.cls", filterClass),
	"identity": starlark.NewBuiltin("filter.identity", filterIdentity),
	"agent":    starlark.NewBuiltin("filter.agent", filterAgent),
	"compound": starlark.NewBuiltin("filter.compound", filterCompound),
}

// Attr implements starlark.HasAttrs.
func (filterFunc) Attr(name string) (starlark.Value, error) {
	if m, ok := filterMethods[name]; ok {
		return m, nil
	}
	return nil, nil
}

// AttrNames implements starlark.HasAttrs.
func (filterFunc) AttrNames() []string {
	return []string{"agent", "cls", "compound", "fact", "identity"}
}

var factOps = []string{"==", "!=", "<", ">", "<=", ">=", "=~"}

func filterFact(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name, op string = "", "=="
	var value starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "value", &value, "op?", &op); err != nil {
		return nil, err
	}
	if name == "" || strings.ContainsAny(name, " \t") {
		return nil, fmt.Errorf("filter.fact: bad fact name %q", name)
	}
	if !slices.Contains(factOps, op) {
		return nil, fmt.Errorf("filter.fact: op: want one of %s, got %q", strings.Join(factOps, " "), op)
	}
	var v string
	switch x := value.(type) {
	case starlark.String:
		v = string(x)
	case starlark.Int, starlark.Float, starlark.Bool:
		v = x.String()
		if x == starlark.True || x == starlark.False {
			v = strings.ToLower(v)
		}
	default:
		return nil, fmt.Errorf("filter.fact: value: want string, number or bool, got %s", value.Type())
	}
	if op == "==" && match.IsRegex(v) {
		op = "=~" // "/re/" means a regular expression, as in mco -F fact=/re/
	}
	if op == "=~" {
		src := v
		if match.IsRegex(v) {
			src = v[1 : len(v)-1]
		}
		if _, err := match.Compile(src, 0); err != nil {
			return nil, fmt.Errorf("filter.fact: %s: %w", v, err)
		}
	}
	return &Filter{f: message.Filter{Fact: []message.FactFilter{{Fact: name, Value: v, Operator: op}}}}, nil
}

// nameFilter builds class, identity and agent filters through filter.Builder, which checks
// each entry (non-empty, valid /re/).
func nameFilter(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple, variadic bool,
	add func(*filter.Builder, string) error) (starlark.Value, error) {
	var names []string
	if variadic {
		if len(kwargs) > 0 {
			return nil, fmt.Errorf("%s: unexpected keyword argument %s", b.Name(), string(kwargs[0][0].(starlark.String)))
		}
		if len(args) == 0 {
			return nil, fmt.Errorf("%s: want at least one identity", b.Name())
		}
		for i, a := range args {
			s, ok := a.(starlark.String)
			if !ok {
				return nil, fmt.Errorf("%s: argument %d: want string, got %s", b.Name(), i+1, a.Type())
			}
			names = append(names, string(s))
		}
	} else {
		var name string
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name); err != nil {
			return nil, err
		}
		names = []string{name}
	}
	var fb filter.Builder
	for _, n := range names {
		if err := add(&fb, n); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	}
	return &Filter{f: fb.Filter()}, nil
}

func filterClass(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return nameFilter(b, args, kwargs, false, (*filter.Builder).Class)
}

func filterIdentity(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return nameFilter(b, args, kwargs, true, (*filter.Builder).Identity)
}

func filterAgent(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return nameFilter(b, args, kwargs, false, (*filter.Builder).Agent)
}

func filterCompound(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var expr string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "expr", &expr); err != nil {
		return nil, err
	}
	fb := filter.Builder{Data: dataDDLs(thread)}
	if err := fb.Select(expr); err != nil {
		return nil, fmt.Errorf("filter.compound: %w", err)
	}
	return &Filter{f: fb.Filter()}, nil
}
