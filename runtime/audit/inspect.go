package audit

import (
	"math"
	"math/big"

	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/rubyfmt"
)

// inspect renders request data as MCollective's audit line does (request.data.inspect, Ruby
// 3.1): a Hash whose keys, the input names, are Symbols: {:message=>"hi", :process_results=>true}.
// Entries are sorted, since the decoded Hash has lost Ruby's insertion order.
func inspect(data map[string]any) string {
	h := make(map[marshal.Symbol]any, len(data))
	for k, v := range data {
		h[marshal.Symbol(k)] = v
	}
	return rubyfmt.Inspect(h)
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
			return rubyfmt.Float(t)
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
				ks = rubyfmt.Inspect(k)
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
