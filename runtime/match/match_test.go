package match

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

// fakeNode is a Node with fixed facts, classes, agents and data plugin outputs.
type fakeNode struct {
	identity string
	facts    map[string]any
	classes  []string
	agents   []string
	data     map[string]map[string]any // plugin -> outputs
	queries  []any                     // queries seen by Data
}

func (n *fakeNode) Identity() string { return n.identity }

func (n *fakeNode) Fact(name string) (any, bool) {
	v, ok := n.facts[name]
	return v, ok
}

func (n *fakeNode) Classes() []string { return n.classes }

func (n *fakeNode) HasAgent(name string) bool {
	for _, a := range n.agents {
		if a == name {
			return true
		}
	}
	return false
}

func (n *fakeNode) Agents() []string { return n.agents }

func (n *fakeNode) Data(_ context.Context, plugin string, query any) (map[string]any, error) {
	n.queries = append(n.queries, query)
	out, ok := n.data[plugin]
	if !ok {
		return nil, fmt.Errorf("unknown data plugin %q", plugin)
	}
	return out, nil
}

func newNode() *fakeNode {
	return &fakeNode{
		identity: "web1.example.com",
		facts: map[string]any{
			"role":     "web",
			"osfamily": "Debian",
			"cores":    10,
			"count":    "10",
			"version":  "1.10",
			"load":     1.5,
			"virtual":  true,
			"zero9":    "09",
			"nothing":  nil,
			"ips":      []any{"10.0.0.1", "192.168.1.5"},
			"nested":   []any{[]any{"x"}, "y"},
			"disks":    map[string]any{"sda": map[string]any{"size": 100}, "sdb": nil},
			"big":      1e20,
		},
		classes: []string{"settings", "role::web", "profile::nginx"},
		agents:  []string{"rpcutil", "puppet", "discovery"},
		data: map[string]map[string]any{
			"fstat":  {"size": int64(100), "type": "file", "mode": "0644", "present": true, "mtime": nil},
			"puppet": {"enabled": true, "lastrun": int64(1700000000), "ratio": 0.5},
		},
	}
}

func fact(name, op, value string) message.Filter {
	return message.Filter{Fact: []message.FactFilter{{Fact: name, Value: value, Operator: op}}}
}

type matchCase struct {
	name    string
	filter  message.Filter
	want    bool
	wantErr bool // a malformed filter
}

// runCases checks each case with Match, and twice with a Matcher whose memo the cases share,
// so that an answer from the memo is checked too.
func runCases(t *testing.T, cases []matchCase) {
	t.Helper()
	memo := Matcher{Regexps: NewRegexps()}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Helper()
			for i, match := range []func(context.Context, message.Filter, Node) (bool, error){Match, memo.Match, memo.Match} {
				got, err := match(context.Background(), tc.filter, newNode())
				if tc.wantErr {
					if !errors.Is(err, ErrMalformed) {
						t.Fatalf("run %d: Match error = %v, want ErrMalformed", i, err)
					}
				} else if err != nil {
					t.Fatalf("run %d: Match error = %v", i, err)
				}
				if got != tc.want {
					t.Fatalf("run %d: Match = %v, want %v", i, got, tc.want)
				}
			}
		})
	}
}

