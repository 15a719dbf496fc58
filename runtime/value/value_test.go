package value

import (
	"encoding/json"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/marshal"
)

var big80 = new(big.Int).Lsh(big.NewInt(1), 80)

// nested returns n Arrays nested in one another around "x".
func nested(n int) any {
	var v any = "x"
	for range n {
		v = []any{v}
	}
	return v
}

// cut returns n Arrays nested in one another around nil: what Plain keeps of deeper ones.
func cut(n int) any {
	var v any = []any{nil}
	for range n - 1 {
		v = []any{v}
	}
	return v
}

func TestPlain(t *testing.T) {
	sym := func(s string) marshal.Symbol { return marshal.Symbol(s) }
	for _, tc := range []struct {
		name    string
		in, out any
	}{
		{"nil", nil, nil},
		{"bool", true, true},
		{"string", "Debian", "Debian"},
		{"symbol", sym("ok"), "ok"},
		{"binary string", marshal.Binary("\xff\x00a"), "\xff\x00a"},
		{"byte slice", []byte("ab"), "ab"},
		{"regexp", marshal.Regexp{Source: "a/b", Options: 1}, "/a/b/"},
		{"int64", int64(-7), int64(-7)},
		{"go int", 7, int64(7)},
		{"go int8", int8(-8), int64(-8)},
		{"go uint32", uint32(9), int64(9)},
		{"uint64 fits", uint64(math.MaxInt64), int64(math.MaxInt64)},
		{"uint64 too big", uint64(math.MaxUint64), new(big.Int).SetUint64(math.MaxUint64)},
		{"big int too big", big80, big80},
		{"big int fits", big.NewInt(-5), int64(-5)},
		{"nil big int", (*big.Int)(nil), nil},
		{"float32", float32(1.5), 1.5},
		{"float64", 0.25, 0.25},
		{"json integer", json.Number("12"), int64(12)},
		{"json big integer", json.Number("1208925819614629174706176"), big80},
		{"json float", json.Number("1.5"), 1.5},
		{"unknown type", time.Duration(1500) * time.Millisecond, "1.5s"},
		{"struct", struct{ A int }{1}, "{1}"},
		{"string slice", []string{"a", "b"}, []any{"a", "b"}},
		{"array", []any{sym("a"), int8(1), nil, marshal.Regexp{Source: "x"}}, []any{"a", int64(1), nil, "/x/"}},
		{"nested symbol keys",
			map[any]any{sym("facts"): map[any]any{sym("os"): map[any]any{sym("family"): "Debian", "release": int64(12)}}},
			map[string]any{"facts": map[string]any{"os": map[string]any{"family": "Debian", "release": int64(12)}}}},
		{"symbol map", map[marshal.Symbol]any{"a": sym("b")}, map[string]any{"a": "b"}},
		{"string map", map[string]any{"a": []any{sym("b")}}, map[string]any{"a": []any{"b"}}},
		{"non-string keys",
			map[any]any{nil: 1, true: 2, int64(5): 3, 1.5: 4, 1e20: 5, marshal.Regexp{Source: "a", Options: 1}: 6},
			map[string]any{"": int64(1), "true": int64(2), "5": int64(3), "1.5": int64(4), "1.0e+20": int64(5), "(?i-mx:a)": int64(6)}},
		{"string key beats symbol", map[any]any{sym("a"): "sym", "a": "str"}, map[string]any{"a": "str"}},
		{"symbol key beats integer", map[any]any{sym("1"): "sym", int64(1): "int"}, map[string]any{"1": "sym"}},
		{"string key beats nil", map[any]any{"": "str", nil: "nil"}, map[string]any{"": "str"}},
		{"same rank, same inspect: smaller value wins",
			map[any]any{1: "b", int64(1): "a"}, map[string]any{"1": "a"}},
		{"NaN keys", map[any]any{math.NaN(): int64(2), math.NaN(): int64(1)}, map[string]any{"NaN": int64(1)}},
		{"empty", map[any]any{}, map[string]any{}},
		{"depth kept", nested(MaxDepth), nested(MaxDepth)},
		{"depth cut", nested(MaxDepth + 1), cut(MaxDepth)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Plain(tc.in)
			if !reflect.DeepEqual(got, tc.out) {
				t.Fatalf("Plain(%#v)\n got %#v\nwant %#v", tc.in, got, tc.out)
			}
			checkPlain(t, got, 0)
		})
	}
}

