package starlib

import (
	"fmt"
	"strconv"
	"time"

	startime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/discovery"
	"github.com/mcorun/mcorun/runtime/message"
)

// Duration is an argument that takes a duration string such as "2s" or "5m", a time.duration
// value, or a number of seconds (int or float). None keeps the default.
type Duration time.Duration

var _ starlark.Unpacker = (*Duration)(nil)

// Unpack implements starlark.Unpacker.
func (d *Duration) Unpack(v starlark.Value) error {
	switch x := v.(type) {
	case starlark.NoneType:
		return nil // keep the default
	case startime.Duration:
		*d = Duration(x)
	case starlark.String:
		dur, err := time.ParseDuration(string(x))
		if err != nil {
			return fmt.Errorf("want duration, got %q", string(x))
		}
		*d = Duration(dur)
	case starlark.Int:
		n, ok := x.Int64()
		if !ok || n > int64(time.Duration(1<<62)/time.Second) || n < 0 {
			return fmt.Errorf("duration out of range: %s seconds", x)
		}
		*d = Duration(time.Duration(n) * time.Second)
	case starlark.Float:
		if x < 0 || x > starlark.Float(1<<32) {
			return fmt.Errorf("duration out of range: %s seconds", x)
		}
		*d = Duration(time.Duration(float64(x) * float64(time.Second)))
	default:
		return fmt.Errorf("want duration, got %s", v.Type())
	}
	if *d < 0 {
		return fmt.Errorf("want a positive duration, got %s", time.Duration(*d))
	}
	return nil
}

// StringOrList is an argument that takes a string or a list or tuple of strings.
type StringOrList []string

var _ starlark.Unpacker = (*StringOrList)(nil)

// Unpack implements starlark.Unpacker.
func (s *StringOrList) Unpack(v starlark.Value) error {
	if str, ok := v.(starlark.String); ok {
		*s = []string{string(str)}
		return nil
	}
	list, err := stringList(v)
	if err != nil {
		return err
	}
	*s = list
	return nil
}

// stringList reads a list, tuple or other finite iterable of strings.
func stringList(v starlark.Value) ([]string, error) {
	it, ok := v.(starlark.Iterable)
	if !ok || isString(v) {
		return nil, fmt.Errorf("want string or list of strings, got %s", v.Type())
	}
	if _, ok := v.(starlark.Mapping); ok {
		return nil, fmt.Errorf("want string or list of strings, got %s", v.Type())
	}
	iter := it.Iterate()
	defer iter.Done()
	var out []string
	var x starlark.Value
	for iter.Next(&x) {
		s, ok := starlark.AsString(x)
		if !ok {
			return nil, fmt.Errorf("want list of strings, got %s element", x.Type())
		}
		out = append(out, s)
	}
	return out, nil
}

func isString(v starlark.Value) bool {
	_, ok := v.(starlark.String)
	return ok
}

// nodesArg is an argument that names nodes: a NodeSet, a list or tuple of identities, a
// single identity, or a ResultSet (the nodes that replied). set reports whether it was given,
// so that an empty list is told apart from no list.
type nodesArg struct {
	nodes *NodeSet
	set   bool
}

var _ starlark.Unpacker = (*nodesArg)(nil)

// Unpack implements starlark.Unpacker.
func (n *nodesArg) Unpack(v starlark.Value) error {
	switch x := v.(type) {
	case starlark.NoneType:
		return nil
	case *NodeSet:
		n.nodes = x
	case *ResultSet:
		n.nodes = x.replied()
	case starlark.String:
		n.nodes = NewNodeSet([]string{string(x)})
	default:
		list, err := stringList(v)
		if err != nil {
			return fmt.Errorf("want NodeSet or list of identities, got %s", v.Type())
		}
		n.nodes = NewNodeSet(list)
	}
	n.set = true
	return nil
}

// countArg is an argument that takes a count (int) or a percentage ("10%"), or a numeric
// string ("5"), parsed by client.ParseSize, the one parser of that syntax. It keeps the
// MCollective string form for batch and limit options.
type countArg struct {
	s    string
	size client.Size
}

