package audit

import (
	"math/big"

	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/rubyfmt"
	"github.com/mcorun/mcorun/runtime/value"
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

// jsonValue converts decoded Marshal values into values encoding/json can write: the reply
// normaliser's plain values (value.JSON), with big integers written as strings so that a
// JSON reader cannot round them.
func jsonValue(v any) any {
	return value.MapScalars(value.JSON(v), func(x any) any {
		if b, ok := x.(*big.Int); ok {
			return b.String()
		}
		return x
	})
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
