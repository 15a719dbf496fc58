package marshal

import (
	"errors"
	"math"
	"math/big"
	"reflect"
	"testing"
)

// hasNaN reports whether v holds a NaN anywhere (as a value or a key), where DeepEqual
// cannot be used.
func hasNaN(v any) bool {
	switch x := v.(type) {
	case float64:
		return math.IsNaN(x)
	case []any:
		for _, e := range x {
			if hasNaN(e) {
				return true
			}
		}
	case map[any]any:
		for k, e := range x {
			if hasNaN(k) || hasNaN(e) {
				return true
			}
		}
	}
	return false
}

func FuzzUnmarshal(f *testing.F) {
	for _, name := range captureNames {
		b := readCapture(f, name)
		f.Add(b)
		// The inner :body of each capture is a document too.
		if v, err := Unmarshal(b); err == nil {
			if inner, ok := v.(map[any]any)[Symbol("body")].(string); ok {
				f.Add([]byte(inner))
			}
		}
	}
	for _, rt := range roundTrips {
		b, err := Marshal(rt.v)
		if err != nil {
			f.Fatalf("%s: %v", rt.name, err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Unmarshal(data)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrLimit) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			if v != nil {
				t.Fatalf("value %#v returned with error %v", v, err)
			}
			return
		}
		b, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal of decoded %#v: %v", v, err)
		}
		back, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("decode of re-encoded % x: %v", b, err)
		}
		if hasNaN(v) {
			return
		}
		if !reflect.DeepEqual(back, v) {
			t.Fatalf("round trip changed the value\n got %#v\nwant %#v", back, v)
		}
		// Encoding is deterministic, so the re-encoded form is a fixed point.
		again, err := Marshal(back)
		if err != nil || string(again) != string(b) {
			t.Fatalf("second encode differs: %v\n% x\n% x", err, again, b)
		}
	})
}

func BenchmarkUnmarshalRequest(b *testing.B) {
	data := readCapture(b, "example_request_rpcutil_ping.bin")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unmarshal(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalReply(b *testing.B) {
	v, err := Unmarshal(readCapture(b, "example_reply_rpcutil_ping.bin"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarshalBigMap measures key sorting on a map[any]any with mixed keys.
func BenchmarkMarshalBigMap(b *testing.B) {
	m := map[any]any{}
	for i := range 1000 {
		m[Symbol(big.NewInt(int64(i)).String())] = i
		m[i] = "v"
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}
