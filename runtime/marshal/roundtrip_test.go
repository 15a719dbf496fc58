package marshal

import (
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

type roundTrip struct {
	name string
	v    any // encoded
	want any // decoded; nil means v itself
}

func bigFromString(s string) *big.Int {
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("bad big literal " + s)
	}
	return b
}

// roundTrips is also the seed corpus of FuzzUnmarshal.
var roundTrips = []roundTrip{
	{name: "nil", v: nil},
	{name: "true", v: true},
	{name: "false", v: false},
	{name: "zero", v: int64(0)},
	{name: "fixnum edges", v: []any{int64(122), int64(123), int64(-123), int64(-124), int64(255), int64(256), int64(-256), int64(-257)}},
	{name: "fixnum range", v: []any{int64(1<<30 - 1), int64(-1 << 30)}},
	{name: "bignum in int64", v: []any{int64(1 << 30), int64(-1<<30 - 1), int64(1<<63 - 1), int64(-1 << 63), int64(0x6b0819ac)}},
	{name: "big.Int", v: []any{bigFromString("18446744073709551616"), bigFromString("-123456789012345678901234567890")}},
	{name: "big.Int that fits", v: big.NewInt(7), want: int64(7)},
	{name: "go int kinds", v: []any{1, int8(-2), int16(300), int32(-70000), uint(5), uint8(200), uint16(65535), uint32(1 << 31), uint64(1 << 63)},
		want: []any{int64(1), int64(-2), int64(300), int64(-70000), int64(5), int64(200), int64(65535), int64(1 << 31), new(big.Int).SetUint64(1 << 63)}},
	{name: "floats", v: []any{1.5, 100.0, 1e20, 1e-300, -2.5e-7, math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1, 1.0 / 3}},
	{name: "float specials", v: []any{math.Inf(1), math.Inf(-1), math.Copysign(0, -1)}},
	{name: "float32", v: float32(0.25), want: 0.25},
	{name: "strings", v: []any{"", "ping", "héllo", "日本語", "with\x00nul", strings.Repeat("x", 300)}},
	{name: "invalid utf-8", v: "\xc3\x28", want: "\xc3\x28"},
	{name: "binary", v: Binary("\x04\x08I\"\x09ping\x06:\x06ET"), want: "\x04\x08I\"\x09ping\x06:\x06ET"},
	{name: "symbols vs strings", v: []any{Symbol("agent"), "agent", Symbol("agent"), Symbol(""), Symbol("é"), Symbol("\xff")}},
	{name: "symbol E collides with ivar", v: []any{Symbol("E"), "x", Symbol("E")}},
	{name: "regexps", v: []any{Regexp{Source: "^web\\d+$"}, Regexp{Source: "x", Options: 7}, Regexp{Source: "é", Options: 1}, Regexp{Source: "\xff"}}},
	{name: "empty containers", v: []any{[]any{}, map[any]any{}, []any{[]any{}}, map[any]any{"": []any{}}}},
	{name: "string-keyed", v: map[string]any{"a": int64(1), "b": []any{"c"}}, want: map[any]any{"a": int64(1), "b": []any{"c"}}},
	{name: "symbol-keyed", v: map[Symbol]any{"a": nil, "b": true}, want: map[any]any{Symbol("a"): nil, Symbol("b"): true}},
	{name: "[]string", v: []string{"a", "b"}, want: []any{"a", "b"}},
	{name: "[]map[string]any", v: []map[string]any{{"and": "and"}}, want: []any{map[any]any{"and": "and"}}},
	{name: "mixed keys", v: map[any]any{nil: int64(0), true: int64(1), false: int64(2), int64(3): int64(3), 4.5: int64(4),
		"k": int64(5), Symbol("k"): int64(6), Regexp{Source: "k"}: int64(7)}},
	{name: "nested envelope", v: map[any]any{
		Symbol("body"):     "\x04\x08I\"\x09ping\x06:\x06ET",
		Symbol("senderid"): "client1.example",
		Symbol("filter"): map[any]any{
			"fact":     []any{map[any]any{Symbol("fact"): "osfamily", Symbol("value"): "Debian", Symbol("operator"): "=="}},
			"cf_class": []any{"role::web", "/regex/"},
			"agent":    []any{"rpcutil"},
			"identity": []any{"node1", "/^web\\d+/"},
			"compound": []any{[]any{map[any]any{"statement": "role::web"}, map[any]any{"and": "and"}},
				[]any{map[any]any{"fstatement": map[any]any{"name": "fstat", "r_compare": Regexp{Source: "x"}}}}},
		},
		Symbol("ttl"):     int64(60),
		Symbol("msgtime"): int64(1795692972),
	}},
	{name: "deep", v: nest(60)},
}