func TestMatchFacts(t *testing.T) {
	runCases(t, []matchCase{
		{name: "empty filter", filter: message.Filter{}, want: true},
		{name: "equal", filter: fact("role", "==", "web"), want: true},
		{name: "equal mismatch", filter: fact("role", "==", "db"), want: false},
		{name: "missing fact", filter: fact("nope", "==", "web"), want: false},
		{name: "missing fact not equal", filter: fact("nope", "!=", "web"), want: false},
		{name: "not equal", filter: fact("role", "!=", "db"), want: true},
		{name: "not equal same", filter: fact("role", "!=", "web"), want: false},
		{name: "unknown operator", filter: fact("role", "=", "web"), want: false},
		{name: "int fact equal as string", filter: fact("cores", "==", "10"), want: true},
		{name: "bool fact as string", filter: fact("virtual", "==", "true"), want: true},
		{name: "float fact as Ruby to_s", filter: fact("load", "==", "1.5"), want: true},
		{name: "big float as Ruby to_s", filter: fact("big", "==", "1.0e+20"), want: true},
		{name: "nil fact is empty string", filter: fact("nothing", "==", ""), want: true},
		{name: "numeric 10 > 9", filter: fact("count", ">", "9"), want: true},
		{name: "numeric 10 >= 10", filter: fact("cores", ">=", "10"), want: true},
		{name: "numeric 10 < 9", filter: fact("count", "<", "9"), want: false},
		{name: "numeric 10 <= 100", filter: fact("count", "<=", "100"), want: true},
		{name: "string compare when one side not numeric", filter: fact("role", ">", "abc"), want: true},
		{name: "int vs decimal compares strings", filter: fact("count", "<", "9.5"), want: true},
		{name: "decimals compare as floats", filter: fact("version", ">", "1.9"), want: false},
		{name: "decimals compare as floats 2", filter: fact("load", "<", "1.25"), want: false},
		{name: "octal-looking fact aborts", filter: fact("zero9", ">=", "5"), want: false},
		{name: "regex with slashes", filter: fact("osfamily", "=~", "/^deb/i"), want: false},
		{name: "regex with slashes match", filter: fact("osfamily", "=~", "/^Deb/"), want: true},
		{name: "regex without slashes", filter: fact("osfamily", "=~", "bia"), want: true},
		{name: "regex no match", filter: fact("osfamily", "=~", "/RedHat/"), want: false},
		{name: "regex on int fact", filter: fact("cores", "=~", "^1"), want: true},
		{name: "bad regex", filter: fact("role", "=~", "/(/"), want: false, wantErr: true},
		{name: "bad regex missing fact", filter: fact("nope", "=~", "/(/"), want: false},
		{name: "backreference unsupported", filter: fact("role", "=~", `/(w)\1/`), wantErr: true},
		{name: "lookahead unsupported", filter: fact("role", "=~", `/w(?=e)/`), wantErr: true},
		{name: "array any element", filter: fact("ips", "==", "192.168.1.5"), want: true},
		{name: "array no element", filter: fact("ips", "==", "10.0.0.2"), want: false},
		{name: "array regex", filter: fact("ips", "=~", `/^192\./`), want: true},
		{name: "array not equal any", filter: fact("ips", "!=", "10.0.0.1"), want: true},
		{name: "nested array equal", filter: fact("nested", "==", "y"), want: true},
		{name: "nested array regex aborts", filter: fact("nested", "=~", "y"), want: false},
		{name: "hash key", filter: fact("disks", "==", "sdb"), want: true},
		{name: "hash value not matched", filter: fact("disks", "==", "100"), want: false},
		{name: "hash key regex", filter: fact("disks", "=~", "/^sd/"), want: true},
		{name: "facts ANDed", filter: message.Filter{Fact: []message.FactFilter{
			{Fact: "role", Value: "web", Operator: "=="},
			{Fact: "osfamily", Value: "RedHat", Operator: "=="},
		}}, want: false},
	})
}

