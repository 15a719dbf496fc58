package marshal

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"unicode/utf8"
)

// maxEncodeDepth bounds the nesting the encoder follows. It exists to turn a cyclic Go value
// (a map or slice that contains itself) into an ErrLimit error instead of a stack overflow.
const maxEncodeDepth = 1024

// Fixnum range: Ruby writes 'i' only for -2^30..2^30-1.
const (
	minFixnum = -1 << 30
	maxFixnum = 1<<30 - 1
)

// encoder writes one document.
type encoder struct {
	buf  []byte
	syms map[Symbol]int // symbol table, for ';' symlinks
}

func unsupported(v any) error {
	return fmt.Errorf("%w: cannot encode Go type %T", ErrUnsupported, v)
}

func (e *encoder) value(v any, depth int) error {
	if depth > maxEncodeDepth {
		return fmt.Errorf("%w: value nested deeper than %d (cyclic?)", ErrLimit, maxEncodeDepth)
	}
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, '0')
	case bool:
		if x {
			e.buf = append(e.buf, 'T')
		} else {
			e.buf = append(e.buf, 'F')
		}
	case int:
		e.int64(int64(x))
	case int8:
		e.int64(int64(x))
	case int16:
		e.int64(int64(x))
	case int32:
		e.int64(int64(x))
	case int64:
		e.int64(x)
	case uint:
		e.uint64(uint64(x))
	case uint8:
		e.uint64(uint64(x))
	case uint16:
		e.uint64(uint64(x))
	case uint32:
		e.uint64(uint64(x))
	case uint64:
		e.uint64(x)
	case uintptr:
		e.uint64(uint64(x))
	case *big.Int:
		if x == nil {
			return fmt.Errorf("%w: cannot encode a nil *big.Int", ErrUnsupported)
		}
		return e.bigInt(x)
	case float64:
		e.float(x)
	case float32:
		e.float(float64(x))
	case string:
		return e.string(x)
	case Binary:
		return e.bytes('"', string(x), "string")
	case Symbol:
		return e.symbol(x)
	case Regexp:
		return e.regexp(x)
	case []any:
		return e.array(len(x), depth, func(i int) any { return x[i] })
	case []string:
		return e.array(len(x), depth, func(i int) any { return x[i] })
	case []map[string]any:
		return e.array(len(x), depth, func(i int) any { return x[i] })
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return e.hash(len(keys), depth, func(i int) (any, any) { return keys[i], x[keys[i]] })
	case map[Symbol]any:
		keys := make([]Symbol, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return e.hash(len(keys), depth, func(i int) (any, any) { return keys[i], x[keys[i]] })
	case map[any]any:
		keys := sortedKeys(x)
		return e.hash(len(keys), depth, func(i int) (any, any) { return keys[i], x[keys[i]] })
	default:
		return unsupported(v)
	}
	return nil
}

func (e *encoder) long(n int) error {
	if n > maxLong {
		return fmt.Errorf("%w: length %d does not fit a marshal long", ErrLimit, n)
	}
	e.buf = appendLong(e.buf, int64(n))
	return nil
}

func (e *encoder) int64(x int64) {
	if minFixnum <= x && x <= maxFixnum {
		e.buf = append(e.buf, 'i')
		e.buf = appendLong(e.buf, x)
		return
	}
	neg := x < 0
	var mag uint64
	if neg {
		mag = uint64(-(x + 1)) + 1 // no overflow for MinInt64
	} else {
		mag = uint64(x)
	}
	e.bignum(neg, mag, nil)
}

func (e *encoder) uint64(x uint64) {
	if x <= maxFixnum {
		e.int64(int64(x))
		return
	}
	e.bignum(false, x, nil)
}

func (e *encoder) bigInt(x *big.Int) error {
	if x.IsInt64() {
		e.int64(x.Int64())
		return nil
	}
	be := x.Bytes() // magnitude, big-endian
	if (len(be)+1)/2 > maxLong {
		return fmt.Errorf("%w: bignum of %d bytes is too long", ErrLimit, len(be))
	}
	e.bignum(x.Sign() < 0, 0, be)
	return nil
}

