// Package authz authorizes SimpleRPC requests with policy files in the format of
// MCollective's actionpolicy plugin (util/actionpolicy.rb, version 2.2).
//
// A policy file holds comments ("#"), blank lines, at most one "policy default allow|deny"
// line, and rule lines whose fields are separated by one or more hard tabs:
//
//	allow|deny	<callers>	<actions>	<facts>	[<classes>]
//
// Callers is "*" or a space-separated list of callerids (e.g. "cert=admin uid=0") and of
// group names from the groups file; actions is "*" or a space-separated list of actions;
// facts is "*", a space-separated list of fact statements ("customer=acme", "num>=5"), all of
// which must hold, or a compound expression ("role=web and not env=prod"); classes is "*",
// a space-separated list of classes the node must all have, or a compound expression. With
// only four fields, the facts field is a compound expression or a list of fact statements
// and classes. Fact and class terms mean exactly what they mean in a request filter
// (runtime/match). The first rule whose every field matches decides; when none does the
// default policy decides, and without a default line the allow_unconfigured setting does.
//
// Where this package differs from the Ruby plugin it fails closed:
//   - a line that cannot be parsed makes the whole file deny every request (Ruby logs it and
//     skips the line, which can turn a mistyped deny rule into an allow);
//   - callers are compared as whole words (Ruby tests substring inclusion, so a rule for
//     "uid=50" would also match "uid=500");
//   - a fact field holding a bare class name, or a class field holding a fact statement, is
//     a parse error (Ruby makes that rule never match).
package authz

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/mcorun/mcorun/runtime/filter"
	"github.com/mcorun/mcorun/runtime/match"
	"github.com/mcorun/mcorun/runtime/message"
)

// ErrPolicySyntax marks a policy file that cannot be parsed.
var ErrPolicySyntax = errors.New("authz: policy syntax error")

// maxPolicyLine bounds one line of a policy or groups file.
const maxPolicyLine = 64 << 10

// Policy is one parsed policy file.
type Policy struct {
	// Name is the file the policy was read from, for messages.
	Name string
	// Default is the "policy default" line's verdict; nil when the file has none.
	Default *bool
	// Rules are the rule lines, in file order.
	Rules []Rule
}

// Rule is one allow or deny line.
type Rule struct {
	Line    int  // line number in the file
	Allow   bool // allow, or deny
	Callers []string
	Actions []string // nil matches every action
	// Filter holds the fact and class terms; the zero Filter matches every node.
	Filter message.Filter
	// anyCaller is set for "*".
	anyCaller bool
}

// policyDefaultRE is the Ruby plugin's "policy default" test.
var policyDefaultRE = regexp.MustCompile(`^policy\s+default\s+(\w+)`)

// Parse reads a policy file. name is used in errors, which wrap ErrPolicySyntax and give the
// line number.
func Parse(r io.Reader, name string) (*Policy, error) {
	p := &Policy{Name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxPolicyLine)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), " \t\r")
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if m := policyDefaultRE.FindStringSubmatch(line); m != nil {
			if m[1] != "allow" && m[1] != "deny" {
				return nil, fmt.Errorf("%w: %s:%d: policy default %q: want allow or deny", ErrPolicySyntax, name, n, m[1])
			}
			allow := m[1] == "allow"
			p.Default = &allow
			continue
		}
		rule, err := parseRule(line)
		if err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %w", ErrPolicySyntax, name, n, err)
		}
		rule.Line = n
		p.Rules = append(p.Rules, rule)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s:%d: %w", ErrPolicySyntax, name, n+1, err)
	}
	return p, nil
}

// parseRule parses one tab-separated rule line.
func parseRule(line string) (Rule, error) {
	var fields []string
	for f := range strings.SplitSeq(line, "\t") {
		if f != "" {
			fields = append(fields, f)
		}
	}
	if len(fields) < 4 || len(fields) > 5 {
		if len(fields) == 1 && strings.ContainsRune(line, ' ') {
			return Rule{}, errors.New("want tab-separated fields (allow|deny, callers, actions, facts, classes); fields separated by spaces are not recognised")
		}
		return Rule{}, fmt.Errorf("want 4 or 5 tab-separated fields, got %d", len(fields))
	}
	var r Rule
	switch fields[0] {
	case "allow":
		r.Allow = true
	case "deny":
	default:
		return Rule{}, fmt.Errorf("rule starts with %q: want allow or deny", fields[0])
	}
	if callers := strings.TrimSpace(fields[1]); callers == "*" {
		r.anyCaller = true
	} else {
		r.Callers = strings.Fields(callers)
	}
	if actions := strings.TrimSpace(fields[2]); actions != "*" {
		r.Actions = strings.Fields(actions)
	}
	var b filter.Builder
	if len(fields) == 5 {
		if err := addTerms(&b, fields[3], "fact"); err != nil {
			return Rule{}, err
		}
		if err := addTerms(&b, fields[4], "class"); err != nil {
			return Rule{}, err
		}
	} else if err := addTerms(&b, fields[3], "any"); err != nil {
		return Rule{}, err
	}
	r.Filter = b.Filter()
	if len(r.Callers) == 0 && !r.anyCaller || r.Actions != nil && len(r.Actions) == 0 {
		return Rule{}, errors.New("empty callers or actions field")
	}
	return r, nil
}

