package starlib

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	startime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/mcorun/mcorun/runtime/plural"
)

// argsState is the thread's raw --arg values and whether params() has run.
type argsState struct {
	raw      map[string]string
	declared bool
}

// paramsValue is both the predeclared args value and the receiver of params(). Its
// attributes are the values that the last params() call settled, so args.window reads the
// typed value of --arg window=..., or the declared default.
type paramsValue struct {
	values *starlarkstruct.Struct // nil until params() runs
}

var _ starlark.HasAttrs = (*paramsValue)(nil)

func (p *paramsValue) String() string {
	if p.values == nil {
		return "args(<params() not called>)"
	}
	return "args" + strings.TrimPrefix(p.values.String(), "struct")
}

func (p *paramsValue) Type() string          { return "args" }
func (p *paramsValue) Freeze()               {}
func (p *paramsValue) Truth() starlark.Bool  { return p.values != nil }
func (p *paramsValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: args") }

// Attr implements starlark.HasAttrs.
func (p *paramsValue) Attr(name string) (starlark.Value, error) {
	if p.values == nil {
		return nil, fmt.Errorf("args.%s: call params() first to declare the args", name)
	}
	v, err := p.values.Attr(name)
	if err != nil || v == nil {
		return nil, fmt.Errorf("args has no .%s: params() declares %s", name, strings.Join(p.values.AttrNames(), ", "))
	}
	return v, nil
}

// AttrNames implements starlark.HasAttrs.
func (p *paramsValue) AttrNames() []string {
	if p.values == nil {
		return nil
	}
	return p.values.AttrNames()
}

// declare is params(**defaults): each keyword declares an arg, by a param.* declaration
// (param.duration("10m"), param.size("10%"), ...) or by a plain default whose type (int,
// float, bool, string, list of strings, time.duration or None for a string) types the raw
// --arg value. It returns the args struct and makes it readable as args.
func (p *paramsValue) declare(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) > 0 {
		return nil, fmt.Errorf("params: got %s, want only name=default", plural.Count(len(args), "positional argument", "positional arguments"))
	}
	st := threadArgs(thread)
	raw := map[string]string{}
	if st != nil {
		raw = st.raw
	}
	declared := make(map[string]bool, len(kwargs))
	var names []string
	values := starlark.StringDict{}
	for _, kv := range kwargs {
		name := string(kv[0].(starlark.String))
		declared[name] = true
		names = append(names, name)
		if !argType(kv[1]) {
			return nil, fmt.Errorf("params: %s: want a param.* declaration or an int, float, bool, string, list, time.duration or None default, got %s", name, kv[1].Type())
		}
		s, given := raw[name]
		if !given {
			values[name] = argDefault(kv[1])
			continue
		}
		v, err := convertArg(kv[1], s)
		if err != nil {
			return nil, fmt.Errorf("params: arg %q: %w", name, err)
		}
		values[name] = v
	}
	var unknown []string
	for k := range raw {
		if !declared[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		sort.Strings(names)
		return nil, fmt.Errorf("params: unknown arg %q (declared: %s)", unknown[0], strings.Join(names, ", "))
	}
	if st != nil {
		st.declared = true
	}
	s := starlarkstruct.FromStringDict(starlarkstruct.Default, values)
	s.Freeze()
	p.values = s
	return s, nil
}

// argType reports whether an arg with default def can be given with --arg.
func argType(def starlark.Value) bool {
	switch def.(type) {
	case starlark.NoneType, starlark.String, starlark.Int, starlark.Float, starlark.Bool,
		startime.Duration, *starlark.List, starlark.Tuple, *paramSpec:
		return true
	}
	return false
}

// ArgType names the type of an --arg whose params() default is def, as a playbook's
// --help shows it: the type convertArg reads the raw value as.
func ArgType(def starlark.Value) string {
	switch x := def.(type) {
	case *paramSpec:
		return x.typeName()
	case starlark.NoneType:
		return "string, optional"
	case startime.Duration:
		return "duration"
	case *starlark.List, starlark.Tuple:
		return "list of strings, comma-separated"
	}
	if argType(def) {
		return def.Type()
	}
	return "not settable with --arg"
}

// ArgDefault is the value args holds for an arg declared with def when no --arg gives it:
// a param.* declaration's default, or def itself.
func ArgDefault(def starlark.Value) starlark.Value { return argDefault(def) }

func argDefault(def starlark.Value) starlark.Value {
	if p, ok := def.(*paramSpec); ok {
		return p.def
	}
	return def
}

// convertArg converts a raw --arg value to the type of def.
func convertArg(def starlark.Value, s string) (starlark.Value, error) {
	switch x := def.(type) {
	case *paramSpec:
		return x.read(s)
	case starlark.NoneType, starlark.String:
		return starlark.String(s), nil
	case starlark.Int:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 0, 64)
		if err != nil {
			return nil, fmt.Errorf("want int, got %q", s)
		}
		return starlark.MakeInt64(n), nil
	case starlark.Float:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("want float, got %q", s)
		}
		return starlark.Float(f), nil
	case starlark.Bool:
		return (&paramSpec{kind: "bool"}).read(s)
	case startime.Duration:
		return (&paramSpec{kind: "duration"}).read(s)
	case *starlark.List, starlark.Tuple:
		var items []starlark.Value
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				items = append(items, starlark.String(part))
			}
		}
		return starlark.NewList(items), nil
	}
	return nil, fmt.Errorf("default of type %s cannot be given with --arg", def.Type())
}
