// Package match decides whether a node is targeted by a request filter, with the semantics of
// MCollective 2.12's server (security/base.rb validate_filter?, util.rb and matcher.rb), so that
// a node running mcod answers exactly the requests a stock mcollectived would.
//
// Fact, class and agent entries are ANDed, identity entries are ORed, and every compound (-S)
// expression is ANDed with the rest. Strings written as "/re/" are Ruby regular expressions,
// translated to Go's syntax (see Compile). Ruby's quirks are kept on purpose, because a stock
// mco client and a stock mcollectived agree on them; each is noted where it is implemented.
package match

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/mcorun/mcorun/runtime/facts"
	"github.com/mcorun/mcorun/runtime/message"
)

// ErrMalformed marks a filter that cannot be evaluated: a bad or unsupported regular
// expression, an unbalanced compound expression, an unknown operator or a comparison value
// of the wrong kind. A malformed filter never matches.
var ErrMalformed = errors.New("match: malformed filter")

// errRubyRaise marks evaluation that MCollective aborts with an exception caused by the node's
// data rather than the filter (for example Integer("09") on a fact). The request is dropped, so
// the filter does not match, but the filter itself is not malformed.
var errRubyRaise = errors.New("match: evaluation aborted")

// Node is what the matcher needs to know about the local node.
type Node interface {
	// Identity is the node's configured identity.
	Identity() string
	// Fact returns a fact's value as loaded from YAML (string, int, int64, float64, bool,
	// []any, map[string]any or nil) and whether the fact exists.
	Fact(name string) (any, bool)
	// Classes lists the configuration management classes (the classes file, one per line).
	Classes() []string
	// HasAgent reports whether an agent of that name is loaded.
	HasAgent(name string) bool
	// Data runs data plugin plugin with query (a string, or nil) and returns its outputs.
	// An unknown plugin or a failed query is an error.
	Data(ctx context.Context, plugin string, query any) (map[string]any, error)
}

// AgentLister is implemented by a Node that can list its agents. It is needed for "/re/"
// agent filters; a Node without it matches no agent regex (except through "mcollective").
type AgentLister interface {
	Agents() []string
}

// Match is Matcher{}.Match: it compiles the filter's regular expressions afresh on every call.
func Match(ctx context.Context, f message.Filter, n Node) (bool, error) {
	return Matcher{}.Match(ctx, f, n)
}

// Matcher evaluates filters, compiling their regular expressions through Regexps. A node
// keeps one with a Regexps so that a filter it sees again costs map lookups; the zero Matcher
// compiles every expression afresh.
type Matcher struct {
	Regexps *Regexps
}

// Match reports whether node n is targeted by filter f. The zero Filter matches every node.
// A data plugin failure inside a compound expression makes that expression false, as in
// MCollective. The error is non-nil only for a malformed filter (it wraps ErrMalformed), and a
// malformed filter never matches; a filter over the limits of this package (MaxFilterBytes,
// MaxFilterRegexBytes, MaxRegexSource, MaxRegexProgram) is malformed, and its error also wraps
// ErrTooLarge.
//
// MCollective evaluates every entry even after one fails; Match stops at the first failing
// entry, which gives the same answer with fewer data plugin calls.
func (m Matcher) Match(ctx context.Context, f message.Filter, n Node) (bool, error) {
	if f.Empty() {
		return true, nil
	}
	if err := CheckSize(f); err != nil {
		return false, err
	}
	ok, err := m.match(ctx, f, n)
	if err != nil {
		if errors.Is(err, ErrMalformed) {
			return false, err
		}
		return false, nil
	}
	return ok, nil
}