// compoundRE is the Ruby plugin's is_compound? test for one word.
var compoundRE = regexp.MustCompile(`^!|^not$|^or$|^and$|\(.+\)`)

// isCompound reports whether a facts or classes field is a compound expression.
func isCompound(s string) bool {
	return slices.ContainsFunc(strings.Fields(s), compoundRE.MatchString)
}

// factRE tells a fact statement from a class name, as the Ruby plugin does.
var factRE = regexp.MustCompile(`(.+)(<|>|=|<=|>=)(.+)`)

// addTerms adds a facts or classes field to b. kind is "fact", "class" or "any" (the
// four-field form, where facts and classes may mix).
func addTerms(b *filter.Builder, field, kind string) error {
	field = strings.TrimSpace(field)
	if field == "*" {
		return nil
	}
	if isCompound(field) {
		if err := b.Select(field); err != nil {
			return fmt.Errorf("%s field: %w", kind, err)
		}
		return nil
	}
	for _, w := range strings.Fields(field) {
		isFact := factRE.MatchString(w)
		var err error
		switch {
		case isFact && kind == "class":
			err = errors.New("fact statement where a class was expected")
		case !isFact && kind == "fact":
			err = errors.New("class name where a fact statement was expected")
		case isFact:
			err = b.Fact(w)
		default:
			err = b.Class(w)
		}
		if err != nil {
			return fmt.Errorf("%s field: %q: %w", kind, w, err)
		}
	}
	return nil
}

// Request is what a policy decides on.
type Request struct {
	CallerID string
	Agent    string
	Action   string
}

// Decision is the outcome of evaluating a policy.
type Decision struct {
	Allow bool
	// Reason says which rule or default decided, for the log.
	Reason string
}

// Eval decides req on node n, evaluating the rules' fact and class terms with m. groups maps group names to their callerids; allowUnconfigured
// is the verdict when no rule matches and the file has no default line. A rule whose fact or
// class terms cannot be evaluated denies the request, and the error is returned beside the
// decision for the log.
func (p *Policy) Eval(ctx context.Context, m match.Matcher, req Request, n match.Node, groups map[string][]string, allowUnconfigured bool) (Decision, error) {
	for _, r := range p.Rules {
		if !r.callerMatches(req.CallerID, groups) {
			continue
		}
		if r.Actions != nil && !slices.Contains(r.Actions, req.Action) {
			continue
		}
		ok, err := m.Match(ctx, r.Filter, n)
		if err != nil {
			return Decision{Reason: fmt.Sprintf("rule at %s:%d cannot be evaluated", p.Name, r.Line)},
				fmt.Errorf("authz: %s:%d: %w", p.Name, r.Line, err)
		}
		if !ok {
			continue
		}
		verb := "deny"
		if r.Allow {
			verb = "allow"
		}
		return Decision{Allow: r.Allow, Reason: fmt.Sprintf("explicit %s rule at %s:%d", verb, p.Name, r.Line)}, nil
	}
	allow, src := allowUnconfigured, "allow_unconfigured"
	if p.Default != nil {
		allow, src = *p.Default, "policy default"
	}
	return Decision{Allow: allow, Reason: fmt.Sprintf("no rule matched; %s in %s", src, p.Name)}, nil
}

// callerMatches reports whether callerid is named by the rule, directly or through a group.
func (r Rule) callerMatches(callerID string, groups map[string][]string) bool {
	if r.anyCaller {
		return true
	}
	for _, c := range r.Callers {
		if c == callerID || slices.Contains(groups[c], callerID) {
			return true
		}
	}
	return false
}

// groupNameRE is the Ruby plugin's group name check.
var groupNameRE = regexp.MustCompile(`^[\w.\-]+$`)

// ParseGroups reads a groups file: one "name callerid callerid ..." per line, "#" comments.
// A line with a bad group name is an error; a group with no members is skipped, as in Ruby.
func ParseGroups(r io.Reader, name string) (map[string][]string, error) {
	groups := map[string][]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxPolicyLine)
	n := 0
	for sc.Scan() {
		n++
		parts := strings.Fields(sc.Text())
		if len(parts) == 0 || strings.HasPrefix(parts[0], "#") {
			continue
		}
		if !groupNameRE.MatchString(parts[0]) {
			return nil, fmt.Errorf("%w: %s:%d: group name %q may only hold letters, digits, '_', '.' and '-'", ErrPolicySyntax, name, n, parts[0])
		}
		if len(parts) > 1 {
			groups[parts[0]] = parts[1:]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s:%d: %w", ErrPolicySyntax, name, n+1, err)
	}
	return groups, nil
}
