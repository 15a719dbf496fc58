package main

import (
	"encoding/json"
	"math/big"
	"sort"

	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/rubyfmt"
)

// rubyString renders v as Ruby's to_s does, for the values MCollective replies carry.
func rubyString(v any) string { return rubyfmt.ToS(v) }

// rubyFloat formats f as Ruby's Float#to_s: 1.0, 0.05, 1.0e-05.
func rubyFloat(f float64) string { return rubyfmt.Float(f) }

// rubyInspect renders v as Ruby's inspect does (Ruby 3.1 hash syntax).
func rubyInspect(v any) string { return rubyfmt.Inspect(v) }

type entry struct {
	key any
	val any
}

// mapEntries returns a map's entries sorted by their keys' string form, or nil if v is not
// a map.
func mapEntries(v any) []entry {
	var out []entry
	switch m := v.(type) {
	case map[string]any:
		for k, x := range m {
			out = append(out, entry{k, x})
		}
	case map[any]any:
		for k, x := range m {
			out = append(out, entry{k, x})
		}
	default:
		return nil
	}
	sort.Slice(out, func(i, j int) bool { return rubyString(out[i].key) < rubyString(out[j].key) })
	return out
}

// lookupKey finds key in a decoded map, whether keyed by string or Symbol.
func lookupKey(v any, key string) (any, bool) {
	switch m := v.(type) {
	case map[string]any:
		x, ok := m[key]
		return x, ok
	case map[any]any:
		if x, ok := m[key]; ok {
			return x, true
		}
		x, ok := m[marshal.Symbol(key)]
		return x, ok
	}
	return nil, false
}

// toFloat converts a numeric reply value.
func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case int32:
		return float64(t), true
	case float64:
		return t, true
	case float32:
		return float64(t), true
	case *big.Int:
		f, _ := new(big.Float).SetInt(t).Float64()
		return f, true
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	}
	return 0, false
}

// isInteger reports whether v is an integer value (not a float).
func isInteger(v any) bool {
	switch v.(type) {
	case int, int64, int32, *big.Int:
		return true
	}
	return false
}
