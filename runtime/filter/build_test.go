package filter

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/message"
)

func TestBuild(t *testing.T) {
	got, err := Build(Options{
		Facts:      []string{"role=web", "os=/deb/"},
		Classes:    []string{"web::nginx", "/^db/"},
		Identities: []string{"node1.example", "/^web\\d+/"},
		Agents:     []string{"puppet"},
		With:       []string{"uptime>=3 base"},
		Select:     "(a=1 or b) and not fstat(\"/etc/hosts\").size>=1",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := message.Filter{
		Fact:     []message.FactFilter{ff("role", "web", "=="), ff("os", "/deb/", "=~"), ff("uptime", "3", ">=")},
		CFClass:  []string{"web::nginx", "/^db/", "base"},
		Identity: []string{"node1.example", "/^web\\d+/"},
		Agent:    []string{"puppet"},
	}
	if len(got.Compound) != 1 || shape(got.Compound[0]) != "( a=1 or b ) and not F{fstat|/etc/hosts|size|>=|1:string}" {
		t.Errorf("Compound = %v", got.Compound)
	}
	got.Compound = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Build() = %+v\nwant %+v", got, want)
	}

	empty, err := Build(Options{})
	if err != nil || !empty.Empty() {
		t.Errorf("Build(Options{}) = %+v, %v; want the empty filter", empty, err)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"bad fact", Options{Facts: []string{"nonsense"}}, `fact filter "nonsense"`},
		{"fact regex", Options{Facts: []string{"os=/a(/"}}, `fact filter "os=/a(/"`},
		{"fact =~ regex", Options{Facts: []string{"os=~(?<=x)y"}}, "lookaround"},
		{"class regex", Options{Classes: []string{"/a(/"}}, `class filter "/a(/"`},
		{"identity regex", Options{Identities: []string{"/(a)\\1/"}}, "backreference"},
		{"agent regex", Options{Agents: []string{"/[a/"}}, `agent filter "/[a/"`},
		{"empty identity", Options{Identities: []string{""}}, "identity filter: empty"},
		{"empty class", Options{Classes: []string{""}}, "class filter: empty"},
		{"with regex class", Options{With: []string{"a=1 /(?!x)/"}}, "lookaround"},
		{"with regex fact", Options{With: []string{"os=/a(/"}}, `with "os=/a(/"`},
		{"select syntax", Options{Select: "a b"}, "column 3"},
		{"select class regex", Options{Select: "a and /(?=x)/"}, "column 7"},
		{"select fact regex", Options{Select: "os=/a(/"}, "column 1"},
		{"select no value", Options{Select: "a and b= "}, "no value after ="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build() error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestBuilder(t *testing.T) {
	var b Builder
	if err := b.Fact("role=web"); err != nil {
		t.Fatal(err)
	}
	before := b.Filter()
	if err := b.Class("x"); err != nil {
		t.Fatal(err)
	}
	if len(before.CFClass) != 0 {
		t.Errorf("Filter() result changed by a later call: %+v", before)
	}
	if err := b.Fact("bad"); err == nil {
		t.Error("Fact(bad): want an error")
	}
	if err := b.Select(""); !errors.Is(err, errEmptySelect) {
		t.Errorf("Select(\"\") = %v, want errEmptySelect", err)
	}
	var se *SyntaxError
	if err := b.Select("(a"); !errors.As(err, &se) || se.Col != 1 {
		t.Errorf("Select(\"(a\") = %v, want a SyntaxError at column 1", err)
	}
	for _, s := range []string{"a", "b or c"} {
		if err := b.Select(s); err != nil {
			t.Fatal(err)
		}
	}
	f := b.Filter()
	if len(f.Fact) != 1 || len(f.CFClass) != 1 || len(f.Compound) != 2 {
		t.Errorf("Filter() = %+v, want 1 fact, 1 class, 2 compound expressions", f)
	}
}
