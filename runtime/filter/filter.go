// Package filter turns mco's command-line host filters into the wire filter message.Filter,
// with the parsing rules of the MCollective 2.12 Ruby client, so that stock mcollectived
// servers receive exactly what the Ruby client would send:
//
//	-F, --wf      Fact:     fact=value, fact==value, fact!=value, fact<v, fact>v, fact<=v,
//	                        fact>=v, fact=~v, fact=/re/ (util.rb parse_fact_string)
//	-C, --wc      a configuration management class, or /re/
//	-I, --wi      an identity, or /re/
//	-A, --wa      an agent, or /re/
//	-W, --with    With:     space-separated facts and classes (optionparser.rb)
//	-S, --select  Compound: the compound language (matcher/scanner.rb, matcher/parser.rb)
//
// Build and Builder combine them into one Filter; String renders a Filter for people.
package filter

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

// The patterns of util.rb parse_fact_string, tried in order. Ruby's ^ matches at any line
// start, hence (?m). "=>" and "=<" are Ruby's spellings of >= and <=.
var factPatterns = []struct {
	re *regexp.Regexp
	op string // fixed operator, or "" to take it from group 2
}{
	{regexp.MustCompile(`(?m)^([^ ]+?)[ ]*=>[ ]*(.+)`), ">="},
	{regexp.MustCompile(`(?m)^([^ ]+?)[ ]*=<[ ]*(.+)`), "<="},
	{regexp.MustCompile(`(?m)^([^ ]+?)[ ]*(<=|>=|<|>|!=|==|=~)[ ]*(.+)`), ""},
	{regexp.MustCompile(`(?m)^(.+?)[ ]*=[ ]*/(.+)/$`), "=~"},
	{regexp.MustCompile(`(?m)^([^= ]+?)[ ]*=[ ]*(.+)`), "=="},
}

// Fact parses a -F/--wf fact filter such as "osfamily=Debian", "uptime_days>=3" or
// "hostname=/^web/". A bare = means ==, and =/re/ means =~ with the slashes kept in Value,
// as servers expect.
func Fact(s string) (message.FactFilter, error) {
	for _, p := range factPatterns {
		m := p.re.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		switch {
		case p.op == "=~":
			return message.FactFilter{Fact: m[1], Value: "/" + m[2] + "/", Operator: "=~"}, nil
		case p.op != "":
			return message.FactFilter{Fact: m[1], Value: m[2], Operator: p.op}, nil
		default:
			return message.FactFilter{Fact: m[1], Value: m[3], Operator: m[2]}, nil
		}
	}
	return message.FactFilter{}, fmt.Errorf("fact filter %q: want fact=value, or fact, an operator (== =~ != < > <= >=) and a value", s)
}

// With parses a -W/--with argument: words separated by whitespace, each a fact filter when it
// parses as one and a class otherwise.
func With(s string) (message.Filter, error) {
	var f message.Filter
	for _, w := range rubyFields(s) {
		if ff, err := Fact(w); err == nil {
			f.Fact = append(f.Fact, ff)
		} else {
			f.CFClass = append(f.CFClass, w)
		}
	}
	return f, nil
}

// rubyFields is Ruby's String#split(" "): fields separated by runs of ASCII whitespace.
func rubyFields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r < 0x80 && isSpace(r) })
}

// String renders a filter for logs and help output, for example
// `fact role=web, class web::nginx, identity /^db/, select (a or b) and not c`.
// The zero Filter renders as "no filter".
func String(f message.Filter) string {
	var parts []string
	for _, ff := range f.Fact {
		op := ff.Operator
		if op == "==" {
			op = "="
		}
		parts = append(parts, "fact "+ff.Fact+op+ff.Value)
	}
	for _, c := range f.CFClass {
		parts = append(parts, "class "+c)
	}
	for _, id := range f.Identity {
		parts = append(parts, "identity "+id)
	}
	for _, a := range f.Agent {
		parts = append(parts, "agent "+a)
	}
	for _, expr := range f.Compound {
		parts = append(parts, "select "+compoundString(expr))
	}
	if len(parts) == 0 {
		return "no filter"
	}
	return strings.Join(parts, ", ")
}

// CompoundString writes a parsed compound expression back in -S syntax.
func CompoundString(items []message.CompoundItem) string { return compoundString(items) }

// compoundString writes a compound expression back in -S syntax.
func compoundString(items []message.CompoundItem) string {
	var b strings.Builder
	for i, it := range items {
		if i > 0 && it.Kind != message.RParen && items[i-1].Kind != message.LParen {
			b.WriteByte(' ')
		}
		switch it.Kind {
		case message.Statement:
			b.WriteString(it.Value)
		case message.FStatement:
			b.WriteString(callString(it.Func))
		default:
			b.WriteString(string(it.Kind))
		}
	}
	return b.String()
}

// callString writes an fstatement as name("arg").field op value.
func callString(dc *message.DataCall) string {
	if dc == nil {
		return "?()"
	}
	var b strings.Builder
	b.WriteString(dc.Name)
	b.WriteByte('(')
	switch p := dc.Params.(type) {
	case nil:
	case string:
		if strings.Contains(p, `"`) {
			b.WriteString("'" + p + "'")
		} else {
			b.WriteString(`"` + p + `"`)
		}
	default:
		fmt.Fprint(&b, p)
	}
	b.WriteByte(')')
	if dc.Value != "" {
		b.WriteString("." + dc.Value)
	}
	op := dc.Operator
	_, isRe := dc.RCompare.(marshal.Regexp)
	switch {
	case op == "==", op == "=~" && isRe:
		op = "="
	case op == "!=~" && isRe:
		op = "!="
	}
	b.WriteString(op)
	switch r := dc.RCompare.(type) {
	case nil:
	case marshal.Regexp:
		b.WriteString("/" + r.Source + "/")
	default:
		fmt.Fprint(&b, r)
	}
	return b.String()
}
