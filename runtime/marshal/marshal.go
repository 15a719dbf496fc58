package marshal

import "errors"

// Sentinel errors. Every error returned by this package wraps exactly one of them, so callers
// can classify failures with errors.Is.
var (
	// ErrSyntax reports malformed input: a bad header, a truncated stream, an unknown type
	// byte, a link or symlink to an index that does not exist, or trailing bytes.
	ErrSyntax = errors.New("marshal: malformed input")
	// ErrLimit reports that a document exceeds a Limits bound (or, when encoding, a nesting
	// depth that suggests a cyclic value).
	ErrLimit = errors.New("marshal: limit exceeded")
	// ErrUnsupported reports a valid Ruby type outside the supported subset (objects, structs,
	// user-defined dumps, classes, modules, ...), a value Go cannot represent (a Hash keyed by
	// an Array, a Hash or a big integer, or a cyclic structure), or, when encoding, a Go type
	// that has no mapping.
	ErrUnsupported = errors.New("marshal: unsupported type")
)

// Limits bounds the work and memory that decoding an untrusted document may take.
// A field that is zero (or negative) means the corresponding field of DefaultLimits().
type Limits struct {
	// MaxDepth is the deepest allowed nesting of Arrays and Hashes; the root container is at
	// depth 1. Instance-variable wrappers allow one level more, so that a String can always be
	// I-wrapped wherever a bare String is accepted.
	MaxDepth int
	// MaxBytes bounds the length of any one String, Symbol, Float text, Regexp source or
	// Bignum magnitude.
	MaxBytes int
	// MaxElements bounds the total number of Array elements and Hash pairs in the document.
	// An object link '@' to an Array or Hash is charged again with all the elements under it,
	// so the bound also holds for the value as a tree (as an encoder would write it back).
	MaxElements int
}

// The default limits: nesting depth 64, 16 MiB per string and 1<<20 elements in total.
const (
	defaultMaxDepth    = 64
	defaultMaxBytes    = 16 << 20
	defaultMaxElements = 1 << 20
)

// DefaultLimits returns the limits Unmarshal uses: nesting depth 64, 16 MiB per string and
// 1<<20 elements in total.
func DefaultLimits() Limits {
	return Limits{MaxDepth: defaultMaxDepth, MaxBytes: defaultMaxBytes, MaxElements: defaultMaxElements}
}

// Unmarshal decodes one Ruby Marshal 4.8 document using DefaultLimits().
// The result uses the Go types listed in the package documentation.
func Unmarshal(data []byte) (any, error) {
	return UnmarshalLimits(data, DefaultLimits())
}

// UnmarshalLimits decodes one Ruby Marshal 4.8 document, enforcing l. A zero field in l
// means that field of DefaultLimits(). The whole of data must be one document: trailing
// bytes are an ErrSyntax error.
func UnmarshalLimits(data []byte, l Limits) (any, error) {
	if l.MaxDepth <= 0 {
		l.MaxDepth = defaultMaxDepth
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultMaxBytes
	}
	if l.MaxElements <= 0 {
		l.MaxElements = defaultMaxElements
	}
	d := decoder{data: data, lim: l}
	return d.document()
}

// Marshal encodes v as a Ruby Marshal 4.8 document.
//
// Accepted types: nil; bool; every Go integer kind and *big.Int (Fixnum when in
// -2^30..2^30-1, else Bignum); float64 and float32; string (I-wrapped with :E true when valid
// UTF-8, else written raw); Binary (raw, no encoding); Symbol; Regexp; []any, []string,
// []map[string]any; map[any]any, map[string]any (String keys) and map[Symbol]any (Symbol
// keys). Hash pairs are written in a deterministic order: keys sorted by kind (nil, booleans,
// integers, floats, strings, symbols, regexps) and then by value. Repeated symbols are
// written as symlinks; repeated strings and containers are written as fresh copies, never as
// object links. Any other type gives an ErrUnsupported error.
func Marshal(v any) ([]byte, error) {
	e := encoder{buf: make([]byte, 0, 256)}
	e.buf = append(e.buf, 4, 8)
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}
