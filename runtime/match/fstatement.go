package match

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/rubyfmt"
)

// errDataFailed marks a data plugin that is unknown or failed. MCollective turns this into a
// false compound expression (DDLValidationError) or drops the request; either way the node is
// not targeted, and the filter is not malformed.
var errDataFailed = fmt.Errorf("%w: data plugin", errRubyRaise)

var reFOp = regexp.MustCompile(`(?:(!=|<=|>=|<|>)|==?)`)

// evalFStatement is MCollective's Matcher.eval_compound_fstatement: it runs the data plugin and compares
// the chosen output with r_compare.
//
//   - A missing or nil output is false.
//   - < and > (and <=, >=) on a String or Boolean output are false.
//   - A query containing a backtick is false.
//   - =~ and !=~ need a String output; r_compare is a Regexp, or a String used verbatim as
//     a regular expression source (Ruby's String#match, so "/re/" keeps its slashes).
//   - Otherwise a String output compares with r_compare's to_s; a numeric output with
//     r_compare converted by Integer() or else Float(); a Boolean output with "true" or "false".
func (m Matcher) evalFStatement(ctx context.Context, dc *message.DataCall, n Node) (bool, error) {
	if dc == nil {
		return false, fmt.Errorf("%w: fstatement without a data call", ErrMalformed)
	}
	plugin := strings.ToLower(dc.Name)
	plugin = strings.TrimSuffix(plugin, "_data")
	out, err := n.Data(ctx, plugin, dc.Params)
	if err != nil {
		return false, fmt.Errorf("%w %s: %w", errDataFailed, plugin, err)
	}
	var l any = resultObject{}
	if dc.Value != "" {
		l = out[dc.Value] // a missing output reads as nil
	}
	if l == nil {
		return false, nil
	}
	op := dc.Operator
	switch l.(type) {
	case string, bool:
		if strings.ContainsAny(op, "<>") {
			return false, nil
		}
	}
	if q, ok := dc.Params.(string); ok && strings.Contains(q, "`") {
		return false, nil
	}
	if strings.Contains(op, "=~") {
		s, ok := l.(string)
		if !ok {
			return false, nil
		}
		re, err := m.rcompareRegexp(dc.RCompare)
		if err != nil {
			return false, err
		}
		matched := re.MatchString(s)
		if op == "!=~" {
			return !matched, nil
		}
		return matched, nil
	}
	r := dc.RCompare
	if _, ok := l.(string); ok {
		r = rubyfmt.ToS(r)
	} else if rs, ok := r.(string); ok {
		if _, ok := asNumber(l); ok {
			rs = rubyStrip(rs)
			if i, err := rubyInteger(rs); err == nil {
				r = i
			} else if f, err := rubyFloat(rs); err == nil {
				r = f
			} else {
				return false, fmt.Errorf("%w: invalid numeric value: %s", ErrMalformed, rs)
			}
		} else if _, ok := l.(bool); ok {
			switch rubyStrip(rs) {
			case "true":
				r = true
			case "false":
				r = false
			default:
				return false, fmt.Errorf("%w: invalid boolean value: %s", ErrMalformed, rs)
			}
		}
	}
	parts := reFOp.FindStringSubmatch(strings.TrimSpace(op))
	if parts == nil {
		return false, fmt.Errorf("%w: invalid operator: %s", ErrMalformed, op)
	}
	sendOp := parts[1]
	if sendOp == "" {
		sendOp = "=="
	}
	return rubySend(l, sendOp, r)
}

// resultObject stands for the whole Data::Result, compared when the fstatement names no
// output field (fstat("/x")=1). It equals nothing and has no ordering.
type resultObject struct{}

// rubySend evaluates l.send(op, r) for the value types a data plugin returns.
func rubySend(l any, op string, r any) (bool, error) {
	ordering := op != "==" && op != "!="
	if ln, ok := asNumber(l); ok {
		rn, ok := asNumber(r)
		if !ok {
			if ordering {
				return false, fmt.Errorf("%w: comparison of %T with %T failed", ErrMalformed, l, r)
			}
			return op == "!=", nil
		}
		c, ok := ln.cmp(rn)
		return applyCmp(op, c, ok), nil
	}
	if ordering {
		// Strings and Booleans never get here (filtered above); other objects lack <.
		return false, fmt.Errorf("%w: %s is not defined for %T", ErrMalformed, op, l)
	}
	eq := false
	switch lv := l.(type) {
	case string:
		rs, ok := r.(string)
		eq = ok && lv == rs
	case bool:
		rb, ok := r.(bool)
		eq = ok && lv == rb
	}
	if op == "!=" {
		return !eq, nil
	}
	return eq, nil
}

// rcompareRegexp is the regular expression String#match uses for r_compare.
func (m Matcher) rcompareRegexp(r any) (*regexp.Regexp, error) {
	switch r := r.(type) {
	case marshal.Regexp:
		return m.Regexps.Compile(r.Source, r.Options)
	case *marshal.Regexp:
		if r != nil {
			return m.Regexps.Compile(r.Source, r.Options)
		}
	case string:
		return m.Regexps.Compile(r, 0)
	}
	return nil, fmt.Errorf("%w: wrong argument type %T (expected Regexp)", ErrMalformed, r)
}
