// Package rubyfmt renders Go values as Ruby prints the values they stand for: to_s (ToS),
// inspect (Inspect), Float#to_s (Float), String#inspect (Quote, QuoteBinary), Symbol#inspect
// (Symbol) and Time#to_s (Time), following Ruby 3.1, whose Hash#inspect writes {"a"=>1}.
//
// Values map as the marshal package decodes them: nil, bool, Go integers and *big.Int,
// float64, string (a UTF-8 String), marshal.Binary and []byte (an ASCII-8BIT String),
// marshal.Symbol, marshal.Regexp, []any, []string and Hashes as map[any]any, map[string]any
// (String keys) or map[marshal.Symbol]any. json.Number is read as the Integer or Float that
// Ruby's JSON parser makes of it, and time.Time is a Ruby Time.
package rubyfmt

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/marshal"
)

// ToS renders v as Ruby's to_s does: nil is "", Strings and Symbols are their text, numbers
// and booleans their literal, and an Array or Hash its inspect form.
func ToS(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case marshal.Symbol:
		return string(t)
	case marshal.Binary:
		return string(t)
	case []byte:
		return string(t)
	case marshal.Regexp:
		return regexpToS(t)
	case time.Time:
		return Time(t)
	}
	if s, ok := scalar(v); ok {
		return s
	}
	switch v.(type) {
	case []any, []string, map[any]any, map[string]any, map[marshal.Symbol]any:
		return Inspect(v)
	}
	return fmt.Sprint(v)
}

// Inspect renders v as Ruby's inspect does. Hash entries are written in the order of their
// keys' inspect form, since a decoded Hash no longer knows Ruby's insertion order. A Go value
// with no Ruby counterpart is written as the String inspect of its fmt form.
func Inspect(v any) string {
	switch t := v.(type) {
	case nil:
		return "nil"
	case string:
		return Quote(t)
	case marshal.Symbol:
		return Symbol(string(t))
	case marshal.Binary:
		return QuoteBinary(string(t))
	case []byte:
		return QuoteBinary(string(t))
	case marshal.Regexp:
		return regexpInspect(t)
	case time.Time:
		return Time(t)
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = Inspect(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []string:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = Quote(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[any]any:
		return hashInspect(len(t), func(yield func(k, v any)) {
			for k, x := range t {
				yield(k, x)
			}
		})
	case map[string]any:
		return hashInspect(len(t), func(yield func(k, v any)) {
			for k, x := range t {
				yield(k, x)
			}
		})
	case map[marshal.Symbol]any:
		return hashInspect(len(t), func(yield func(k, v any)) {
			for k, x := range t {
				yield(k, x)
			}
		})
	}
	if s, ok := scalar(v); ok {
		return s
	}
	return Quote(fmt.Sprint(v))
}

// hashInspect writes a Hash's entries, given by each, sorted by their keys' inspect form.
func hashInspect(n int, each func(yield func(k, v any))) string {
	type entry struct{ key, val string }
	entries := make([]entry, 0, n)
	each(func(k, v any) { entries = append(entries, entry{Inspect(k), Inspect(v)}) })
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range entries {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.key + "=>" + e.val)
	}
	b.WriteByte('}')
	return b.String()
}

// scalar renders the values whose to_s and inspect agree: booleans, Integers (a Go integer
// type without a String method, *big.Int, or an integral json.Number) and Floats.
func scalar(v any) (string, bool) {
	switch t := v.(type) {
	case bool:
		return strconv.FormatBool(t), true
	case *big.Int:
		if t == nil {
			return "nil", true
		}
		return t.String(), true
	case float64:
		return Float(t), true
	case float32:
		return Float(float64(t)), true
	case json.Number:
		if n, ok := new(big.Int).SetString(string(t), 10); ok {
			return n.String(), true
		}
		if f, err := t.Float64(); err == nil {
			return Float(f), true
		}
		return string(t), true
	}
	if _, ok := v.(fmt.Stringer); ok {
		return "", false
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10), true
	}
	return "", false
}

// Float renders f as Ruby's Float#to_s (and Float#inspect) does: the shortest digits that
// read back as f, in fixed notation with at least one decimal when the decimal exponent is
// from -4 to 14 ("0.0001", "100000000000000.0"), otherwise in scientific notation with a
// two-digit exponent at least ("1.0e-05", "1.0e+15"); "NaN", "Infinity", "-Infinity".
func Float(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX, shortest round trip
	mant, exp, _ := strings.Cut(e, "e")
	x, _ := strconv.Atoi(exp)
	if f == 0 || (x >= -4 && x < 15) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	return mant + "e" + exp
}

// Time renders t as Ruby's Time#to_s does: "2024-05-01 10:00:00 +0200", or with "UTC" for
// a time in UTC (time.UTC, as Ruby's Time#utc gives).
func Time(t time.Time) string {
	if t.Location() == time.UTC {
		return t.Format("2006-01-02 15:04:05 UTC")
	}
	return t.Format("2006-01-02 15:04:05 -0700")
}

// Ruby Regexp option bits, as marshal.Regexp.Options carries them.
const (
	optIgnoreCase = 1
	optExtended   = 2
	optMultiline  = 4
)

// regexpOptions returns the option letters that are on and those that are off, in Ruby's
// order m, i, x.
func regexpOptions(r marshal.Regexp) (on, off string) {
	for _, o := range []struct {
		bit  byte
		name string
	}{{optMultiline, "m"}, {optIgnoreCase, "i"}, {optExtended, "x"}} {
		if r.Options&o.bit != 0 {
			on += o.name
		} else {
			off += o.name
		}
	}
	return on, off
}

// regexpToS renders r as Ruby's Regexp#to_s does: "(?i-mx:abc)".
func regexpToS(r marshal.Regexp) string {
	on, off := regexpOptions(r)
	if off != "" {
		off = "-" + off
	}
	return "(?" + on + off + ":" + regexpSource(r.Source) + ")"
}

// regexpInspect renders r as Ruby's Regexp#inspect does: /abc/i.
func regexpInspect(r marshal.Regexp) string {
	on, _ := regexpOptions(r)
	return "/" + regexpSource(r.Source) + "/" + on
}

// regexpSource writes a Regexp's source between slashes as Ruby does: an unescaped "/"
// becomes "\/" and a control character other than white space becomes "\xHH".
func regexpSource(src string) string {
	var b strings.Builder
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\\' && i+1 < len(src):
			b.WriteByte(c)
			i++
			b.WriteByte(src[i])
		case c == '/':
			b.WriteString(`\/`)
		case c < 0x20 && !strings.ContainsRune("\t\n\v\f\r", rune(c)), c == 0x7f:
			fmt.Fprintf(&b, `\x%02X`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
