package starlib

import (
	"fmt"
	"math/big"
	"sort"
	"time"

	startime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
)

// ToStarlark converts a Go value from a reply or a fact store into a frozen Starlark value:
// nil, bools, strings, every integer type and *big.Int, floats, []any and []string,
// map[string]any (a dict, in key order), time.Duration and time.Time (as the time module's
// values), and the Starlark values themselves. It takes no Ruby Marshal type: reply data is
// already plain (client.Result.Data holds value.Plain's types), and anything else decoded
// from Marshal must go through value.Plain first.
func ToStarlark(v any) (starlark.Value, error) {
	out, err := toStarlark(v, 0)
	if err != nil {
		return nil, err
	}
	out.Freeze()
	return out, nil
}

const maxDepth = 64

func toStarlark(v any, depth int) (starlark.Value, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("value nested too deeply")
	}
	switch x := v.(type) {
	case nil:
		return starlark.None, nil
	case starlark.Value:
		return x, nil
	case bool:
		return starlark.Bool(x), nil
	case string:
		return starlark.String(x), nil
	case int:
		return starlark.MakeInt(x), nil
	case int8:
		return starlark.MakeInt64(int64(x)), nil
	case int16:
		return starlark.MakeInt64(int64(x)), nil
	case int32:
		return starlark.MakeInt64(int64(x)), nil
	case int64:
		return starlark.MakeInt64(x), nil
	case uint:
		return starlark.MakeUint64(uint64(x)), nil
	case uint8:
		return starlark.MakeUint64(uint64(x)), nil
	case uint16:
		return starlark.MakeUint64(uint64(x)), nil
	case uint32:
		return starlark.MakeUint64(uint64(x)), nil
	case uint64:
		return starlark.MakeUint64(x), nil
	case *big.Int:
		if x == nil {
			return starlark.None, nil
		}
		return starlark.MakeBigInt(x), nil
	case float32:
		return starlark.Float(x), nil
	case float64:
		return starlark.Float(x), nil
	case time.Duration:
		return startime.Duration(x), nil
	case time.Time:
		return startime.Time(x), nil
	case []string:
		return stringsToList(x), nil
	case []any:
		vals := make([]starlark.Value, len(x))
		for i, e := range x {
			sv, err := toStarlark(e, depth+1)
			if err != nil {
				return nil, err
			}
			vals[i] = sv
		}
		return starlark.NewList(vals), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := starlark.NewDict(len(x))
		for _, k := range keys {
			sv, err := toStarlark(x[k], depth+1)
			if err != nil {
				return nil, err
			}
			if err := d.SetKey(starlark.String(k), sv); err != nil {
				return nil, err
			}
		}
		return d, nil
	}
	return nil, fmt.Errorf("cannot convert %T to a Starlark value", v)
}

// FromStarlark converts a Starlark value into plain Go data for rpc arguments and log
// fields: None is nil, bool, int (int64, or *big.Int when it does not fit), float64,
// string, list and tuple as []any, dict as map[string]any (keys must be strings), NodeSet as
// []string and time.duration as time.Duration.
func FromStarlark(v starlark.Value) (any, error) {
	return fromStarlark(v, 0)
}

func fromStarlark(v starlark.Value, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("value nested too deeply")
	}
	switch x := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(x), nil
	case starlark.Int:
		if n, ok := x.Int64(); ok {
			return n, nil
		}
		return x.BigInt(), nil
	case starlark.Float:
		return float64(x), nil
	case starlark.String:
		return string(x), nil
	case *NodeSet:
		return append([]string(nil), x.ids...), nil
	case startime.Duration:
		return time.Duration(x), nil
	case *starlark.Dict:
		out := make(map[string]any, x.Len())
		for _, item := range x.Items() {
			k, ok := item[0].(starlark.String)
			if !ok {
				return nil, fmt.Errorf("dict key %s: want string, got %s", item[0], item[0].Type())
			}
			gv, err := fromStarlark(item[1], depth+1)
			if err != nil {
				return nil, err
			}
			out[string(k)] = gv
		}
		return out, nil
	case starlark.Iterable:
		if _, ok := v.(starlark.Indexable); !ok {
			if _, isSet := v.(*starlark.Set); !isSet {
				break
			}
		}
		var out []any
		iter := x.Iterate()
		defer iter.Done()
		var e starlark.Value
		for iter.Next(&e) {
			gv, err := fromStarlark(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, gv)
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot convert %s to plain data", v.Type())
}
