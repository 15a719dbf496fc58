package filter

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mcorun/mcorun/runtime/message"
)

// SyntaxError is a malformed -S (compound) expression. Col is the 1-based column, counted in
// characters, of the offending part of Input; it always lies within Input.
type SyntaxError struct {
	Input string
	Col   int
	Msg   string
}

// Error shows the message and the input with a caret under the offending column.
func (e *SyntaxError) Error() string {
	var line strings.Builder
	for _, r := range e.Input {
		if r < ' ' || r == 0x7f {
			r = ' ' // keep one column per character
		}
		line.WriteRune(r)
	}
	return fmt.Sprintf("compound filter: %s at column %d\n  %s\n  %s^",
		e.Msg, e.Col, line.String(), strings.Repeat(" ", max(e.Col-1, 0)))
}

// Compound parses a -S/--select expression into the compound items MCollective servers
// evaluate, with the exact tokenisation and validation of MCollective 2.12's compound parser
// (matcher/scanner.rb, matcher/parser.rb) and fstatement decoding (Matcher.create_function_hash).
//
// The language: statements (role=web, web::nginx, /regex/, uptime>=5), fstatements calling a
// data plugin (fstat("/etc/hosts").size>=1, puppet().enabled=true), the connectives and, or,
// not and !, and parentheses. "!" becomes a not item. An fstatement's right-hand side stays a
// string, as the Ruby client sends it (the server types it), except /re/, which becomes a
// marshal.Regexp with = turned into =~ and != into !=~. An empty expression gives no items.
//
// Errors are *SyntaxError values. Parentheses must balance properly: closing parentheses
// without an opening one are an error even where the Ruby parser lets a pair of them through.
func Compound(s string) ([]message.CompoundItem, error) {
	items, _, err := parseCompound(s)
	return items, err
}

// parseCompound is Compound, also returning the 0-based rune index where each item starts.
func parseCompound(s string) ([]message.CompoundItem, []int, error) {
	if !utf8.ValidString(s) {
		col := utf8.RuneCountInString(s[:firstInvalid(s)]) + 1
		return nil, nil, &SyntaxError{Input: s, Col: col, Msg: "invalid UTF-8"}
	}
	p := parser{in: s, sc: scanner{args: []rune(s)}}
	toks, err := p.run()
	if err != nil {
		return nil, nil, err
	}
	items := make([]message.CompoundItem, 0, len(toks))
	starts := make([]int, 0, len(toks))
	for _, t := range toks {
		var it message.CompoundItem
		switch t.kind {
		case tokStatement:
			it = message.CompoundItem{Kind: message.Statement, Value: t.value}
		case tokFStatement:
			dc, msg := functionHash(t.value)
			if msg != "" {
				return nil, nil, p.errAt(t.start, msg)
			}
			it = message.CompoundItem{Kind: message.FStatement, Func: dc}
		default:
			it = message.CompoundItem{Kind: message.CompoundKind(t.kind)}
		}
		items = append(items, it)
		starts = append(starts, t.start)
	}
	return items, starts, nil
}

func firstInvalid(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return len(s)
}

// parser is a port of MCollective's Matcher::Parser. Like Ruby it collects malformed tokens,
// parse errors and parenthesis errors separately and reports the first of the first kind found,
// in that order.
type parser struct {
	in                       string
	sc                       scanner
	tokErr, parseErr, parErr *SyntaxError
}

// errAt builds a SyntaxError for the rune index i, kept within the input.
func (p *parser) errAt(i int, msg string) *SyntaxError {
	n := len(p.sc.args)
	i = min(max(i, 0), max(n-1, 0))
	return &SyntaxError{Input: p.in, Col: i + 1, Msg: msg}
}

func (p *parser) parseError(i int, format string, args ...any) {
	if p.parseErr == nil {
		p.parseErr = p.errAt(i, fmt.Sprintf(format, args...))
	}
}

// quoteKind names a token for messages.
func quoteKind(t token) string {
	switch t.kind {
	case tokStatement, tokFStatement, tokBad:
		return fmt.Sprintf("statement %q", t.value)
	case "":
		return "end of input"
	}
	return fmt.Sprintf("'%s'", t.value)
}

// danglingConnective reports whether t is a final "and" or "or", which the scanner reads as
// a statement because no space or parenthesis follows it.
func danglingConnective(t token, last, n int) bool {
	return t.kind == tokStatement && (t.value == "and" || t.value == "or") && last == n-1
}

