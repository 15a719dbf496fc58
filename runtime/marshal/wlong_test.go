package marshal

import (
	"bytes"
	"math/big"
	"testing"
)

func TestLongEncoding(t *testing.T) {
	tests := []struct {
		x    int64
		want []byte
	}{
		{0, []byte{0x00}},
		{1, []byte{0x06}},
		{122, []byte{0x7f}},
		{123, []byte{0x01, 0x7b}},
		{255, []byte{0x01, 0xff}},
		{256, []byte{0x02, 0x00, 0x01}},
		{-1, []byte{0xfa}},
		{-123, []byte{0x80}},
		{-124, []byte{0xff, 0x84}},
		{-256, []byte{0xff, 0x00}},
		{-257, []byte{0xfe, 0xff, 0xfe}},
		{1<<30 - 1, []byte{0x04, 0xff, 0xff, 0xff, 0x3f}},
		{-1 << 30, []byte{0xfc, 0x00, 0x00, 0x00, 0xc0}},
		{maxLong, []byte{0x04, 0xff, 0xff, 0xff, 0x7f}},
		{minLong, []byte{0xfc, 0x00, 0x00, 0x00, 0x80}},
	}
	for _, tt := range tests {
		t.Run(big.NewInt(tt.x).String(), func(t *testing.T) {
			if got := appendLong(nil, tt.x); !bytes.Equal(got, tt.want) {
				t.Errorf("appendLong(%d) = % x, want % x", tt.x, got, tt.want)
			}
			x, n, ok := readLong(tt.want, 0)
			if !ok || x != tt.x || n != len(tt.want) {
				t.Errorf("readLong(% x) = %d, %d, %v; want %d, %d, true", tt.want, x, n, ok, tt.x, len(tt.want))
			}
		})
	}
}

// TestLongDecodeOnly covers forms Ruby loads but never writes.
func TestLongDecodeOnly(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want int64
	}{
		{"non-canonical 5", []byte{0x01, 0x05}, 5},
		{"4-byte 1700000000", []byte{0x04, 0x00, 0xf1, 0x53, 0x65}, 1700000000},
		{"4-byte max", []byte{0x04, 0xff, 0xff, 0xff, 0xff}, 1<<32 - 1},
		{"4-byte min", []byte{0xfc, 0x00, 0x00, 0x00, 0x00}, -1 << 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, n, ok := readLong(tt.in, 0)
			if !ok || x != tt.want || n != len(tt.in) {
				t.Errorf("readLong(% x) = %d, %d, %v; want %d", tt.in, x, n, ok, tt.want)
			}
		})
	}
	for _, in := range [][]byte{{}, {0x01}, {0x02, 0x00}, {0xfc, 0, 0, 0}} {
		if _, _, ok := readLong(in, 0); ok {
			t.Errorf("readLong(% x) succeeded on truncated input", in)
		}
	}
}

// TestIntegerEncoding checks Fixnum/Bignum choice and bytes, from the reference.
func TestIntegerEncoding(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want []byte // after the 04 08 header
	}{
		{"0", 0, []byte("i\x00")},
		{"60", int64(60), []byte("iA")},
		{"123", int32(123), []byte("i\x01\x7b")},
		{"256", uint16(256), []byte("i\x02\x00\x01")},
		{"-124", int8(-124), []byte("i\xff\x84")},
		{"-256", -256, []byte("i\xff\x00")},
		{"-257", -257, []byte("i\xfe\xff\xfe")},
		{"2^30-1", 1<<30 - 1, []byte("i\x04\xff\xff\xff\x3f")},
		{"2^30", 1 << 30, []byte("l+\x07\x00\x00\x00\x40")},
		{"-2^30", -1 << 30, []byte("i\xfc\x00\x00\x00\xc0")},
		{"-2^30-1", -1<<30 - 1, []byte("l-\x07\x01\x00\x00\x40")},
		{"msgtime", int64(0x6b0819ac), []byte("l+\x07\xac\x19\x08\x6b")},
		{"2^32", int64(1) << 32, []byte("l+\x08\x00\x00\x00\x00\x01\x00")},
		{"uint64 max", ^uint64(0), []byte("l+\x09\xff\xff\xff\xff\xff\xff\xff\xff")},
		{"int64 min", int64(-1 << 63), []byte("l-\x09\x00\x00\x00\x00\x00\x00\x00\x80")},
		{"big 2^64", new(big.Int).Lsh(big.NewInt(1), 64), []byte("l+\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00")},
		{"big small", big.NewInt(-5), []byte("i\xf6")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]byte{4, 8}, tt.want...)
			if !bytes.Equal(got, want) {
				t.Errorf("Marshal(%v) = % x, want % x", tt.v, got, want)
			}
		})
	}
}

// TestIntegerDecoding checks what Go type each integer form decodes to.
func TestIntegerDecoding(t *testing.T) {
	big64, _ := new(big.Int).SetString("18446744073709551616", 10)
	tests := []struct {
		name string
		in   string // after the header
		want any
	}{
		{"fixnum 4-byte", "i\x04\x00\xf1\x53\x65", int64(1700000000)},
		{"bignum 2^30", "l+\x07\x00\x00\x00\x40", int64(1 << 30)},
		{"bignum negative", "l-\x07\x01\x00\x00\x40", int64(-1<<30 - 1)},
		{"bignum int64 max", "l+\x09\xff\xff\xff\xff\xff\xff\xff\x7f", int64(1<<63 - 1)},
		{"bignum int64 min", "l-\x09\x00\x00\x00\x00\x00\x00\x00\x80", int64(-1 << 63)},
		{"bignum zero words", "l+\x00", int64(0)},
		{"bignum high zero words", "l+\x0b\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", int64(5)},
		{"bignum 2^64", "l+\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00", big64},
		{"bignum -2^64", "l-\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00", new(big.Int).Neg(big64)},
		{"bignum uint64 max", "l+\x09\xff\xff\xff\xff\xff\xff\xff\xff", new(big.Int).SetUint64(^uint64(0))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Unmarshal([]byte("\x04\x08" + tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if b, ok := tt.want.(*big.Int); ok {
				gb, ok := got.(*big.Int)
				if !ok || gb.Cmp(b) != 0 {
					t.Errorf("got %#v (%T), want *big.Int %s", got, got, b)
				}
				return
			}
			if got != tt.want {
				t.Errorf("got %#v (%T), want %#v", got, got, tt.want)
			}
		})
	}
}