var _ starlark.Unpacker = (*countArg)(nil)

// Unpack implements starlark.Unpacker.
func (c *countArg) Unpack(v starlark.Value) error {
	switch x := v.(type) {
	case starlark.NoneType:
		*c = countArg{}
		return nil
	case starlark.Int:
		n, ok := x.Int64()
		if !ok || n < 0 || n > 1<<31 {
			return fmt.Errorf("want a count >= 0, got %s", x)
		}
		*c = countArg{s: strconv.FormatInt(n, 10), size: client.SizeOf(int(n))}
		return nil
	case starlark.String:
		size, err := client.ParseSize(string(x))
		if err != nil {
			return err
		}
		*c = countArg{s: size.String(), size: size}
		return nil
	}
	return fmt.Errorf("want int or percentage string, got %s", v.Type())
}

// of returns the count for a population of total, by client.Size's rule.
func (c countArg) of(total int) int { return c.size.Of(total) }

// filterArg is an argument that takes a Filter, a filter string (parsed as filter(s)), or
// None.
type filterArg struct {
	f *Filter
}

var _ starlark.Unpacker = (*filterArg)(nil)

// Unpack implements starlark.Unpacker.
func (a *filterArg) Unpack(v starlark.Value) error {
	switch x := v.(type) {
	case starlark.NoneType:
		a.f = nil
	case *Filter:
		a.f = x
	case starlark.String:
		f, err := withFilter([]string{string(x)})
		if err != nil {
			return err
		}
		a.f = f
	default:
		return fmt.Errorf("want filter or string, got %s", v.Type())
	}
	return nil
}

// optString is an optional string argument: None keeps the default, as for every optional
// argument of the builtins.
type optString string

var _ starlark.Unpacker = (*optString)(nil)

// Unpack implements starlark.Unpacker.
func (s *optString) Unpack(v starlark.Value) error {
	switch x := v.(type) {
	case starlark.NoneType:
		return nil // keep the default
	case starlark.String:
		*s = optString(x)
		return nil
	}
	return fmt.Errorf("want string, got %s", v.Type())
}

// optInt is an optional int argument: None keeps the default.
type optInt int64

var _ starlark.Unpacker = (*optInt)(nil)

// Unpack implements starlark.Unpacker.
func (n *optInt) Unpack(v starlark.Value) error {
	switch x := v.(type) {
	case starlark.NoneType:
		return nil // keep the default
	case starlark.Int:
		i, ok := x.Int64()
		if !ok {
			return fmt.Errorf("int out of range: %s", x)
		}
		*n = optInt(i)
		return nil
	}
	return fmt.Errorf("want int, got %s", v.Type())
}

// optionsArg is a discovery method's options: a dict of strings to strings (or numbers and
// bools, written as text), or None.
type optionsArg struct{ m map[string]string }

var _ starlark.Unpacker = (*optionsArg)(nil)

func (o *optionsArg) Unpack(v starlark.Value) error {
	switch x := v.(type) {
	case starlark.NoneType:
		return nil
	case *starlark.Dict:
		o.m = make(map[string]string, x.Len())
		for _, item := range x.Items() {
			k, ok := starlark.AsString(item[0])
			if !ok {
				return fmt.Errorf("want a dict with string keys, got key %s", item[0].Type())
			}
			switch val := item[1].(type) {
			case starlark.String:
				o.m[k] = string(val)
			case starlark.Int, starlark.Float, starlark.Bool:
				o.m[k] = val.String()
			default:
				return fmt.Errorf("option %q: want a string, got %s", k, item[1].Type())
			}
		}
		return nil
	}
	return fmt.Errorf("want a dict of options, got %s", v.Type())
}

// checkMethod refuses an unknown discovery method, or a filter it cannot evaluate, before
// anything runs ("" is the fleet's default method, checked when it runs).
func checkMethod(method optString, f message.Filter) error {
	if method == "" {
		return nil
	}
	m, err := discovery.Canonical(string(method))
	if err != nil {
		return fmt.Errorf("method: %w", err)
	}
	return discovery.Check(m, f, "")
}