func nest(n int) any {
	var v any = "leaf"
	for i := range n {
		if i%2 == 0 {
			v = []any{v}
		} else {
			v = map[any]any{Symbol("k"): v}
		}
	}
	return v
}

func TestRoundTrip(t *testing.T) {
	for _, tt := range roundTrips {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Marshal(tt.v)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			got, err := Unmarshal(b)
			if err != nil {
				t.Fatalf("Unmarshal(% x): %v", b, err)
			}
			want := tt.want
			if want == nil {
				want = tt.v
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip\n got %#v\nwant %#v", got, want)
			}
		})
	}
}

// TestRoundTripNaN is separate because NaN != NaN.
func TestRoundTripNaN(t *testing.T) {
	b, err := Marshal(math.NaN())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := got.(float64); !ok || !math.IsNaN(f) {
		t.Errorf("got %#v, want NaN", got)
	}
}

func TestNegativeZero(t *testing.T) {
	b, _ := Marshal(math.Copysign(0, -1))
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := got.(float64); !ok || f != 0 || !math.Signbit(f) {
		t.Errorf("got %#v, want -0", got)
	}
}

// TestDecodeForms covers forms Ruby writes that the encoder does not.
func TestDecodeForms(t *testing.T) {
	tests := []struct {
		name string
		in   string // after the header
		want any
	}{
		{"us-ascii string", "I\"\x06a\x06:\x06EF", "a"},
		{"named encoding", "I\"\x06a\x06:\x0dencoding\"\x0eShift_JIS", "a"},
		{"encoding link", "[\x07I\"\x06a\x06:\x0dencoding\"\x0eShift_JIS" + "I\"\x06b\x06;\x00@\x07", []any{"a", "b"}},
		{"hash with default", "}\x06:\x06ai\x06i\x07", map[any]any{Symbol("a"): int64(1)}},
		{"string link", "[\x07I\"\x06a\x06:\x06ET@\x06", []any{"a", "a"}},
		{"float link", "[\x07f\x081.5@\x06", []any{1.5, 1.5}},
		{"bignum link", "[\x07l+\x07\x00\x00\x00\x40@\x06", []any{int64(1 << 30), int64(1 << 30)}},
		{"regexp link", "[\x07I/\x06x\x00\x06:\x06EF@\x06", []any{Regexp{Source: "x"}, Regexp{Source: "x"}}},
		{"array link", "[\x07[\x06i\x06@\x06", []any{[]any{int64(1)}, []any{int64(1)}}},
		{"link as key", "[\x07I\"\x06k\x06:\x06ET{\x06@\x06T", []any{"k", map[any]any{"k": true}}},
		{"bare regexp", "/\x06x\x04", Regexp{Source: "x", Options: 4}},
		{"i-wrapped symbol", "[\x07I:\x07\xc3\xa9\x06:\x06ET;\x00", []any{Symbol("é"), Symbol("é")}},
		{"i-wrapped array", "I[\x00\x06:\x07@aT", []any{}},
		{"old float mantissa", "f\x0b1.5\x00\xab\xcd", 1.5},
		{"float exponent", "f\x091e20", 1e20},
		{"float overflow", "f\x0a1e999", math.Inf(1)},
		{"duplicate keys, last wins", "{\x07:\x06ai\x06;\x00i\x07", map[any]any{Symbol("a"): int64(2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Unmarshal([]byte("\x04\x08" + tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}
