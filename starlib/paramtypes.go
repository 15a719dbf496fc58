package starlib

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	startime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/config"
)

// paramSpec is a typed declaration of one --arg, a value of the param module:
// params(timeout=param.duration("10m")). Its kind decides how the raw --arg value is read,
// and def is the value args holds when the arg is not given (already of that kind).
type paramSpec struct {
	kind    string // duration, size, int, bool, string, choice
	def     starlark.Value
	choices []string // for choice
}

var _ starlark.Value = (*paramSpec)(nil)

func (p *paramSpec) String() string {
	if p.kind == "choice" {
		q := make([]string, len(p.choices))
		for i, c := range p.choices {
			q[i] = strconv.Quote(c)
		}
		return fmt.Sprintf("param.choice(%s, default=%s)", strings.Join(q, ", "), p.def)
	}
	return fmt.Sprintf("param.%s(%s)", p.kind, p.def)
}
func (p *paramSpec) Type() string          { return "param" }
func (p *paramSpec) Freeze()               {}
func (p *paramSpec) Truth() starlark.Bool  { return true }
func (p *paramSpec) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: param") }

// typeName is the type as a playbook's --help shows it.
func (p *paramSpec) typeName() string {
	switch p.kind {
	case "size":
		return `size (N or "N%")`
	case "choice":
		return "one of " + strings.Join(p.choices, ", ")
	}
	return p.kind
}

// read converts a raw --arg value to the declared kind.
func (p *paramSpec) read(s string) (starlark.Value, error) {
	t := strings.TrimSpace(s)
	switch p.kind {
	case "duration":
		d, err := time.ParseDuration(t)
		if err != nil {
			return nil, fmt.Errorf("want a duration with a unit, such as 30s, 5m or 1h30m, got %q", s)
		}
		return startime.Duration(d), nil
	case "size":
		return readSize(s)
	case "int":
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("want a whole number, got %q", s)
		}
		return starlark.MakeInt64(n), nil
	case "bool":
		b, err := config.ParseBool(s)
		if err != nil {
			return nil, err
		}
		return starlark.Bool(b), nil
	case "choice":
		for _, c := range p.choices {
			if t == c {
				return starlark.String(c), nil
			}
		}
		return nil, fmt.Errorf("want one of %s, got %q", strings.Join(p.choices, ", "), s)
	}
	return starlark.String(s), nil
}

// readSize reads "N or N%" by client.ParseSize: an int for a count, the string "N%" for a
// share, None for an empty value; the forms rolling(), rpc() and discover() take.
func readSize(s string) (starlark.Value, error) {
	size, err := client.ParseSize(s)
	if err != nil {
		return nil, err
	}
	switch {
	case !size.IsSet():
		return starlark.None, nil
	case size.Percent():
		return starlark.String(size.String()), nil
	}
	n, _ := strconv.Atoi(size.String())
	return starlark.MakeInt(n), nil
}

// paramModule is the predeclared param module, whose functions declare typed args.
func paramModule() *starlarkstruct.Module {
	kind := func(name string, conv func(starlark.Value) (starlark.Value, error)) *starlark.Builtin {
		return starlark.NewBuiltin("param."+name, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var def starlark.Value
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "default", &def); err != nil {
				return nil, err
			}
			v, err := conv(def)
			if err != nil {
				return nil, fmt.Errorf("%s: default %s: %w", b.Name(), def, err)
			}
			return &paramSpec{kind: name, def: v}, nil
		})
	}
	fromString := func(name string) func(starlark.Value) (starlark.Value, error) {
		return func(def starlark.Value) (starlark.Value, error) {
			s, ok := starlark.AsString(def)
			if !ok {
				return nil, fmt.Errorf("want a string, got %s", def.Type())
			}
			return (&paramSpec{kind: name}).read(s)
		}
	}
	return &starlarkstruct.Module{Name: "param", Members: starlark.StringDict{
		"duration": kind("duration", func(def starlark.Value) (starlark.Value, error) {
			if d, ok := def.(startime.Duration); ok {
				return d, nil
			}
			return fromString("duration")(def)
		}),
		"size": kind("size", func(def starlark.Value) (starlark.Value, error) {
			switch x := def.(type) {
			case starlark.NoneType:
				return starlark.None, nil
			case starlark.Int:
				return readSize(x.String())
			}
			return fromString("size")(def)
		}),
		"int": kind("int", func(def starlark.Value) (starlark.Value, error) {
			if _, ok := def.(starlark.Int); !ok {
				return nil, fmt.Errorf("want an int, got %s", def.Type())
			}
			return def, nil
		}),
		"bool": kind("bool", func(def starlark.Value) (starlark.Value, error) {
			if _, ok := def.(starlark.Bool); !ok {
				return nil, fmt.Errorf("want True or False, got %s", def.Type())
			}
			return def, nil
		}),
		"string": kind("string", func(def starlark.Value) (starlark.Value, error) {
			if _, ok := def.(starlark.String); !ok && def != starlark.None {
				return nil, fmt.Errorf("want a string or None, got %s", def.Type())
			}
			return def, nil
		}),
		"choice": starlark.NewBuiltin("param.choice", paramChoice),
	}}
}

// paramChoice is param.choice(*choices, default=None): one of the given strings, the first
// by default.
func paramChoice(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var def starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), nil, kwargs, "default?", &def); err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("%s: give the choices, such as param.choice(\"restart\", \"reload\")", b.Name())
	}
	spec := &paramSpec{kind: "choice"}
	for _, a := range args {
		s, ok := starlark.AsString(a)
		if !ok {
			return nil, fmt.Errorf("%s: choices are strings, got %s", b.Name(), a.Type())
		}
		spec.choices = append(spec.choices, s)
	}
	spec.def = starlark.String(spec.choices[0])
	if def != starlark.None {
		s, ok := starlark.AsString(def)
		if !ok {
			return nil, fmt.Errorf("%s: default: want a string, got %s", b.Name(), def.Type())
		}
		v, err := spec.read(s)
		if err != nil {
			return nil, fmt.Errorf("%s: default: %w", b.Name(), err)
		}
		spec.def = v
	}
	return spec, nil
}
