package audit

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mcorun/mcorun/runtime/marshal"
)

// inspect renders request data as Ruby 3.1's Hash#inspect does, with the input names as
// Symbols: {:message=>"hi", :process_results=>true}. Keys are sorted, since the decoded
// Hash has lost Ruby's insertion order.
func inspect(data map[string]any) string {
	if data == nil {
		return "{}"
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = inspectSymbol(k) + "=>" + inspectValue(data[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// plainSymbolRE matches Symbols Ruby prints without quotes.
var plainSymbolRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*[?!=]?$`)

func inspectSymbol(s string) string {
	if plainSymbolRE.MatchString(s) {
		return ":" + s
	}
	return ":" + strconv.Quote(s)
}

func inspectValue(v any) string {
	switch t := v.(type) {
	case nil:
		return "nil"
	case bool:
		return strconv.FormatBool(t)
	case string:
		return strconv.Quote(t)
	case marshal.Binary:
		return strconv.Quote(string(t))
	case marshal.Symbol:
		return inspectSymbol(string(t))
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case *big.Int:
		return t.String()
	case float64:
		return inspectFloat(t)
	case marshal.Regexp:
		return "/" + t.Source + "/"
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = inspectValue(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		return inspect(t)
	case map[any]any:
		parts := make([]string, 0, len(t))
		for k, x := range t {
			parts = append(parts, inspectValue(k)+"=>"+inspectValue(x))
		}
		slices.Sort(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return strconv.Quote(fmt.Sprint(v))
}

// inspectFloat renders f as Ruby's Float#inspect: always a decimal point, exponent form
// outside 1e-4 <= |f| < 1e16.
func inspectFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e16) {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		mant, exp, _ := strings.Cut(s, "e")
		if !strings.Contains(mant, ".") {
			mant += ".0"
		}
		sign, digits := exp[:1], strings.TrimLeft(exp[1:], "0")
		if len(digits) < 2 {
			digits = fmt.Sprintf("%02s", digits)
		}
		return mant + "e" + sign + digits
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// jsonValue converts decoded Marshal values into values encoding/json can write: Hashes
// with non-String keys get their keys' inspect form, Symbols and big integers become
// strings, and non-finite floats become their Ruby names.
func jsonValue(v any) any {
	switch t := v.(type) {
	case marshal.Symbol:
		return string(t)
	case marshal.Binary:
		return string(t)
	case *big.Int:
		return t.String()
	case marshal.Regexp:
		return "/" + t.Source + "/"
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return inspectFloat(t)
		}
		return t
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = jsonValue(x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = jsonValue(x)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			ks, ok := mapKey(k)
			if !ok {
				ks = inspectValue(k)
			}
			out[ks] = jsonValue(x)
		}
		return out
	}
	return v
}

// mapKey returns a Hash key's name when it is a String or a Symbol.
func mapKey(k any) (string, bool) {
	switch t := k.(type) {
	case string:
		return t, true
	case marshal.Symbol:
		return string(t), true
	}
	return "", false
}