// bignum writes 'l', the sign, the length in 16-bit words and the little-endian magnitude,
// taken from be (big-endian) when it is not nil, else from mag.
func (e *encoder) bignum(neg bool, mag uint64, be []byte) {
	if be == nil {
		var tmp [8]byte
		n := 0
		for m := mag; m != 0; m >>= 8 {
			n++
		}
		for i := range n {
			tmp[n-1-i] = byte(mag >> (8 * i))
		}
		be = tmp[:n]
	}
	sign := byte('+')
	if neg {
		sign = '-'
	}
	words := (len(be) + 1) / 2
	e.buf = append(e.buf, 'l', sign)
	e.buf = appendLong(e.buf, int64(words))
	for i := len(be) - 1; i >= 0; i-- {
		e.buf = append(e.buf, be[i])
	}
	if len(be)%2 == 1 {
		e.buf = append(e.buf, 0)
	}
}

// formatFloat renders f the way Ruby's loader accepts: "inf", "-inf", "nan", or the
// shortest text that parses back to f.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func (e *encoder) float(f float64) {
	s := formatFloat(f)
	e.buf = append(e.buf, 'f')
	e.buf = appendLong(e.buf, int64(len(s)))
	e.buf = append(e.buf, s...)
}

// bytes writes a type byte, a length and the bytes of s.
func (e *encoder) bytes(t byte, s, what string) error {
	if len(s) > maxLong {
		return fmt.Errorf("%w: %s of %d bytes is too long", ErrLimit, what, len(s))
	}
	e.buf = append(e.buf, t)
	e.buf = appendLong(e.buf, int64(len(s)))
	e.buf = append(e.buf, s...)
	return nil
}

// string writes s as a UTF-8 String (I-wrapped, :E true) when it is valid UTF-8, and as a
// raw binary String otherwise.
func (e *encoder) string(s string) error {
	if !utf8.ValidString(s) {
		return e.bytes('"', s, "string")
	}
	e.buf = append(e.buf, 'I')
	if err := e.bytes('"', s, "string"); err != nil {
		return err
	}
	return e.encodingIvar(true)
}

// encodingIvar writes one instance variable, :E with utf8 (true: UTF-8, false: US-ASCII).
func (e *encoder) encodingIvar(utf8 bool) error {
	e.buf = appendLong(e.buf, 1)
	if err := e.symbol("E"); err != nil {
		return err
	}
	if utf8 {
		e.buf = append(e.buf, 'T')
	} else {
		e.buf = append(e.buf, 'F')
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// symbol writes s, as a symlink when it was written before. Like Ruby, a non-ASCII UTF-8
// symbol is I-wrapped with :E true; the symbol takes its index before :E does.
func (e *encoder) symbol(s Symbol) error {
	if i, ok := e.syms[s]; ok {
		e.buf = append(e.buf, ';')
		e.buf = appendLong(e.buf, int64(i))
		return nil
	}
	wrap := !isASCII(string(s)) && utf8.ValidString(string(s))
	if wrap {
		e.buf = append(e.buf, 'I')
	}
	if err := e.bytes(':', string(s), "symbol"); err != nil {
		return err
	}
	if e.syms == nil {
		e.syms = make(map[Symbol]int)
	}
	e.syms[s] = len(e.syms)
	if wrap {
		return e.encodingIvar(true)
	}
	return nil
}

// regexp writes r I-wrapped with its source encoding (:E false for ASCII, true for UTF-8),
// or bare when the source is not valid UTF-8.
func (e *encoder) regexp(r Regexp) error {
	ascii := isASCII(r.Source)
	wrap := ascii || utf8.ValidString(r.Source)
	if wrap {
		e.buf = append(e.buf, 'I')
	}
	if err := e.bytes('/', r.Source, "regexp source"); err != nil {
		return err
	}
	e.buf = append(e.buf, r.Options)
	if wrap {
		return e.encodingIvar(!ascii)
	}
	return nil
}

func (e *encoder) array(n, depth int, at func(int) any) error {
	e.buf = append(e.buf, '[')
	if err := e.long(n); err != nil {
		return err
	}
	for i := range n {
		if err := e.value(at(i), depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (e *encoder) hash(n, depth int, at func(int) (any, any)) error {
	e.buf = append(e.buf, '{')
	if err := e.long(n); err != nil {
		return err
	}
	for i := range n {
		k, v := at(i)
		if err := e.value(k, depth+1); err != nil {
			return err
		}
		if err := e.value(v, depth+1); err != nil {
			return err
		}
	}
	return nil
}
