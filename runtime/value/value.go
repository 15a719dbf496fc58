// Package value turns a value decoded from Ruby Marshal (package marshal) into plain Go
// data, the one form in which reply data reaches scripts, JSON output and logs.
//
// Plain returns only these Go types, Arrays and Hashes nested up to MaxDepth deep:
//
//	nil             Ruby nil
//	bool            true, false
//	string          String, Symbol and binary String (marshal.Binary, []byte) as their
//	                bytes; Regexp as "/source/" (option bits dropped)
//	int64           every Integer that fits in int64
//	*big.Int        only an Integer that does not fit in int64
//	float64         Float, NaN and ±Inf included
//	[]any           Array
//	map[string]any  Hash
//
// Integers are always int64, never int: a Go int, uint or *big.Int that fits becomes int64.
//
// Hash keys: a String or Symbol key is its text; any other key (nil, true, 5, 1.5, a Regexp)
// is the text of its Ruby to_s (rubyfmt.ToS), which is what Ruby's JSON generator writes for
// it: nil is "", 1.5 is "1.5", /a/i is "(?i-mx:a)". When several keys give the same text
// (:a and "a", 1 and "1") exactly one entry is kept, by a rule that depends only on the
// Hash's contents, never on Go's map order: a String key wins over a Symbol, a Symbol over
// any other key; between two keys of the same rank, the one whose inspect form sorts first
// wins, and then the entry whose value's inspect form sorts first.
//
// Besides what marshal.Unmarshal yields, Plain accepts the Go shapes that built reply data
// holds: every Go integer and float kind, json.Number, []string, map[string]any and
// map[marshal.Symbol]any. Any other Go type becomes its Ruby to_s text (rubyfmt.ToS), so
// the result never holds anything outside the list above.
//
// Arrays and Hashes nested more than MaxDepth deep (the outermost one is at depth 1) become
// nil; a decoded document never is, since marshal's default limits stop at the same depth.
// The result never shares an Array or Hash with the input, so the caller may change it.
// Plain never panics; the input must not be cyclic.
package value

import (
	"encoding/json"
	"math"
	"math/big"

	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/rubyfmt"
)

// MaxDepth is the deepest nesting of Arrays and Hashes that Plain keeps; it equals the
// depth marshal.Unmarshal accepts.
const MaxDepth = 64

// Plain converts v, a decoded Marshal value, into the plain types listed in the package
// documentation.
func Plain(v any) any { return plain(v, 0) }

// plain converts v; depth is the number of Arrays and Hashes enclosing it.
func plain(v any, depth int) any {
	switch x := v.(type) {
	case nil, bool, string, int64, float64:
		return x
	case marshal.Symbol:
		return string(x)
	case marshal.Binary:
		return string(x)
	case []byte:
		return string(x)
	case marshal.Regexp:
		return "/" + x.Source + "/"
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint:
		return unsigned(uint64(x))
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return unsigned(x)
	case uintptr:
		return unsigned(uint64(x))
	case *big.Int:
		return bigInt(x)
	case float32:
		return float64(x)
	case json.Number:
		return number(x)
	}
	if depth >= MaxDepth {
		switch v.(type) {
		case []any, []string, map[any]any, map[string]any, map[marshal.Symbol]any:
			return nil
		}
	}
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e, depth+1)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e, depth+1)
		}
		return out
	case map[marshal.Symbol]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[string(k)] = plain(e, depth+1)
		}
		return out
	case map[any]any:
		return hash(x, depth)
	}
	return rubyfmt.ToS(v)
}

// hash converts a Hash with keys of any type, resolving keys that give the same text.
func hash(m map[any]any, depth int) map[string]any {
	out := make(map[string]any, len(m))
	owner := make(map[string]*entry, len(m)) // the entry each entry of out came from
	for k, e := range m {
		s := keyText(k)
		cur := &entry{k: k, v: e}
		if prev, taken := owner[s]; taken && !cur.before(prev) {
			continue
		}
		owner[s] = cur
		out[s] = plain(e, depth+1)
	}
	return out
}

// entry is one Hash entry whose key text another key may also give. The inspect forms are
// worked out only when needed and then kept, so that a Hash of many such keys costs time in
// proportion to its size.
type entry struct {
	k, v   any
	ki, vi *string
}

// before reports whether e wins over prev, an entry for the same text.
func (e *entry) before(prev *entry) bool {
	if r, pr := keyRank(e.k), keyRank(prev.k); r != pr {
		return r < pr
	}
	if a, b := inspect(&e.ki, e.k), inspect(&prev.ki, prev.k); a != b {
		return a < b
	}
	return inspect(&e.vi, e.v) < inspect(&prev.vi, prev.v)
}

// inspect returns v's Ruby inspect form, worked out once into *memo.
func inspect(memo **string, v any) string {
	if *memo == nil {
		s := rubyfmt.Inspect(v)
		*memo = &s
	}
	return **memo
}

// keyRank orders keys that give the same text: Strings, then Symbols, then the rest.
func keyRank(k any) int {
	switch k.(type) {
	case string, marshal.Binary:
		return 0
	case marshal.Symbol:
		return 1
	}
	return 2
}

// keyText is the text a Hash key becomes in Plain's result: a String's or a Symbol's text,
// and for any other key its Ruby to_s.
func keyText(k any) string {
	switch t := k.(type) {
	case string:
		return t
	case marshal.Symbol:
		return string(t)
	}
	return rubyfmt.ToS(k)
}

// unsigned converts an unsigned integer, as *big.Int only when it exceeds int64.
func unsigned(u uint64) any {
	if u <= math.MaxInt64 {
		return int64(u)
	}
	return new(big.Int).SetUint64(u)
}

// bigInt keeps x as *big.Int only when it does not fit in int64; a nil *big.Int is nil.
func bigInt(x *big.Int) any {
	switch {
	case x == nil:
		return nil
	case x.IsInt64():
		return x.Int64()
	}
	return x
}

// number converts a json.Number as Ruby's JSON parser reads it: an Integer literal is an
// Integer, anything else that parses a Float; text that is neither stays a string.
func number(n json.Number) any {
	if i, ok := new(big.Int).SetString(string(n), 10); ok {
		return bigInt(i)
	}
	if f, err := n.Float64(); err == nil {
		return f
	}
	return string(n)
}
