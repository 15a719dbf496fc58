package match

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/mcorun/mcorun/runtime/message"
)

// token is one element of an evaluated compound expression: a truth value or a connective.
type token struct {
	kind message.CompoundKind // Statement stands for any truth value
	val  bool
}

// evalCompound evaluates one compound expression as validate_filter? does: every statement
// and fstatement is evaluated first, in order, then the resulting "true && ! false" text is
// evaluated with Ruby's precedence (! over && over ||, parentheses grouping). Because all
// terms are evaluated first, a term that fails makes the whole expression false even where
// the boolean logic would not need it.
func (m Matcher) evalCompound(ctx context.Context, items []message.CompoundItem, n Node) (bool, error) {
	kinds := make([]message.CompoundKind, 0, len(items))
	for _, it := range items {
		switch it.Kind {
		case message.Statement, message.FStatement, message.And, message.Or, message.Not,
			message.LParen, message.RParen:
			kinds = append(kinds, it.Kind)
		}
	}
	if len(kinds) == 0 {
		return false, nil // Ruby evaluates "" to nil
	}
	if err := checkSyntax(kinds); err != nil {
		return false, err
	}
	toks := make([]token, 0, len(kinds))
	for _, it := range items {
		t := token{kind: it.Kind}
		switch it.Kind {
		case message.Statement:
			ok, err := m.evalStatement(it.Value, n)
			if err != nil {
				return false, err
			}
			t.val = ok
		case message.FStatement:
			ok, err := m.evalFStatement(ctx, it.Func, n)
			if err != nil {
				return false, err
			}
			t.kind, t.val = message.Statement, ok
		case message.And, message.Or, message.Not, message.LParen, message.RParen:
		default:
			continue
		}
		toks = append(toks, t)
	}
	p := parser{toks: toks}
	return p.expr(), nil
}

// checkSyntax rejects token sequences that Ruby's eval would reject with a SyntaxError.
func checkSyntax(kinds []message.CompoundKind) error {
	toks := make([]token, len(kinds))
	for i, k := range kinds {
		if k == message.FStatement {
			k = message.Statement
		}
		toks[i] = token{kind: k}
	}
	p := parser{toks: toks}
	p.expr()
	if p.err == nil && p.pos < len(p.toks) {
		p.fail("unexpected %q", p.toks[p.pos].kind)
	}
	if p.err != nil {
		return fmt.Errorf("%w: compound expression: %w", ErrMalformed, p.err)
	}
	return nil
}

// parser is a recursive-descent evaluator over truth values and connectives:
//
//	or    = and { "or" and }
//	and   = unary { "and" unary }
//	unary = "not" unary | "(" or ")" | value
type parser struct {
	toks []token
	pos  int
	err  error
}

func (p *parser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf(format, args...)
	}
}

func (p *parser) peek() (message.CompoundKind, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].kind, true
	}
	return "", false
}

func (p *parser) expr() bool {
	v := p.and()
	for {
		if k, ok := p.peek(); !ok || k != message.Or {
			return v
		}
		p.pos++
		r := p.and()
		v = v || r
	}
}

func (p *parser) and() bool {
	v := p.unary()
	for {
		if k, ok := p.peek(); !ok || k != message.And {
			return v
		}
		p.pos++
		r := p.unary()
		v = v && r
	}
}

func (p *parser) unary() bool {
	k, ok := p.peek()
	if !ok {
		p.fail("unexpected end of expression")
		return false
	}
	switch k {
	case message.Not:
		p.pos++
		return !p.unary()
	case message.LParen:
		p.pos++
		v := p.expr()
		if k, ok := p.peek(); !ok || k != message.RParen {
			p.fail("missing )")
			return false
		}
		p.pos++
		return v
	case message.Statement:
		v := p.toks[p.pos].val
		p.pos++
		return v
	}
	p.fail("unexpected %q", k)
	p.pos++
	return false
}

var reStatementOp = regexp.MustCompile(`>=|<=|=|<|>`)

// evalStatement is MCollective's Matcher.eval_compound_statement. A statement starting with "/" is a class
// regex; one containing >=, <=, =, < or > is a fact comparison; anything else is a class.
// Like Ruby it only knows those five operators: "a!=b" compares fact "a!" with "b", and
// "a=~/re/" compares fact "a" for equality with "~/re/". A value starting with "/" makes
// the comparison a regex match whatever the operator was.
func (m Matcher) evalStatement(s string, n Node) (bool, error) {
	if IsRegex(s) {
		return m.hasClass(n, s)
	}
	loc := reStatementOp.FindStringIndex(s)
	if loc == nil {
		return m.hasClass(n, s)
	}
	op := s[loc[0]:loc[1]]
	parts := rubySplit(s, op)
	if len(parts) < 2 {
		return false, fmt.Errorf("%w: statement %q has no value", ErrMalformed, s)
	}
	name, value := parts[0], parts[1]
	switch {
	case strings.HasPrefix(value, "/"):
		op = "=~"
	case op == "=":
		op = "=="
	}
	return m.hasFact(n, name, value, op)
}

// rubySplit is Ruby's String#split(sep) for a non-empty separator: trailing empty fields are
// dropped.
func rubySplit(s, sep string) []string {
	parts := strings.Split(s, sep)
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}
