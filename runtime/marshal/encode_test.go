package marshal

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"testing"
)

// TestMarshalBytes compares encodings with bytes written by hand from the wire reference.
func TestMarshalBytes(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string // after the 04 08 header
	}{
		{"nil", nil, "0"},
		{"true", true, "T"},
		{"false", false, "F"},
		{"ping", "ping", "I\"\x09ping\x06:\x06ET"},
		{"empty string", "", "I\"\x00\x06:\x06ET"},
		{"invalid utf-8 raw", "\xff\xfe", "\"\x07\xff\xfe"},
		{"binary", Binary("\x04\x08[\x00"), "\"\x09\x04\x08[\x00"},
		{"symbol", Symbol("agent"), ":\x0aagent"},
		{"utf-8 symbol", Symbol("é"), "I:\x07\xc3\xa9\x06:\x06ET"},
		{"float 1.5", 1.5, "f\x081.5"},
		{"float 100", 100.0, "f\x08100"},
		{"float -0", math.Copysign(0, -1), "f\x07-0"},
		{"float inf", math.Inf(1), "f\x08inf"},
		{"float -inf", math.Inf(-1), "f\x09-inf"},
		{"float nan", math.NaN(), "f\x08nan"},
		{"float32", float32(0.5), "f\x080.5"},
		{"regexp", Regexp{Source: "^web\\d+", Options: 1}, "I/\x0c^web\\d+\x01\x06:\x06EF"},
		{"regexp utf-8", Regexp{Source: "é"}, "I/\x07\xc3\xa9\x00\x06:\x06ET"},
		{"empty array", []any{}, "[\x00"},
		{"empty hash", map[any]any{}, "{\x00"},
		{"nil map", map[string]any(nil), "{\x00"},
		{
			"strings share :E",
			[]string{"a", "b"},
			"[\x07I\"\x06a\x06:\x06ETI\"\x06b\x06;\x00T",
		},
		{
			"symbol keys sorted, symlinks",
			map[Symbol]any{"data": map[Symbol]any{"process_results": true}, "agent": "rpcutil"},
			"{\x07:\x0aagentI\"\x0crpcutil\x06:\x06ET:\x09data{\x06:\x14process_resultsT",
		},
		{
			"repeated symbols",
			[]any{Symbol("a"), Symbol("b"), Symbol("a"), "x"},
			"[\x09:\x06a:\x06b;\x00I\"\x06x\x06:\x06ET",
		},
		{
			"string keys",
			map[string]any{"fact": []any{}, "agent": []string{"rpcutil"}},
			"{\x07I\"\x0aagent\x06:\x06ET[\x06I\"\x0crpcutil\x06;\x00TI\"\x09fact\x06;\x00T[\x00",
		},
		{
			"mixed keys by kind",
			map[any]any{Symbol("s"): 1, "s": 2, 3: nil, nil: false, true: 0, 1.5: 0},
			"{\x0b0FTi\x00i\x080f\x081.5i\x00I\"\x06s\x06:\x06ETi\x07:\x06si\x06",
		},
		{
			"filter entry",
			[]map[string]any{{"statement": "x"}},
			"[\x06{\x06I\"\x0estatement\x06:\x06ETI\"\x06x\x06;\x00T",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			want := []byte("\x04\x08" + tt.want)
			if !bytes.Equal(got, want) {
				t.Errorf("Marshal(%#v)\n got % x\nwant % x", tt.v, got, want)
			}
		})
	}
}

// TestMarshalInnerBody checks that the RPC body from the reference's worked example encodes
// to a document that decodes back to the same value, and that each piece is where Ruby would
// expect it (:agent first after sorting, one :E then symlinks).
func TestMarshalInnerBody(t *testing.T) {
	body := map[Symbol]any{
		"agent":  "rpcutil",
		"action": "ping",
		"caller": "uid=0",
		"data":   map[Symbol]any{"process_results": true},
	}
	got, err := Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	want := "\x04\x08{\x09" +
		":\x0baction" + "I\"\x09ping\x06:\x06ET" +
		":\x0aagent" + "I\"\x0crpcutil\x06;\x06T" +
		":\x0bcaller" + "I\"\x0auid=0\x06;\x06T" +
		":\x09data" + "{\x06:\x14process_resultsT"
	if string(got) != want {
		t.Errorf("got  % x\nwant % x", got, want)
	}
}

func TestMarshalUnsupported(t *testing.T) {
	cyclic := []any{nil}
	cyclic[0] = cyclic
	cyclicMap := map[any]any{}
	cyclicMap["self"] = cyclicMap
	tests := []struct {
		name string
		v    any
		want error
	}{
		{"struct", struct{}{}, ErrUnsupported},
		{"pointer", new(int), ErrUnsupported},
		{"chan", make(chan int), ErrUnsupported},
		{"byte slice", []byte("x"), ErrUnsupported},
		{"nested", []any{map[string]any{"x": complex(1, 2)}}, ErrUnsupported},
		{"map key", map[any]any{struct{}{}: 1}, ErrUnsupported},
		{"nil big.Int", (*big.Int)(nil), ErrUnsupported},
		{"map[int]any", map[int]any{1: 2}, ErrUnsupported},
		{"cyclic slice", cyclic, ErrLimit},
		{"cyclic map", cyclicMap, ErrLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Marshal(tt.v)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Marshal = % x, %v; want an error wrapping %v", b, err, tt.want)
			}
			if msg := err.Error(); len(msg) < 9 || msg[:9] != "marshal: " {
				t.Errorf("error %q does not start with \"marshal: \"", msg)
			}
		})
	}
}

// TestMarshalDeterministic encodes a map with many keys repeatedly and expects one result.
func TestMarshalDeterministic(t *testing.T) {
	m := map[any]any{}
	for i := range 50 {
		m[i] = i
		m[Symbol(big.NewInt(int64(i)).String())] = i
		m[big.NewInt(int64(i)).String()] = i
		m[float64(i)+0.5] = i
	}
	m[int64(1)] = "int64 one" // same value as int 1, different Go type
	m[Binary("1")] = "binary one"
	first, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, err := Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, first) {
			t.Fatal("Marshal of the same map gave different bytes")
		}
	}
}
