package marshal

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// decoder reads one document. It never allocates from a count read off the wire before the
// count has been checked against the remaining input and the limits.
type decoder struct {
	data  []byte
	pos   int
	lim   Limits
	syms  []Symbol // symbol table, by first appearance
	objs  []entry  // object table, pre-order; the root is 0
	elems int      // elements and pairs charged so far, links included
}

// entry is one slot of the object table.
type entry struct {
	v    any
	size int  // elements charged to this object and everything under it
	done bool // false while an Array or Hash is still being read
}

// fail builds an error wrapping kind, with what was being read and where it started.
func fail(kind error, off int, format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", kind, fmt.Sprintf(format, args...), off)
}

func (d *decoder) document() (any, error) {
	if len(d.data) < 2 {
		return nil, fail(ErrSyntax, 0, "truncated header")
	}
	if d.data[0] != 4 || d.data[1] != 8 {
		return nil, fail(ErrSyntax, 0, "header %#02x %#02x is not version 4.8", d.data[0], d.data[1])
	}
	d.pos = 2
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.pos != len(d.data) {
		return nil, fail(ErrSyntax, d.pos, "%d trailing bytes after the root object", len(d.data)-d.pos)
	}
	return v, nil
}

func (d *decoder) remaining() int { return len(d.data) - d.pos }

func (d *decoder) readByte(what string) (byte, error) {
	if d.pos >= len(d.data) {
		return 0, fail(ErrSyntax, d.pos, "truncated input reading %s", what)
	}
	b := d.data[d.pos]
	d.pos++
	return b, nil
}

func (d *decoder) long(what string) (int64, error) {
	x, n, ok := readLong(d.data, d.pos)
	if !ok {
		return 0, fail(ErrSyntax, d.pos, "truncated input reading %s", what)
	}
	d.pos += n
	return x, nil
}

// bytes reads a w_long length and that many bytes, bounded by MaxBytes. The result aliases
// the input; callers copy it.
func (d *decoder) bytes(what string) ([]byte, error) {
	off := d.pos
	n, w, ok := readLong(d.data, d.pos)
	if !ok {
		return nil, fail(ErrSyntax, off, "truncated input reading %s length", what)
	}
	d.pos += w
	if n < 0 {
		return nil, fail(ErrSyntax, off, "negative %s length %d", what, n)
	}
	if n > int64(d.lim.MaxBytes) {
		return nil, fail(ErrLimit, off, "%s length %d exceeds the limit of %d bytes", what, n, d.lim.MaxBytes)
	}
	if n > int64(d.remaining()) {
		return nil, fail(ErrSyntax, off, "%s length %d exceeds the %d bytes left", what, n, d.remaining())
	}
	b := d.data[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return b, nil
}

// count reads a w_long element count, where every element takes at least unit bytes, and
// checks it against the input left and what is left of MaxElements; the caller charges it.
func (d *decoder) count(what string, unit int) (int, error) {
	off := d.pos
	n, err := d.long(what)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fail(ErrSyntax, off, "negative %s %d", what, n)
	}
	if n > int64(d.lim.MaxElements-d.elems) {
		return 0, fail(ErrLimit, off, "%s %d exceeds the limit of %d elements", what, n, d.lim.MaxElements)
	}
	if n > int64(d.remaining()/unit) {
		return 0, fail(ErrSyntax, off, "%s %d exceeds what the %d bytes left can hold", what, n, d.remaining())
	}
	return int(n), nil
}

// register appends a finished object to the object table.
func (d *decoder) register(v any) {
	d.objs = append(d.objs, entry{v: v, done: true})
}

