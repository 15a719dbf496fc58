package filter

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

// wireJSON renders compound items in the JSON shape testdata/ruby_compound.rb writes for
// the Ruby client's execution stack.
func wireJSON(items []message.CompoundItem) []any {
	out := []any{}
	for _, it := range items {
		switch it.Kind {
		case message.Statement:
			out = append(out, map[string]any{"statement": it.Value})
		case message.FStatement:
			dc := it.Func
			h := map[string]any{"name": dc.Name, "params": dc.Params, "operator": dc.Operator}
			if dc.Value != "" {
				h["value"] = dc.Value
			}
			if re, ok := dc.RCompare.(marshal.Regexp); ok {
				h["r_compare"] = map[string]any{"regexp": re.Source}
			} else {
				h["r_compare"] = dc.RCompare
			}
			out = append(out, map[string]any{"fstatement": h})
		default:
			out = append(out, map[string]any{string(it.Kind): string(it.Kind)})
		}
	}
	return out
}

// rubyDeviations are the errors Compound reports, on purpose, for input the Ruby client
// accepts, keyed by a substring of the message.
var rubyDeviations = map[string]string{
	"')' without '('":        "Ruby lets a pair of unmatched ')' through; servers then fail to evaluate the expression",
	"after ')'":              "Ruby lets anything follow ')', as in (a) b; servers then fail to evaluate the expression",
	"want an operator":       "Ruby cuts f().x=y= so that y is the operator; servers cannot evaluate it",
	"bad regular expression": "Ruby constructs such as lookahead that servers written in Go cannot evaluate",
}

func deviates(err error) bool {
	for k := range rubyDeviations {
		if strings.Contains(err.Error(), k) {
			return true
		}
	}
	return false
}

// TestCompoundMatchesRuby replays testdata/ruby_compound.jsonl, produced by the Ruby client's
// compound parser (Matcher.create_compound_callstack), and requires the same stack or an error.
func TestCompoundMatchesRuby(t *testing.T) {
	fh, err := os.Open("testdata/ruby_compound.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	n := 0
	for sc.Scan() {
		var c struct {
			In    string `json:"in"`
			Stack []any  `json:"stack"`
			Error bool   `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		n++
		items, err := Compound(c.In)
		var se *SyntaxError
		if err != nil && !errors.As(err, &se) {
			t.Errorf("Compound(%q): error %T, want *SyntaxError", c.In, err)
		}
		switch {
		case c.Error && err == nil:
			t.Errorf("Compound(%q) = %v, Ruby rejects it", c.In, wireJSON(items))
		case !c.Error && err != nil:
			if !deviates(err) {
				t.Errorf("Compound(%q): %v; Ruby accepts it as %v", c.In, err, c.Stack)
			}
		case !c.Error:
			got := roundTrip(t, wireJSON(items))
			if !reflect.DeepEqual(got, roundTrip(t, c.Stack)) {
				t.Errorf("Compound(%q)\n got %v\nwant %v", c.In, got, c.Stack)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 1000 {
		t.Fatalf("only %d cases read", n)
	}
}

func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