func TestMatchClassesAgentsIdentities(t *testing.T) {
	runCases(t, []matchCase{
		{name: "class literal", filter: message.Filter{CFClass: []string{"role::web"}}, want: true},
		{name: "class literal is exact", filter: message.Filter{CFClass: []string{"role"}}, want: false},
		{name: "class regex", filter: message.Filter{CFClass: []string{"/nginx/"}}, want: true},
		{name: "class regex anchored", filter: message.Filter{CFClass: []string{"/^nginx/"}}, want: false},
		{name: "classes ANDed", filter: message.Filter{CFClass: []string{"settings", "role::db"}}, want: false},
		{name: "agent present", filter: message.Filter{Agent: []string{"puppet"}}, want: true},
		{name: "agent absent", filter: message.Filter{Agent: []string{"service"}}, want: false},
		{name: "agent mcollective always", filter: message.Filter{Agent: []string{"mcollective"}}, want: true},
		{name: "agent regex", filter: message.Filter{Agent: []string{"/^pup/"}}, want: true},
		{name: "agent regex miss", filter: message.Filter{Agent: []string{"/^svc/"}}, want: false},
		{name: "identity literal", filter: message.Filter{Identity: []string{"web1.example.com"}}, want: true},
		{name: "identity ORed", filter: message.Filter{Identity: []string{"db1", "web1.example.com"}}, want: true},
		{name: "identity regex ORed", filter: message.Filter{Identity: []string{"db1", `/^web\d/`}}, want: true},
		{name: "identity none", filter: message.Filter{Identity: []string{"db1", "/^db/"}}, want: false},
		{name: "identity matched twice fails", filter: message.Filter{Identity: []string{"web1.example.com", "/web/"}}, want: false},
		{name: "identity bad regex", filter: message.Filter{Identity: []string{"/[/"}}, wantErr: true},
		{name: "all sections", filter: message.Filter{
			Fact:     []message.FactFilter{{Fact: "role", Value: "web", Operator: "=="}},
			CFClass:  []string{"settings"},
			Agent:    []string{"rpcutil"},
			Identity: []string{"/example/"},
		}, want: true},
	})
}

func stmt(v string) message.CompoundItem {
	return message.CompoundItem{Kind: message.Statement, Value: v}
}

func conn(k message.CompoundKind) message.CompoundItem {
	return message.CompoundItem{Kind: k, Value: string(k)}
}

func fstmt(name string, params any, value, op string, r any) message.CompoundItem {
	return message.CompoundItem{Kind: message.FStatement, Func: &message.DataCall{
		Name: name, Params: params, Value: value, Operator: op, RCompare: r,
	}}
}

func compound(items ...message.CompoundItem) message.Filter {
	return message.Filter{Compound: [][]message.CompoundItem{items}}
}

var (
	and    = conn(message.And)
	or     = conn(message.Or)
	not    = conn(message.Not)
	lparen = conn(message.LParen)
	rparen = conn(message.RParen)
)

func TestMatchCompound(t *testing.T) {
	runCases(t, []matchCase{
		{name: "fact statement", filter: compound(stmt("role=web")), want: true},
		{name: "class statement", filter: compound(stmt("role::web")), want: true},
		{name: "class regex statement", filter: compound(stmt("/nginx/")), want: true},
		{name: "fact regex statement", filter: compound(stmt("role=/^w/")), want: true},
		{name: "fact numeric statement", filter: compound(stmt("count>=9")), want: true},
		{name: "fact numeric statement false", filter: compound(stmt("count<9")), want: false},
		{name: "bang-equals is not an operator", filter: compound(stmt("role!=db")), want: false},
		{name: "tilde is not an operator", filter: compound(stmt("role=~/we/")), want: false},
		{name: "statement without value", filter: compound(stmt("role=")), wantErr: true},
		{name: "and not regex class", filter: compound(stmt("role=web"), and, not, stmt("/^db/")), want: true},
		{name: "and not matching class", filter: compound(stmt("role=web"), and, not, stmt("/^role/")), want: false},
		{name: "or", filter: compound(stmt("role=db"), or, stmt("osfamily=Debian")), want: true},
		{name: "and binds tighter than or", filter: compound(stmt("role=web"), or, stmt("role=db"), and, stmt("role=db")), want: true},
		{name: "parentheses group", filter: compound(lparen, stmt("role=web"), or, stmt("role=db"), rparen, and, stmt("role=db")), want: false},
		{name: "not binds tighter than and", filter: compound(not, stmt("role=db"), and, stmt("role=web")), want: true},
		{name: "not of group", filter: compound(not, lparen, stmt("role=db"), or, stmt("role=web"), rparen), want: false},
		{name: "double not", filter: compound(not, not, stmt("role=web")), want: true},
		{name: "expressions ANDed", filter: message.Filter{Compound: [][]message.CompoundItem{
			{stmt("role=web")}, {stmt("role=db")},
		}}, want: false},
		{name: "empty expression", filter: message.Filter{Compound: [][]message.CompoundItem{{}}}, want: false},
		{name: "unbalanced open", filter: compound(lparen, stmt("role=web")), wantErr: true},
		{name: "unbalanced close", filter: compound(stmt("role=web"), rparen), wantErr: true},
		{name: "dangling and", filter: compound(stmt("role=web"), and), wantErr: true},
		{name: "two values", filter: compound(stmt("role=web"), stmt("role=web")), wantErr: true},
		{name: "empty parens", filter: compound(lparen, rparen), wantErr: true},
	})
}

