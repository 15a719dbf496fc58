package filter

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/match"
	"github.com/mcorun/mcorun/runtime/message"
)

var (
	reFuncOp     = regexp.MustCompile(`(!=|>=|<=|<|>|=)`)
	reWholeCall  = regexp.MustCompile(`(?m)^.+\(.*\)$`)
	reSlashed    = regexp.MustCompile(`(?m)^/.*/$`)
	reStripSlash = regexp.MustCompile(`(?m)^/|/$`)
	reQuote      = regexp.MustCompile(`('|")`)
)

// fstatementOps are the operators a server can evaluate in an fstatement.
var fstatementOps = map[string]bool{
	"==": true, "=~": true, "!=": true, "!=~": true, "<": true, ">": true, "<=": true, ">=": true,
}

// functionHash turns an fstatement token into a DataCall the way Matcher.create_function_hash
// does, including how it cuts the text at the first comparison operators it finds. Where Ruby
// raises, it returns a message instead. It also refuses an operator the server cannot evaluate
// and a /regex/ that does not compile.
func functionHash(call string) (*message.DataCall, string) {
	parts := rubySplit(call, reFuncOp)
	rCompare, _ := pop(&parts)
	op, _ := pop(&parts)
	fn := strings.Join(parts, "")

	dc := &message.DataCall{}
	f := fn
	if !reWholeCall.MatchString(fn) {
		dots := rubySplitString(fn, ".")
		dc.Value, _ = pop(&dots)
		f = strings.Join(dots, ".")
	}

	dc.RCompare = rCompare
	if reSlashed.MatchString(rCompare) {
		switch op {
		case "=":
			op = "=~"
		case "!=":
			op = "!=~"
		}
		src := reStripSlash.ReplaceAllString(rCompare, "")
		if _, err := match.Compile(src, 0); err != nil {
			return nil, fmt.Sprintf("fstatement %q: bad regular expression: %v", call, err)
		}
		dc.RCompare = marshal.Regexp{Source: src}
	} else if op == "=" {
		op = "=="
	}
	dc.Operator = op

	nameParams := rubySplitString(f, "(")
	if len(nameParams) < 2 {
		return nil, fmt.Sprintf("fstatement %q: want name(\"arg\").field, an operator and a value", call)
	}
	dc.Name = nameParams[0]
	if params := nameParams[1]; params == ")" {
		dc.Params = nil
	} else {
		dc.Params = stripQuotes(strings.ReplaceAll(params, ")", ""))
	}
	if !fstatementOps[op] {
		return nil, fmt.Sprintf("fstatement %q: want an operator == =~ != < > <= >=, got %q", call, op)
	}
	return dc, ""
}

// stripQuotes removes the first and the last quote character of s, as create_function_hash
// does to a call's argument so that escaped quotes inside it survive.
func stripQuotes(s string) string {
	q := rubySplit(s, reQuote)
	isQuote := func(x string) bool { return x == "'" || x == `"` }
	for i, x := range q {
		if isQuote(x) {
			q = append(q[:i], q[i+1:]...)
			break
		}
	}
	for i := len(q) - 1; i >= 0; i-- {
		if isQuote(q[i]) {
			q = append(q[:i], q[i+1:]...)
			break
		}
	}
	return strings.Join(q, "")
}

// pop removes and returns the last element, like Ruby's Array#pop; ok is false when empty.
func pop(s *[]string) (string, bool) {
	if len(*s) == 0 {
		return "", false
	}
	v := (*s)[len(*s)-1]
	*s = (*s)[:len(*s)-1]
	return v, true
}

// rubySplit is Ruby's String#split with a regular expression whose groups are kept in the
// result: trailing empty strings are dropped and an empty string gives no elements.
func rubySplit(s string, re *regexp.Regexp) []string {
	var out []string
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
		out = append(out, s[last:m[0]])
		for g := 2; g < len(m); g += 2 {
			if m[g] >= 0 {
				out = append(out, s[m[g]:m[g+1]])
			}
		}
		last = m[1]
	}
	out = append(out, s[last:])
	return trimTrailingEmpty(out)
}

// rubySplitString is Ruby's String#split with a literal, non-space separator.
func rubySplitString(s, sep string) []string {
	return trimTrailingEmpty(strings.Split(s, sep))
}

func trimTrailingEmpty(s []string) []string {
	for len(s) > 0 && s[len(s)-1] == "" {
		s = s[:len(s)-1]
	}
	return s
}
