// Package marshal encodes and decodes Ruby Marshal 4.8, for the subset of types that
// MCollective 2.12 puts on the wire. It is a pure codec: bytes in, Go values out, no I/O.
//
// Ruby values map to Go values as follows:
//
//	nil                 nil
//	true, false         bool
//	Fixnum, Bignum      int64, or *big.Int when it does not fit in int64
//	Float               float64
//	String              string (every encoding; the encoding ivar is not kept)
//	Symbol              Symbol (kept distinct from string)
//	Array               []any
//	Hash                map[any]any (a Hash with default decodes the same; the default is dropped)
//	Regexp              Regexp
//
// An object link ('@') decodes to the very value it refers to, so a decoded document may
// share slices and maps between several places; copy before mutating. A link back into an
// Array or Hash that is still being read (a cyclic value) is an ErrUnsupported error, as are
// the Ruby types outside the table above, and a Hash key that Go cannot compare (Array, Hash,
// or an integer that needs *big.Int). Decoding is bounded by Limits.
//
// The encoder also accepts Binary (a String written with no encoding ivar, as Ruby writes
// binary data such as an envelope's :body), and common Go shapes such as int, []string,
// map[string]any and map[Symbol]any.
package marshal

// Symbol is a Ruby Symbol. It is a distinct type so that :agent and "agent" never compare equal.
type Symbol string

// Binary is a String with no encoding, written without the :E ivar (Ruby's ASCII-8BIT).
// Decoding never produces Binary; it produces string.
type Binary string

// Regexp is a Ruby Regexp: its source and its option bits (1 ignorecase, 2 extended, 4 multiline).
type Regexp struct {
	Source  string
	Options byte
}