// value reads one object. depth is the number of Arrays and Hashes enclosing it.
func (d *decoder) value(depth int) (any, error) {
	off := d.pos
	t, err := d.readByte("type byte")
	if err != nil {
		return nil, err
	}
	switch t {
	case '0':
		return nil, nil
	case 'T':
		return true, nil
	case 'F':
		return false, nil
	case 'i':
		return d.long("fixnum")
	case 'l':
		return d.bignum(off)
	case 'f':
		return d.float(off)
	case '"':
		b, err := d.bytes("string")
		if err != nil {
			return nil, err
		}
		s := string(b)
		d.register(s)
		return s, nil
	case ':':
		b, err := d.bytes("symbol")
		if err != nil {
			return nil, err
		}
		s := Symbol(b)
		d.syms = append(d.syms, s)
		return s, nil
	case ';':
		idx, err := d.long("symlink index")
		if err != nil {
			return nil, err
		}
		if idx < 0 || idx >= int64(len(d.syms)) {
			return nil, fail(ErrSyntax, off, "symlink %d out of range (%d symbols)", idx, len(d.syms))
		}
		return d.syms[idx], nil
	case '@':
		return d.link(off)
	case '/':
		src, err := d.bytes("regexp source")
		if err != nil {
			return nil, err
		}
		opt, err := d.readByte("regexp options")
		if err != nil {
			return nil, err
		}
		r := Regexp{Source: string(src), Options: opt}
		d.register(r)
		return r, nil
	case '[':
		return d.array(off, depth)
	case '{', '}':
		return d.hash(off, depth, t == '}')
	case 'I':
		return d.ivar(off, depth)
	}
	return nil, badType(t, off)
}

// badType classifies a type byte the subset does not decode.
func badType(t byte, off int) error {
	switch t {
	case 'o', 'S', 'u', 'U', 'C', 'e', 'c', 'm', 'd', 'M':
		return fail(ErrUnsupported, off, "ruby type %q", t)
	}
	return fail(ErrSyntax, off, "unknown type byte %#02x", t)
}

func (d *decoder) link(off int) (any, error) {
	idx, err := d.long("object link index")
	if err != nil {
		return nil, err
	}
	if idx < 0 || idx >= int64(len(d.objs)) {
		return nil, fail(ErrSyntax, off, "object link %d out of range (%d objects)", idx, len(d.objs))
	}
	e := d.objs[idx]
	if !e.done {
		return nil, fail(ErrUnsupported, off, "object link %d to an enclosing container (cyclic value)", idx)
	}
	if e.size > d.lim.MaxElements-d.elems {
		return nil, fail(ErrLimit, off, "object link %d repeats %d elements, over the limit of %d", idx, e.size, d.lim.MaxElements)
	}
	d.elems += e.size
	return e.v, nil
}

func (d *decoder) bignum(off int) (any, error) {
	sign, err := d.readByte("bignum sign")
	if err != nil {
		return nil, err
	}
	if sign != '+' && sign != '-' {
		return nil, fail(ErrSyntax, off, "bignum sign %#02x", sign)
	}
	words, err := d.long("bignum length")
	if err != nil {
		return nil, err
	}
	if words < 0 {
		return nil, fail(ErrSyntax, off, "negative bignum length %d", words)
	}
	n := 2 * words
	if n > int64(d.lim.MaxBytes) {
		return nil, fail(ErrLimit, off, "bignum of %d bytes exceeds the limit of %d bytes", n, d.lim.MaxBytes)
	}
	if n > int64(d.remaining()) {
		return nil, fail(ErrSyntax, off, "bignum of %d bytes exceeds the %d bytes left", n, d.remaining())
	}
	le := d.data[d.pos : d.pos+int(n)]
	d.pos += int(n)
	top := len(le)
	for top > 0 && le[top-1] == 0 {
		top--
	}
	var v any
	if top <= 8 {
		var u uint64
		for i := top - 1; i >= 0; i-- {
			u = u<<8 | uint64(le[i])
		}
		switch {
		case sign == '+' && u <= math.MaxInt64:
			v = int64(u)
		case sign == '-' && u <= 1<<63:
			v = -int64(u) // wraps to MinInt64 for u == 1<<63, as intended
		}
	}
	if v == nil {
		be := make([]byte, top)
		for i := range be {
			be[i] = le[top-1-i]
		}
		b := new(big.Int).SetBytes(be)
		if sign == '-' {
			b.Neg(b)
		}
		v = b
	}
	d.register(v)
	return v, nil
}

func (d *decoder) float(off int) (any, error) {
	b, err := d.bytes("float")
	if err != nil {
		return nil, err
	}
	var f float64
	switch string(b) {
	case "nan":
		f = math.NaN()
	case "inf":
		f = math.Inf(1)
	case "-inf":
		f = math.Inf(-1)
	default:
		// Ruby 1.8 appended mantissa bytes after a NUL; the text before it is the value.
		for i, c := range b {
			if c == 0 {
				b = b[:i]
				break
			}
		}
		f, err = strconv.ParseFloat(string(b), 64)
		if err != nil {
			var ne *strconv.NumError
			if !errors.As(err, &ne) || ne.Err != strconv.ErrRange {
				return nil, fail(ErrSyntax, off, "float text %q", b)
			}
			// Out of range: ParseFloat returned ±Inf or ±0, as strtod does.
		}
	}
	d.register(f)
	return f, nil
}

