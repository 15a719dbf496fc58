package filter

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

// ff builds a FactFilter from its fact, value and operator.
func ff(fact, value, op string) message.FactFilter {
	return message.FactFilter{Fact: fact, Value: value, Operator: op}
}

// TestFact's expectations were produced by the Ruby client's MCollective::Util.parse_fact_string.
func TestFact(t *testing.T) {
	tests := []struct {
		in             string
		fact, op, val  string
		wantErrContain string
	}{
		{in: "role=web", fact: "role", op: "==", val: "web"},
		{in: "role==web", fact: "role", op: "==", val: "web"},
		{in: "a!=b", fact: "a", op: "!=", val: "b"},
		{in: "a<1", fact: "a", op: "<", val: "1"},
		{in: "a>1", fact: "a", op: ">", val: "1"},
		{in: "a<=1", fact: "a", op: "<=", val: "1"},
		{in: "a>=1", fact: "a", op: ">=", val: "1"},
		{in: "a=~web", fact: "a", op: "=~", val: "web"},
		{in: "a=/web/", fact: "a", op: "=~", val: "/web/"},
		{in: "hostname=/^web\\d+$/", fact: "hostname", op: "=~", val: "/^web\\d+$/"},
		{in: "a=>1", fact: "a", op: ">=", val: "1"},
		{in: "a=<1", fact: "a", op: "<=", val: "1"},
		{in: "a = b", fact: "a", op: "==", val: "b"},
		{in: "a= /x/", fact: "a", op: "=~", val: "/x/"},
		{in: "a =~ /x/", fact: "a", op: "=~", val: "/x/"},
		{in: "a.b.c=/x=y/", fact: "a.b.c", op: "=~", val: "/x=y/"},
		{in: "a=b=c", fact: "a", op: "==", val: "b=c"},
		{in: "a==/x/", fact: "a", op: "==", val: "/x/"},
		{in: "a=/x", fact: "a", op: "==", val: "/x"},
		{in: "a!=/x/", fact: "a", op: "!=", val: "/x/"},
		{in: "a<=>b", fact: "a<", op: ">=", val: "b"},
		{in: "é=ü", fact: "é", op: "==", val: "ü"},
		{in: "a\nb=c", fact: "a\nb", op: "==", val: "c"},
		{in: "x", wantErrContain: `"x"`},
		{in: "=x", wantErrContain: "want fact=value"},
		{in: "a=", wantErrContain: "want fact=value"},
		{in: "a b=c", wantErrContain: "want fact=value"},
		{in: "", wantErrContain: "want fact=value"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Fact(tt.in)
			if tt.wantErrContain != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrContain) {
					t.Fatalf("Fact(%q) = %+v, %v; want error containing %q", tt.in, got, err, tt.wantErrContain)
				}
				return
			}
			want := message.FactFilter{Fact: tt.fact, Operator: tt.op, Value: tt.val}
			if err != nil || got != want {
				t.Errorf("Fact(%q) = %+v, %v; want %+v", tt.in, got, err, want)
			}
		})
	}
}

func TestWith(t *testing.T) {
	tests := []struct {
		in      string
		facts   []message.FactFilter
		classes []string
	}{
		{in: ""},
		{in: "web::nginx", classes: []string{"web::nginx"}},
		{in: "role=web", facts: []message.FactFilter{{Fact: "role", Value: "web", Operator: "=="}}},
		{
			in:      "  role=web  web::nginx\tuptime>=3 /^db/ os=/deb/ ",
			facts:   []message.FactFilter{ff("role", "web", "=="), ff("uptime", "3", ">="), ff("os", "/deb/", "=~")},
			classes: []string{"web::nginx", "/^db/"},
		},
		{in: "a\u00a0b=c", facts: []message.FactFilter{ff("a\u00a0b", "c", "==")}}, // only ASCII space separates
		{in: "=x y", classes: []string{"=x", "y"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := With(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Fact, tt.facts) || !reflect.DeepEqual(got.CFClass, tt.classes) {
				t.Errorf("With(%q) = %+v %q, want %+v %q", tt.in, got.Fact, got.CFClass, tt.facts, tt.classes)
			}
		})
	}
}

func TestString(t *testing.T) {
	sel, err := Compound(`(a=1 or b) and not fstat("/etc/hosts").size>=1 and f().x=/y/ and g().z!=/w/`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    message.Filter
		want string
	}{
		{"empty", message.Filter{}, "no filter"},
		{"all", message.Filter{
			Fact:     []message.FactFilter{ff("role", "web", "=="), ff("up", "3", ">=")},
			CFClass:  []string{"web::nginx"},
			Identity: []string{"/^db/"},
			Agent:    []string{"puppet"},
		}, "fact role=web, fact up>=3, class web::nginx, identity /^db/, agent puppet"},
		{"select", message.Filter{Compound: [][]message.CompoundItem{sel}},
			`select (a=1 or b) and not fstat("/etc/hosts").size>=1 and f().x=/y/ and g().z!=/w/`},
		{"odd call", message.Filter{Compound: [][]message.CompoundItem{{
			{Kind: message.FStatement, Func: &message.DataCall{Name: "d", Params: `a"b`, Operator: "<", RCompare: int64(3)}},
			{Kind: message.FStatement},
			{Kind: message.FStatement, Func: &message.DataCall{Name: "e", Operator: "=~", RCompare: marshal.Regexp{Source: "x"}}},
		}}}, `select d('a"b')<3 ?() e()=/x/`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := String(tt.f); got != tt.want {
				t.Errorf("String() = %q\nwant %q", got, tt.want)
			}
		})
	}
}
