package marshal

import (
	"cmp"
	"math/big"
	"reflect"
	"slices"
)

// Key kinds, in the order the encoder writes Hash pairs.
const (
	kindNil = iota
	kindBool
	kindInt
	kindFloat
	kindString
	kindSymbol
	kindRegexp
	kindOther
)

// sortKey is a map key with what it sorts by, computed once.
type sortKey struct {
	k    any
	kind int
	i    *big.Int // kindInt
	f    float64  // kindFloat
	s    string   // kindBool ("0"/"1"), kindString, kindSymbol, kindRegexp source
	opt  byte     // kindRegexp
}

func makeSortKey(k any) sortKey {
	sk := sortKey{k: k, kind: kindOther}
	switch x := k.(type) {
	case nil:
		sk.kind = kindNil
	case bool:
		sk.kind = kindBool
		if x {
			sk.s = "1"
		} else {
			sk.s = "0"
		}
	case int:
		sk.kind, sk.i = kindInt, big.NewInt(int64(x))
	case int8:
		sk.kind, sk.i = kindInt, big.NewInt(int64(x))
	case int16:
		sk.kind, sk.i = kindInt, big.NewInt(int64(x))
	case int32:
		sk.kind, sk.i = kindInt, big.NewInt(int64(x))
	case int64:
		sk.kind, sk.i = kindInt, big.NewInt(x)
	case uint:
		sk.kind, sk.i = kindInt, new(big.Int).SetUint64(uint64(x))
	case uint8:
		sk.kind, sk.i = kindInt, new(big.Int).SetUint64(uint64(x))
	case uint16:
		sk.kind, sk.i = kindInt, new(big.Int).SetUint64(uint64(x))
	case uint32:
		sk.kind, sk.i = kindInt, new(big.Int).SetUint64(uint64(x))
	case uint64:
		sk.kind, sk.i = kindInt, new(big.Int).SetUint64(x)
	case uintptr:
		sk.kind, sk.i = kindInt, new(big.Int).SetUint64(uint64(x))
	case *big.Int:
		if x != nil {
			sk.kind, sk.i = kindInt, x
		}
	case float64:
		sk.kind, sk.f = kindFloat, x
	case float32:
		sk.kind, sk.f = kindFloat, float64(x)
	case string:
		sk.kind, sk.s = kindString, x
	case Binary:
		sk.kind, sk.s = kindString, string(x)
	case Symbol:
		sk.kind, sk.s = kindSymbol, string(x)
	case Regexp:
		sk.kind, sk.s, sk.opt = kindRegexp, x.Source, x.Options
	}
	return sk
}

func compareSortKeys(a, b sortKey) int {
	if c := cmp.Compare(a.kind, b.kind); c != 0 {
		return c
	}
	c := 0
	switch a.kind {
	case kindInt:
		c = a.i.Cmp(b.i)
	case kindFloat:
		c = cmp.Compare(a.f, b.f) // NaN sorts first, consistently
	case kindBool, kindString, kindSymbol:
		c = cmp.Compare(a.s, b.s)
	case kindRegexp:
		if c = cmp.Compare(a.s, b.s); c == 0 {
			c = cmp.Compare(a.opt, b.opt)
		}
	}
	if c != 0 {
		return c
	}
	// Equal values of different Go types (int(1) and int64(1), string and Binary) are
	// ordered by type name; this is rare, so the name is not precomputed.
	return cmp.Compare(typeName(a.k), typeName(b.k))
}

// sortedKeys returns the keys of m in the encoder's deterministic order: by kind (nil,
// booleans, integers, floats, strings, symbols, regexps, anything else), then by value, then
// by Go type name. Keys of other types keep an arbitrary relative order; encoding them fails
// anyway.
func sortedKeys(m map[any]any) []any {
	sks := make([]sortKey, 0, len(m))
	for k := range m {
		sks = append(sks, makeSortKey(k))
	}
	slices.SortFunc(sks, compareSortKeys)
	keys := make([]any, len(sks))
	for i, sk := range sks {
		keys[i] = sk.k
	}
	return keys
}

func typeName(v any) string {
	if v == nil {
		return ""
	}
	return reflect.TypeOf(v).String()
}