func (d *decoder) array(off, depth int) (any, error) {
	if depth >= d.lim.MaxDepth {
		return nil, fail(ErrLimit, off, "array nested deeper than %d", d.lim.MaxDepth)
	}
	n, err := d.count("array length", 1)
	if err != nil {
		return nil, err
	}
	idx := len(d.objs)
	d.objs = append(d.objs, entry{})
	before := d.elems
	d.elems += n
	a := make([]any, n)
	for i := range a {
		if a[i], err = d.value(depth + 1); err != nil {
			return nil, err
		}
	}
	d.objs[idx] = entry{v: a, size: d.elems - before, done: true}
	return a, nil
}

func (d *decoder) hash(off, depth int, withDefault bool) (any, error) {
	if depth >= d.lim.MaxDepth {
		return nil, fail(ErrLimit, off, "hash nested deeper than %d", d.lim.MaxDepth)
	}
	n, err := d.count("hash size", 2)
	if err != nil {
		return nil, err
	}
	idx := len(d.objs)
	d.objs = append(d.objs, entry{})
	before := d.elems
	d.elems += n
	m := make(map[any]any, n)
	for range n {
		koff := d.pos
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		switch k.(type) {
		case nil, bool, int64, float64, string, Symbol, Regexp:
		default:
			return nil, fail(ErrUnsupported, koff, "hash key of Go type %T", k)
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	if withDefault {
		if _, err := d.value(depth + 1); err != nil {
			return nil, err
		}
	}
	d.objs[idx] = entry{v: m, size: d.elems - before, done: true}
	return m, nil
}

// ivar reads an 'I' wrapper: an object followed by instance variables, which are read (they
// take symbol and object indexes) and dropped. depth is the enclosing container count; the
// variables sit one level deeper.
func (d *decoder) ivar(off, depth int) (any, error) {
	if depth > d.lim.MaxDepth {
		return nil, fail(ErrLimit, off, "instance variables nested deeper than %d", d.lim.MaxDepth)
	}
	if d.pos >= len(d.data) {
		return nil, fail(ErrSyntax, d.pos, "truncated input reading wrapped object")
	}
	switch t := d.data[d.pos]; t {
	case '"', ':', '/', '[', '{', '}':
	case '0', 'T', 'F', 'i', 'l', 'f', ';', '@', 'I':
		return nil, fail(ErrSyntax, d.pos, "instance variables on type %q", t)
	default:
		return nil, badType(t, d.pos)
	}
	v, err := d.value(depth)
	if err != nil {
		return nil, err
	}
	// The variables are dropped, so they are not charged as elements (an encoder adds :E to
	// Strings that had none); each still takes at least two input bytes.
	coff := d.pos
	n, err := d.long("instance variable count")
	if err != nil {
		return nil, err
	}
	switch {
	case n < 0:
		return nil, fail(ErrSyntax, coff, "negative instance variable count %d", n)
	case n > int64(d.lim.MaxElements):
		return nil, fail(ErrLimit, coff, "instance variable count %d exceeds the limit of %d elements", n, d.lim.MaxElements)
	case n > int64(d.remaining()/2):
		return nil, fail(ErrSyntax, coff, "instance variable count %d exceeds what the %d bytes left can hold", n, d.remaining())
	}
	for range n {
		koff := d.pos
		if d.pos >= len(d.data) {
			return nil, fail(ErrSyntax, d.pos, "truncated input reading instance variable name")
		}
		switch d.data[d.pos] {
		case ':', ';', 'I':
		default:
			return nil, fail(ErrSyntax, koff, "instance variable name is not a symbol")
		}
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, ok := k.(Symbol); !ok {
			return nil, fail(ErrSyntax, koff, "instance variable name is not a symbol")
		}
		if _, err := d.value(depth + 1); err != nil {
			return nil, err
		}
	}
	return v, nil
}