func TestMatchFStatement(t *testing.T) {
	re := func(src string) marshal.Regexp { return marshal.Regexp{Source: src} }
	runCases(t, []matchCase{
		{name: "size >= string", filter: compound(fstmt("fstat", "/etc/hosts", "size", ">=", "1")), want: true},
		{name: "size > 100", filter: compound(fstmt("fstat", "/etc/hosts", "size", ">", "100")), want: false},
		{name: "size == int", filter: compound(fstmt("fstat", "/etc/hosts", "size", "==", int64(100))), want: true},
		{name: "size == float string", filter: compound(fstmt("fstat", "/etc/hosts", "size", "==", "100.0")), want: true},
		{name: "size == hex string", filter: compound(fstmt("fstat", "/etc/hosts", "size", "==", "0x64")), want: true},
		{name: "size != 5", filter: compound(fstmt("fstat", "/etc/hosts", "size", "!=", "5")), want: true},
		{name: "size vs word", filter: compound(fstmt("fstat", "/etc/hosts", "size", "==", "big")), wantErr: true},
		{name: "upper-case plugin name", filter: compound(fstmt("FSTAT", "/etc/hosts", "size", "==", "100")), want: true},
		{name: "string equal", filter: compound(fstmt("fstat", "/etc/hosts", "type", "==", "file")), want: true},
		{name: "string ordering is false", filter: compound(fstmt("fstat", "/etc/hosts", "type", ">", "a")), want: false},
		{name: "string vs int to_s", filter: compound(fstmt("fstat", "/etc/hosts", "mode", "==", "0644")), want: true},
		{name: "regexp match", filter: compound(fstmt("fstat", "/etc/hosts", "type", "=~", re("^fi"))), want: true},
		{name: "regexp ignorecase", filter: compound(fstmt("fstat", "/etc/hosts", "type", "=~", marshal.Regexp{Source: "^FI", Options: 1})), want: true},
		{name: "regexp no match", filter: compound(fstmt("fstat", "/etc/hosts", "type", "=~", re("^dir"))), want: false},
		{name: "not regexp", filter: compound(fstmt("fstat", "/etc/hosts", "type", "!=~", re("^dir"))), want: true},
		{name: "string r_compare keeps slashes", filter: compound(fstmt("fstat", "/etc/hosts", "type", "=~", "/fi/")), want: false},
		{name: "string r_compare without slashes", filter: compound(fstmt("fstat", "/etc/hosts", "type", "=~", "fi")), want: true},
		{name: "regexp on number is false", filter: compound(fstmt("fstat", "/etc/hosts", "size", "=~", re("1"))), want: false},
		{name: "boolean string true", filter: compound(fstmt("puppet", nil, "enabled", "==", "true")), want: true},
		{name: "boolean string false", filter: compound(fstmt("puppet", nil, "enabled", "==", "false")), want: false},
		{name: "boolean bool", filter: compound(fstmt("puppet", nil, "enabled", "==", true)), want: true},
		{name: "boolean bad value", filter: compound(fstmt("puppet", nil, "enabled", "==", "yes")), wantErr: true},
		{name: "boolean ordering", filter: compound(fstmt("puppet", nil, "enabled", ">", "true")), want: false},
		{name: "float output", filter: compound(fstmt("puppet", nil, "ratio", "<", "1")), want: true},
		{name: "missing output is false", filter: compound(fstmt("fstat", "/x", "nope", "==", "1")), want: false},
		{name: "missing output negated", filter: compound(not, fstmt("fstat", "/x", "nope", "==", "1")), want: true},
		{name: "nil output is false", filter: compound(fstmt("fstat", "/x", "mtime", "==", "1")), want: false},
		{name: "backtick query", filter: compound(fstmt("fstat", "/x`id`", "size", "==", "100")), want: false},
		{name: "unknown plugin", filter: compound(fstmt("nosuch", "x", "size", "==", "1")), want: false},
		{name: "unknown plugin negated", filter: compound(not, fstmt("nosuch", "x", "size", "==", "1")), want: false},
		{name: "unknown plugin or true", filter: compound(stmt("role=web"), or, fstmt("nosuch", "x", "size", "==", "1")), want: false},
		{name: "no field equals nothing", filter: compound(fstmt("fstat", "/x", "", "==", "1")), want: false},
		{name: "no field not equal", filter: compound(fstmt("fstat", "/x", "", "!=", "1")), want: true},
		{name: "invalid operator", filter: compound(fstmt("fstat", "/x", "size", "~", "1")), wantErr: true},
		{name: "mixed", filter: compound(stmt("role=web"), and, fstmt("fstat", "/etc/hosts", "size", ">=", "1")), want: true},
	})
}