func (m Matcher) match(ctx context.Context, f message.Filter, n Node) (bool, error) {
	for _, ff := range f.Fact {
		ok, err := m.hasFact(n, ff.Fact, ff.Value, ff.Operator)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, c := range f.CFClass {
		ok, err := m.hasClass(n, c)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, a := range f.Agent {
		ok, err := m.hasAgent(n, a)
		if err != nil {
			return false, err
		}
		if !ok && a != "mcollective" {
			return false, nil
		}
	}
	if len(f.Identity) > 0 {
		// Ruby counts the matching entries and passes only when exactly one matches, so two
		// entries that both name this node (web1 and /web/) fail the filter.
		matched := 0
		for _, id := range f.Identity {
			ok, err := m.hasIdentity(n, id)
			if err != nil {
				return false, err
			}
			if ok {
				matched++
			}
		}
		if matched != 1 {
			return false, nil
		}
	}
	for _, expr := range f.Compound {
		ok, err := m.evalCompound(ctx, expr, n)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// hasClass is Util.has_cf_class?: "/re/" strings (all slashes removed) match any class line,
// other strings must equal one.
func (m Matcher) hasClass(n Node, klass string) (bool, error) {
	if IsRegex(klass) {
		re, err := m.Regexps.Regex(klass)
		if err != nil {
			return false, err
		}
		for _, c := range n.Classes() {
			if re.MatchString(c) {
				return true, nil
			}
		}
		return false, nil
	}
	for _, c := range n.Classes() {
		if c == klass {
			return true, nil
		}
	}
	return false, nil
}

// hasAgent is Util.has_agent?. The caller adds the "mcollective" pass.
func (m Matcher) hasAgent(n Node, agent string) (bool, error) {
	if !IsRegex(agent) {
		return n.HasAgent(agent), nil
	}
	re, err := m.Regexps.Regex(agent)
	if err != nil {
		return false, err
	}
	l, ok := n.(AgentLister)
	if !ok {
		return false, nil
	}
	for _, a := range l.Agents() {
		if re.MatchString(a) {
			return true, nil
		}
	}
	return false, nil
}

// hasIdentity is Util.has_identity?.
func (m Matcher) hasIdentity(n Node, id string) (bool, error) {
	if !IsRegex(id) {
		return n.Identity() == id, nil
	}
	re, err := m.Regexps.Regex(id)
	if err != nil {
		return false, err
	}
	return re.MatchString(n.Identity()), nil
}

// hasFact is Util.has_fact?: a missing fact fails; an Array fact passes when any element
// does, a Hash fact when any key does.
func (m Matcher) hasFact(n Node, name, value, op string) (bool, error) {
	raw, ok := n.Fact(name)
	if !ok {
		return false, nil
	}
	switch v := facts.Normalize(raw).(type) {
	case []any:
		for _, e := range v {
			ok, err := m.testFactValue(e, value, op)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case map[string]any:
		for k := range v {
			ok, err := m.testFactValue(k, value, op)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	default:
		return m.testFactValue(v, value, op)
	}
}

var (
	reSlashed  = regexp.MustCompile(`(?m)^/(.+)/$`)
	reAllInt   = regexp.MustCompile(`(?m)^[0-9]+$`)
	reAllFloat = regexp.MustCompile(`(?m)^[0-9]+.[0-9]+$`)
)

// testFactValue is Util.test_fact_value for one normalized fact value (a string, or an Array
// or Hash nested inside an Array fact).
func (m Matcher) testFactValue(fact any, value, op string) (bool, error) {
	s, isString := fact.(string)
	switch op {
	case "=~":
		// The value is sent as /re/ for 1.0 compatibility; the slashes come off here.
		if sm := reSlashed.FindStringSubmatch(value); sm != nil {
			value = sm[1]
		}
		re, err := m.Regexps.Compile(value, 0)
		if err != nil {
			return false, err
		}
		if !isString {
			return false, fmt.Errorf("%w: regexp match on a nested %T fact", errRubyRaise, fact)
		}
		return re.MatchString(s), nil
	case "==":
		return isString && s == value, nil
	case "<=", ">=", "<", ">", "!=":
		if !isString {
			// Array and Hash only answer != (always true); ordering raises in Ruby.
			if op == "!=" {
				return true, nil
			}
			return false, fmt.Errorf("%w: %s on a nested %T fact", errRubyRaise, op, fact)
		}
		// Numeric only when both look like integers, or both like decimals; otherwise the
		// comparison is of strings.
		switch {
		case reAllInt.MatchString(value) && reAllInt.MatchString(s):
			a, err := rubyInteger(s)
			if err != nil {
				return false, fmt.Errorf("%w: fact: %w", errRubyRaise, err)
			}
			b, err := rubyInteger(value)
			if err != nil {
				return false, fmt.Errorf("%w: fact value: %w", ErrMalformed, err)
			}
			return applyCmp(op, a.Cmp(b), true), nil
		case reAllFloat.MatchString(value) && reAllFloat.MatchString(s):
			a, err := rubyFloat(s)
			if err != nil {
				return false, fmt.Errorf("%w: fact: %w", errRubyRaise, err)
			}
			b, err := rubyFloat(value)
			if err != nil {
				return false, fmt.Errorf("%w: fact value: %w", ErrMalformed, err)
			}
			c, ok := number{f: a, float: true}.cmp(number{f: b, float: true})
			return applyCmp(op, c, ok), nil
		}
		return applyCmp(op, strings.Compare(s, value), true), nil
	}
	return false, nil
}
