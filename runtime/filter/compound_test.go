package filter

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

// shape writes items compactly: statements as their text, fstatements as
// F{name|params|value|operator|r_compare:type}, connectives as their kind.
func shape(items []message.CompoundItem) string {
	var parts []string
	for _, it := range items {
		switch it.Kind {
		case message.Statement:
			parts = append(parts, it.Value)
		case message.FStatement:
			dc := it.Func
			parts = append(parts, fmt.Sprintf("F{%s|%v|%s|%s|%v:%T}", dc.Name, dc.Params, dc.Value, dc.Operator, dc.RCompare, dc.RCompare))
		default:
			parts = append(parts, string(it.Kind))
		}
	}
	return strings.Join(parts, " ")
}

func TestCompoundShapes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"a", "a"},
		{"a ", "a"},
		{"a and b", "a and b"},
		{"a or b", "a or b"},
		{"a and b or c", "a and b or c"},
		{"a or b and c", "a or b and c"},
		{"not a", "not a"},
		{"!a", "not a"},
		{"!!a", "not not a"},
		{"not not a", "not not a"},
		{"a and not b", "a and not b"},
		{"a or !b", "a or not b"},
		{"(a)", "( a )"},
		{"((a or b) and c)", "( ( a or b ) and c )"},
		{"a and (b or c) and not (d)", "a and ( b or c ) and not ( d )"},
		{"not(a)", "not ( a )"},
		{"a and(b)", "a and ( b )"},
		{"a or(b)", "a or ( b )"},
		{"(a) and b", "( a ) and b"},
		{"role=web", "role=web"},
		{"role==web", "role==web"},
		{"a!=1", "a!=1"},
		{"a<1 and a>1", "a<1 and a>1"},
		{"a<=1 or a>=1", "a<=1 or a>=1"},
		{"a=/x/", "a=/x/"},
		{"a = b", "a=b"},
		{"a =b", "a=b"},
		{"a= b", "a=b"},
		{"a=/b c/", "a=/b c/"},
		{`role="web server"`, "role=web server"},
		{"role='web'", "role=web"},
		{"web::nginx", "web::nginx"},
		{"/web/", "/web/"},
		{"/web/ and web::nginx", "/web/ and web::nginx"},
		{"été=1", "été=1"},
		{"nota", "nota"},
		{"anda or ora", "anda or ora"},
		{"a and not", "a and not"}, // Ruby reads a final "not" as a class named not
		{"not", "not"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			items, err := Compound(tt.in)
			if err != nil {
				t.Fatalf("Compound(%q): %v", tt.in, err)
			}
			if got := shape(items); got != tt.want {
				t.Errorf("Compound(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCompoundFStatements(t *testing.T) {
	tests := []struct{ in, want string }{
		{`fstat("/etc/hosts").size>=1`, "F{fstat|/etc/hosts|size|>=|1:string}"},
		{`fstat('/etc/hosts').size>=1`, "F{fstat|/etc/hosts|size|>=|1:string}"},
		{"puppet().enabled=true", "F{puppet|<nil>|enabled|==|true:string}"},
		{"puppet().enabled=false", "F{puppet|<nil>|enabled|==|false:string}"},
		{"f().x=1", "F{f|<nil>|x|==|1:string}"},
		{"f().x=1.5", "F{f|<nil>|x|==|1.5:string}"},
		{"f().x=-3", "F{f|<nil>|x|==|-3:string}"},
		{"f().x!=1", "F{f|<nil>|x|!=|1:string}"},
		{"f().x<1", "F{f|<nil>|x|<|1:string}"},
		{"f().x>1", "F{f|<nil>|x|>|1:string}"},
		{"f().x<=1", "F{f|<nil>|x|<=|1:string}"},
		{"f().x>=1", "F{f|<nil>|x|>=|1:string}"},
		{"f().x=/ab+/", "F{f|<nil>|x|=~|{ab+ 0}:marshal.Regexp}"},
		{"f().x!=/ab+/", "F{f|<nil>|x|!=~|{ab+ 0}:marshal.Regexp}"},
		{"f('a').x='b'", "F{f|a|x|==|b:string}"},
		{`f("a").x="b c"`, "F{f|a|x|==|b c:string}"},
		{`fstat("/x")=1`, "F{fstat|/x||==|1:string}"}, // no field: Ruby sends no "value"
		{"f('a.b').x=1", "F{f|a.b|x|==|1:string}"},
		{"x.y().z=1", "F{x.y|<nil>|z|==|1:string}"},
		{"f().x=1=2", "F{f|<nil>|x=1|==|2:string}"},
		{"f('a', 'b').x=1", "F{f|a', 'b|x|==|1:string}"},
		{`a and not fstat("/x").size=0`, "a and not F{fstat|/x|size|==|0:string}"},
		{"(fstat('/x').size=0)", "( F{fstat|/x|size|==|0:string} )"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			items, err := Compound(tt.in)
			if err != nil {
				t.Fatalf("Compound(%q): %v", tt.in, err)
			}
			if got := shape(items); got != tt.want {
				t.Errorf("Compound(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestCompoundRubyGolden holds expectations produced by the Ruby client's parser
// (MCollective::Matcher.create_compound_callstack), written out in full.
func TestCompoundRubyGolden(t *testing.T) {
	stmt := func(v string) message.CompoundItem { return message.CompoundItem{Kind: message.Statement, Value: v} }
	kind := func(k message.CompoundKind) message.CompoundItem { return message.CompoundItem{Kind: k} }
	fst := func(dc message.DataCall) message.CompoundItem {
		return message.CompoundItem{Kind: message.FStatement, Func: &dc}
	}
	tests := []struct {
		in   string
		want []message.CompoundItem
	}{
		{`(a=1 or b) and not fstat("/etc/hosts").size>=1`, []message.CompoundItem{
			kind(message.LParen), stmt("a=1"), kind(message.Or), stmt("b"), kind(message.RParen),
			kind(message.And), kind(message.Not),
			fst(message.DataCall{Name: "fstat", Params: "/etc/hosts", Value: "size", Operator: ">=", RCompare: "1"}),
		}},
		{"puppet().enabled=true", []message.CompoundItem{
			fst(message.DataCall{Name: "puppet", Params: nil, Value: "enabled", Operator: "==", RCompare: "true"}),
		}},
		{`fstat("/x").size=/ab+/`, []message.CompoundItem{
			fst(message.DataCall{Name: "fstat", Params: "/x", Value: "size", Operator: "=~", RCompare: marshal.Regexp{Source: "ab+"}}),
		}},
		{`fstat('/x').size!=/a/`, []message.CompoundItem{
			fst(message.DataCall{Name: "fstat", Params: "/x", Value: "size", Operator: "!=~", RCompare: marshal.Regexp{Source: "a"}}),
		}},
		{"a or (b and c)", []message.CompoundItem{
			stmt("a"), kind(message.Or), kind(message.LParen), stmt("b"), kind(message.And), stmt("c"), kind(message.RParen),
		}},
		{`role="web server"`, []message.CompoundItem{stmt("role=web server")}},
		{"!a", []message.CompoundItem{kind(message.Not), stmt("a")}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Compound(tt.in)
			if err != nil {
				t.Fatalf("Compound(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Compound(%q)\n got %s\nwant %s", tt.in, shape(got), shape(tt.want))
			}
		})
	}
}

func TestCompoundErrors(t *testing.T) {
	tests := []struct {
		in   string
		col  int
		want string // substring of the message
	}{
		{"(a and b", 1, "'(' never closed"},
		{"((a)", 1, "'(' never closed"},
		{"a and b)", 8, "')' without '('"},
		{"(a))", 4, "')' without '('"},
		{"a) and b)", 2, "')' without '('"},
		{"a) and (b", 2, "')' without '('"},
		{"(a) b", 5, "after ')'"},
		{"(a) (b)", 5, "after ')'"},
		{"(a) not b", 5, "after ')'"},
		{"()", 1, "empty parentheses"},
		{"(and a)", 2, "after '('"},
		{"(", 1, "'(' at the end"},
		{"and a", 1, "'and' at the start"},
		{"or a", 1, "'or' at the start"},
		{"a and", 3, "'and' at the end"},
		{"a or", 3, "'or' at the end"},
		{"a and or b", 7, "after 'and'"},
		{"a or and b", 6, "after 'or'"},
		{"a and )", 7, "after 'and'"},
		{"a b", 3, `statement "b" after statement "a"`},
		{"a not b", 3, "'not' after"},
		{"a (b)", 3, "'(' after"},
		{"not and a", 5, "after 'not'"},
		{"!", 1, "'not' at the end"},
		{"a and !", 7, "'not' at the end"},
		{" a", 1, "unexpected space"},
		{"  ", 1, "unexpected space"},
		{"a\tb", 2, "after statement"},
		{"/we b/", 1, "malformed token"},
		{"a and /b/c=d/", 7, "malformed token"},
		{"a=/b", 1, "malformed token"},
		{"f(", 1, "malformed token"},
		{"a and bar( and c", 7, "malformed token"},
		{"f('a'", 1, "malformed token"},
		{"puppet( ).x=1", 1, "malformed token"},
		{"/a\\", 1, "malformed token"},
		{`fstat("/x")`, 1, "want name"},
		{`fstat("/x").size`, 1, "want name"},
		{"x=y('a')", 1, "want name"},
		{"f().x=y=", 1, "want an operator"},
		{"f().x=/a(/", 1, "bad regular expression"},
		{"a and f().x=/(?!a)/", 7, "bad regular expression"},
		{"a\xffb", 2, "invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Compound(tt.in)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compound(%q) error = %v, want a *SyntaxError", tt.in, err)
			}
			if se.Col != tt.col || !strings.Contains(se.Msg, tt.want) {
				t.Errorf("Compound(%q) = col %d %q, want col %d containing %q", tt.in, se.Col, se.Msg, tt.col, tt.want)
			}
			if se.Input != tt.in {
				t.Errorf("Input = %q, want %q", se.Input, tt.in)
			}
		})
	}
}

func TestSyntaxErrorCaret(t *testing.T) {
	_, err := Compound("(a and b) or")
	want := "compound filter: 'or' at the end of the expression at column 11\n  (a and b) or\n            ^"
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
	_, err = Compound("a\tb")
	if err == nil || !strings.Contains(err.Error(), "\n  a b\n   ^") {
		t.Errorf("a tab should show as one space column: %q", err)
	}
}

// FuzzCompound checks that Compound never panics and that every SyntaxError points inside
// its input.
func FuzzCompound(f *testing.F) {
	for _, s := range []string{
		"", "a", "(a=1 or b) and not fstat(\"/etc/hosts\").size>=1", "a) and (b", "f().x=/a/",
		"=//x", "'a\\", "/a\\", "f('a', 'b').x=1", "not(!a)", "x=y('a')", "a\nb", "a=\"x\\\"y\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		items, err := Compound(s)
		if err == nil {
			for _, it := range items {
				if it.Kind == message.FStatement && it.Func == nil {
					t.Fatalf("Compound(%q): fstatement without a call", s)
				}
			}
			return
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("Compound(%q): %T, want *SyntaxError", s, err)
		}
		if n := utf8.RuneCountInString(s); se.Col < 1 || se.Col > n {
			t.Fatalf("Compound(%q): column %d outside 1..%d", s, se.Col, n)
		}
		_ = se.Error()
	})
}
