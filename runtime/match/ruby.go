package match

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// rubyStrip removes what Ruby's String#strip removes.
func rubyStrip(s string) string {
	return strings.Trim(s, " \t\n\v\f\r\x00")
}

var errNotNumber = errors.New("not a number")

var (
	reRubyInt   = regexp.MustCompile(`^[+-]?(?:0[xX][0-9a-fA-F]+(?:_[0-9a-fA-F]+)*|0[bB][01]+(?:_[01]+)*|0[oO]?[0-7]+(?:_[0-7]+)*|0[dD][0-9]+(?:_[0-9]+)*|[0-9]+(?:_[0-9]+)*)$`)
	reRubyFloat = regexp.MustCompile(`^[+-]?(?:[0-9]+(?:_[0-9]+)*)?(?:\.[0-9]+(?:_[0-9]+)*)?(?:[eE][+-]?[0-9]+(?:_[0-9]+)*)?$`)
)

// rubyInteger parses s as Ruby's Kernel#Integer(String) does: surrounding whitespace, a sign,
// 0x/0b/0o/0d prefixes, a leading 0 meaning octal, and single underscores between digits.
func rubyInteger(s string) (*big.Int, error) {
	t := rubyStrip(s)
	if !reRubyInt.MatchString(t) {
		return nil, fmt.Errorf("invalid value for Integer(): %q: %w", s, errNotNumber)
	}
	t = strings.ReplaceAll(t, "_", "")
	neg := false
	if t[0] == '+' || t[0] == '-' {
		neg = t[0] == '-'
		t = t[1:]
	}
	base := 10
	if len(t) > 1 && t[0] == '0' {
		switch t[1] {
		case 'x', 'X':
			base, t = 16, t[2:]
		case 'b', 'B':
			base, t = 2, t[2:]
		case 'o', 'O':
			base, t = 8, t[2:]
		case 'd', 'D':
			base, t = 10, t[2:]
		default:
			base, t = 8, t[1:]
		}
	}
	n, ok := new(big.Int).SetString(t, base)
	if !ok {
		return nil, fmt.Errorf("invalid value for Integer(): %q: %w", s, errNotNumber)
	}
	if neg {
		n.Neg(n)
	}
	return n, nil
}

// rubyFloat parses s as Ruby's Kernel#Float(String) does for decimal text.
func rubyFloat(s string) (float64, error) {
	t := rubyStrip(s)
	if t == "" || !reRubyFloat.MatchString(t) || !strings.ContainsAny(t, "0123456789") ||
		strings.HasPrefix(strings.TrimLeft(t, "+-"), "e") || strings.HasPrefix(strings.TrimLeft(t, "+-"), "E") {
		if n, err := rubyInteger(t); err == nil && strings.ContainsAny(t, "xX") {
			f, _ := new(big.Float).SetInt(n).Float64()
			return f, nil
		}
		return 0, fmt.Errorf("invalid value for Float(): %q: %w", s, errNotNumber)
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(t, "_", ""), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("invalid value for Float(): %q: %w", s, errNotNumber)
	}
	return f, nil
}

// number is a Ruby Numeric: an Integer (exact) or a Float.
type number struct {
	i     *big.Int // set for an Integer
	f     float64  // the value for a Float
	float bool
}

// asNumber reports whether v is a Ruby Integer or Float, and returns it.
func asNumber(v any) (number, bool) {
	switch v := v.(type) {
	case int:
		return number{i: big.NewInt(int64(v))}, true
	case int64:
		return number{i: big.NewInt(v)}, true
	case int32:
		return number{i: big.NewInt(int64(v))}, true
	case uint64:
		return number{i: new(big.Int).SetUint64(v)}, true
	case *big.Int:
		if v == nil {
			return number{}, false
		}
		return number{i: v}, true
	case float64:
		return number{f: v, float: true}, true
	case float32:
		return number{f: float64(v), float: true}, true
	}
	return number{}, false
}

// cmp compares two numbers; ok is false when either is NaN (Ruby's <=> gives nil).
func (a number) cmp(b number) (c int, ok bool) {
	if !a.float && !b.float {
		return a.i.Cmp(b.i), true
	}
	af, bf := a.f, b.f
	if !a.float {
		af, _ = new(big.Float).SetInt(a.i).Float64()
	}
	if !b.float {
		bf, _ = new(big.Float).SetInt(b.i).Float64()
	}
	if math.IsNaN(af) || math.IsNaN(bf) {
		return 0, false
	}
	switch {
	case af < bf:
		return -1, true
	case af > bf:
		return 1, true
	}
	return 0, true
}

// applyCmp turns a three-way comparison into the result of operator op
// (one of == != < > <= >=). ok=false (NaN) makes everything but != false.
func applyCmp(op string, c int, ok bool) bool {
	if !ok {
		return op == "!="
	}
	switch op {
	case "==":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case ">":
		return c > 0
	case "<=":
		return c <= 0
	case ">=":
		return c >= 0
	}
	return false
}