// run is Parser#parse. It returns the execution stack's tokens.
func (p *parser) run() ([]token, error) {
	sc := &p.sc
	n := len(sc.args)
	var stack []token
	var prev token
	var opens []int // rune indexes of unclosed '('
	cur, terr := sc.next()
	if terr != nil {
		return nil, p.errAt(terr.start, terr.msg)
	}
	for cur.kind != "" {
		sc.idx++
		nxt, terr := sc.next()
		if terr != nil {
			return nil, p.errAt(terr.start, terr.msg)
		}
		if nxt.kind == tokSpace {
			continue
		}
		switch cur.kind {
		case tokBad:
			if p.tokErr == nil {
				p.tokErr = p.errAt(cur.start, fmt.Sprintf("malformed token %q", cur.value))
			}
		case tokAnd, tokOr:
			okNext := nxt.kind == tokNot || nxt.kind == tokFStatement || nxt.kind == tokStatement || nxt.kind == tokLParen
			if !okNext && !(sc.idx == n && nxt.kind != "") {
				if nxt.kind == "" {
					p.parseError(cur.start, "'%s' at the end of the expression", cur.kind)
				} else {
					p.parseError(nxt.start, "%s after '%s', want a statement, 'not' or '('", quoteKind(nxt), cur.kind)
				}
			}
			switch prev.kind {
			case "":
				p.parseError(cur.start, "'%s' at the start of the expression", cur.kind)
			case tokAnd, tokOr:
				p.parseError(cur.start, "'%s' after '%s'", cur.kind, prev.kind)
			}
		case tokNot:
			okNext := nxt.kind == tokNot || nxt.kind == tokFStatement || nxt.kind == tokStatement || nxt.kind == tokLParen
			if !okNext {
				if nxt.kind == "" {
					p.parseError(cur.start, "'not' at the end of the expression")
				} else {
					p.parseError(nxt.start, "%s after 'not', want a statement, 'not' or '('", quoteKind(nxt))
				}
			}
		case tokStatement, tokFStatement:
			okNext := nxt.kind == tokAnd || nxt.kind == tokOr || nxt.kind == tokRParen
			if !okNext && sc.idx != n {
				switch {
				case nxt.kind == "":
					p.parseError(cur.start, "statement %q runs past the end of the expression", cur.value)
				case danglingConnective(nxt, sc.idx, n):
					p.parseError(nxt.start, "'%s' at the end of the expression", nxt.value)
				default:
					p.parseError(nxt.start, "%s after %s, want 'and', 'or' or ')'", quoteKind(nxt), quoteKind(cur))
				}
			}
		case tokRParen:
			// Ruby's check here (n_token =~ /|and|or|not|\(/) lets anything follow; servers
			// then fail to evaluate "( a ) b", so only what may follow a statement is allowed.
			okNext := nxt.kind == tokAnd || nxt.kind == tokOr || nxt.kind == tokRParen
			if nxt.kind == "" && sc.idx != n {
				p.parseError(cur.start, "')' runs past the end of the expression")
			} else if danglingConnective(nxt, sc.idx, n) {
				p.parseError(nxt.start, "'%s' at the end of the expression", nxt.value)
			} else if nxt.kind != "" && !okNext {
				p.parseError(nxt.start, "%s after ')', want 'and', 'or' or ')'", quoteKind(nxt))
			}
			if len(opens) == 0 {
				if p.parErr == nil {
					p.parErr = p.errAt(cur.start, "unbalanced parenthesis: ')' without '('")
				}
			} else {
				opens = opens[:len(opens)-1]
			}
		case tokLParen:
			okNext := nxt.kind == tokNot || nxt.kind == tokFStatement || nxt.kind == tokStatement || nxt.kind == tokLParen
			if !okNext {
				switch nxt.kind {
				case tokRParen:
					p.parseError(cur.start, "empty parentheses")
				case "":
					p.parseError(cur.start, "'(' at the end of the expression")
				default:
					p.parseError(nxt.start, "%s after '(', want a statement, 'not' or '('", quoteKind(nxt))
				}
			}
			opens = append(opens, cur.start)
		default: // only a leading space gets here
			p.parseError(cur.start, "unexpected space at the start of the expression")
		}
		if cur.kind != tokBad {
			stack = append(stack, cur)
		}
		prev, cur = cur, nxt
	}
	if len(opens) > 0 && p.parErr == nil {
		p.parErr = p.errAt(opens[0], "unbalanced parenthesis: '(' never closed")
	}
	for _, e := range []*SyntaxError{p.tokErr, p.parseErr, p.parErr} {
		if e != nil {
			return nil, e
		}
	}
	return stack, nil
}