// TestPlainCollisionOrder checks that the winner of a key collision does not depend on the
// map's iteration order.
func TestPlainCollisionOrder(t *testing.T) {
	in := map[any]any{marshal.Symbol("k"): 1, "k": 2, marshal.Symbol("5"): 3, int64(5): 4, 5: 5, math.NaN(): 6, math.NaN(): 7}
	want := Plain(in)
	for range 100 {
		if got := Plain(in); !reflect.DeepEqual(got, want) {
			t.Fatalf("Plain = %#v, then %#v", want, got)
		}
	}
}

// TestPlainCopies checks that the result shares no container with the input.
func TestPlainCopies(t *testing.T) {
	inner := []any{"a"}
	in := map[string]any{"list": inner}
	out := Plain(in).(map[string]any)
	out["list"].([]any)[0] = "changed"
	out["new"] = 1
	if inner[0] != "a" || len(in) != 1 {
		t.Fatalf("Plain shares its input: %#v", in)
	}
}

func TestJSON(t *testing.T) {
	in := map[any]any{
		marshal.Symbol("floats"): []any{math.NaN(), math.Inf(1), math.Inf(-1), 1.5},
		int64(7):                 big80,
	}
	want := map[string]any{"floats": []any{"NaN", "Infinity", "-Infinity", 1.5}, "7": big80}
	got := JSON(in)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("JSON = %#v, want %#v", got, want)
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); s != `{"7":1208925819614629174706176,"floats":["NaN","Infinity","-Infinity",1.5]}` {
		t.Fatalf("encoded %s", s)
	}
	if got := JSON(math.NaN()); got != "NaN" {
		t.Fatalf("JSON(NaN) = %#v", got)
	}
}

func TestMapScalars(t *testing.T) {
	got := MapScalars(Plain(map[any]any{"n": []any{int64(1), "a"}}), func(x any) any {
		if n, ok := x.(int64); ok {
			return n + 1
		}
		return x
	})
	if want := map[string]any{"n": []any{int64(2), "a"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("MapScalars = %#v", got)
	}
}

// checkPlain fails unless v holds only the types the package documents.
func checkPlain(t *testing.T, v any, depth int) {
	t.Helper()
	if depth > MaxDepth {
		t.Fatalf("nested deeper than %d", MaxDepth)
	}
	switch x := v.(type) {
	case nil, bool, string, int64, float64:
	case *big.Int:
		if x == nil || x.IsInt64() {
			t.Fatalf("*big.Int %v that fits int64", x)
		}
	case []any:
		for _, e := range x {
			checkPlain(t, e, depth+1)
		}
	case map[string]any:
		for _, e := range x {
			checkPlain(t, e, depth+1)
		}
	default:
		t.Fatalf("type %T outside the closed set", v)
	}
}

func FuzzPlain(f *testing.F) {
	dir := filepath.Join("..", "marshal", "testdata")
	names, _ := filepath.Glob(filepath.Join(dir, "*.bin"))
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, v := range []any{
		map[any]any{marshal.Symbol("a"): "x", "a": "y", int64(1): nil, nil: 1.5, 2.5: true},
		[]any{marshal.Regexp{Source: "r", Options: 5}, big80, math.NaN(), marshal.Binary("\xff")},
		map[any]any{marshal.Symbol("data"): map[any]any{marshal.Symbol("list"): []any{marshal.Symbol("s"), int64(-1)}}},
		nested(MaxDepth - 1),
	} {
		b, err := marshal.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := marshal.Unmarshal(data)
		if err != nil {
			return
		}
		p := Plain(v)
		checkPlain(t, p, 0)
		if q := Plain(p); !reflect.DeepEqual(q, p) && !hasNaN(p) {
			t.Fatalf("Plain is not idempotent\n got %#v\nthen %#v", p, q)
		}
		if _, err := json.Marshal(JSON(v)); err != nil {
			t.Fatalf("JSON result does not encode: %v", err)
		}
	})
}

// hasNaN reports whether a plain value holds a NaN, where DeepEqual cannot compare.
func hasNaN(v any) bool {
	found := false
	MapScalars(Plain(v), func(x any) any {
		if f, ok := x.(float64); ok && math.IsNaN(f) {
			found = true
		}
		return x
	})
	return found
}
