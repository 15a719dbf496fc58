package value

import (
	"math"

	"github.com/mcorun/mcorun/runtime/rubyfmt"
)

// JSON returns Plain(v) in a form encoding/json writes without error, as Ruby's JSON output
// shows it: a NaN or infinite float becomes the string "NaN", "Infinity" or "-Infinity"
// (Ruby's Float#to_s). Everything else is as Plain returns it; encoding/json writes a
// *big.Int as its digits.
func JSON(v any) any {
	return MapScalars(Plain(v), func(x any) any {
		if f, ok := x.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return rubyfmt.Float(f)
		}
		return x
	})
}

// MapScalars replaces every value in p that is not an Array ([]any) or a Hash
// (map[string]any) by f of it, and returns the result. It changes p's Arrays and Hashes in
// place, so p must be a value the caller owns, such as Plain's result.
func MapScalars(p any, f func(any) any) any {
	switch x := p.(type) {
	case []any:
		for i, e := range x {
			x[i] = MapScalars(e, f)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = MapScalars(e, f)
		}
		return x
	}
	return f(p)
}