func TestMatchDataQuery(t *testing.T) {
	n := newNode()
	f := compound(fstmt("fstat", "/etc/hosts", "size", ">", "1"))
	if ok, err := Match(context.Background(), f, n); err != nil || !ok {
		t.Fatalf("Match = %v, %v; want true, nil", ok, err)
	}
	if len(n.queries) != 1 || n.queries[0] != "/etc/hosts" {
		t.Fatalf("queries = %v, want [/etc/hosts]", n.queries)
	}
}

func TestMatchConcurrent(t *testing.T) {
	f := message.Filter{
		Fact:     []message.FactFilter{{Fact: "osfamily", Value: "/^Deb/", Operator: "=~"}},
		Identity: []string{`/^web\d/`},
	}
	m := Matcher{Regexps: NewRegexps()}
	done := make(chan error, 8)
	for range 8 {
		go func() {
			for range 50 {
				ok, err := m.Match(context.Background(), f, newNode())
				if err == nil && !ok {
					err = errors.New("no match")
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestMatchersShareRegexps checks that Matchers given one Regexps compile each expression of
// a filter once between them, and that the zero Matcher keeps nothing.
func TestMatchersShareRegexps(t *testing.T) {
	f := message.Filter{
		Fact:     []message.FactFilter{{Fact: "osfamily", Value: "/^Deb/", Operator: "=~"}},
		Identity: []string{`/^web\d/`},
		Compound: [][]message.CompoundItem{{fstmt("fstat", "/etc/hosts", "type", "=~", marshal.Regexp{Source: "^fi"})}},
	}
	rx := NewRegexps()
	for _, m := range []Matcher{{Regexps: rx}, {Regexps: rx}} {
		if ok, err := m.Match(context.Background(), f, newNode()); !ok || err != nil {
			t.Fatalf("Match = %v, %v; want true, nil", ok, err)
		}
	}
	if rx.Len() != 3 {
		t.Fatalf("the shared memo holds %d expressions, want 3", rx.Len())
	}
	var none *Regexps
	if _, err := none.Compile("^a", 0); err != nil || none.Len() != 0 {
		t.Fatalf("nil Regexps: Compile error %v, Len %d; want nil, 0", err, none.Len())
	}
}

// FuzzMatchCompound checks that any sequence of compound items and any regex source is
// evaluated without panicking, and that a malformed expression never matches.
func FuzzMatchCompound(f *testing.F) {
	f.Add([]byte("(s&!s)|s"), "role=/^w/")
	f.Add([]byte("((s"), `/(a)\1/`)
	f.Fuzz(func(t *testing.T, shape []byte, value string) {
		kinds := map[byte]message.CompoundItem{
			'&': and, '|': or, '!': not, '(': lparen, ')': rparen,
			's': stmt(value), 'f': fstmt("fstat", value, "type", "=~", value),
		}
		var items []message.CompoundItem
		for _, c := range shape {
			if it, ok := kinds[c]; ok {
				items = append(items, it)
			}
		}
		ok, err := Match(context.Background(), compound(items...), newNode())
		if err != nil && ok {
			t.Fatalf("Match = true with error %v", err)
		}
	})
}
