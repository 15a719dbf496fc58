package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/mcorun/mcorun/runtime/marshal"
)

// rubyString renders v as Ruby's to_s does, for the values MCollective replies carry.
func rubyString(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case marshal.Symbol:
		return string(t)
	case float64:
		return rubyFloat(t)
	case float32:
		return rubyFloat(float64(t))
	case []any, map[any]any, map[string]any, []string:
		return rubyInspect(v)
	}
	return fmt.Sprint(v)
}

// rubyFloat formats f as Ruby's Float#to_s: 1.0, 0.05, 1.0e-05.
func rubyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-4 || abs >= 1e16) {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		mant, exp, _ := strings.Cut(s, "e")
		if !strings.Contains(mant, ".") {
			mant += ".0"
		}
		sign := exp[0]
		digits := strings.TrimLeft(exp[1:], "0")
		if len(digits) < 2 {
			digits = strings.Repeat("0", 2-len(digits)) + digits
		}
		return mant + "e" + string(sign) + digits
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// rubyInspect renders v as Ruby's inspect does (Ruby 3.1 hash syntax).
func rubyInspect(v any) string {
	switch t := v.(type) {
	case nil:
		return "nil"
	case string:
		return strconv.Quote(t)
	case marshal.Symbol:
		return ":" + string(t)
	case []string:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = strconv.Quote(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = rubyInspect(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[any]any, map[string]any:
		var parts []string
		for _, e := range mapEntries(t) {
			parts = append(parts, rubyInspect(e.key)+"=>"+rubyInspect(e.val))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case marshal.Regexp:
		return "/" + t.Source + "/"
	}
	return rubyString(v)
}

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

// jsonable converts a decoded reply value into one encoding/json can write: Ruby hashes
// become objects keyed by the keys' string form, symbols become strings.
func jsonable(v any) any {
	switch t := v.(type) {
	case marshal.Symbol:
		return string(t)
	case marshal.Regexp:
		return "/" + t.Source + "/"
	case *big.Int:
		return json.Number(t.String())
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return rubyFloat(t)
		}
		return t
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = jsonable(x)
		}
		return out
	case map[any]any, map[string]any:
		out := map[string]any{}
		for _, e := range mapEntries(t) {
			out[rubyString(e.key)] = jsonable(e.val)
		}
		return out
	}
	return v
}
