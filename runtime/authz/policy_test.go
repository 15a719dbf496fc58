package authz

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/match"
)

// testNode is a node with fixed facts and classes.
type testNode struct {
	facts   map[string]any
	classes []string
}

func (n testNode) Identity() string { return "node1" }
func (n testNode) Fact(name string) (any, bool) {
	v, ok := n.facts[name]
	return v, ok
}
func (n testNode) Classes() []string         { return n.classes }
func (n testNode) HasAgent(name string) bool { return name == "puppet" }
func (n testNode) Data(context.Context, string, any) (map[string]any, error) {
	return nil, errors.New("no data plugins")
}

var acme = testNode{
	facts:   map[string]any{"customer": "acme", "env": "production", "num": 5},
	classes: []string{"base", "acme::devserver"},
}

// policyFile joins rule fields with tabs; each line is a []string of fields.
func policyFile(lines ...[]string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.Join(l, "\t"))
		b.WriteByte('\n')
	}
	return b.String()
}

func TestPolicyEval(t *testing.T) {
	// The example of the actionpolicy README, extended.
	readme := policyFile(
		[]string{"# puppet.policy"},
		[]string{"policy default deny"},
		[]string{"allow", "cert=admin", "*", "*", "*"},
		[]string{"allow", "cert=acme-devs", "*", "customer=acme", "acme::devserver"},
		[]string{"allow", "cert=acme-devs", "enable disable status", "customer=acme", "*"},
		[]string{"deny", "cert=intern", "*", "*"},
		[]string{"allow", "cert=intern cert=ops", "status", "env=production and num>=5"},
		[]string{"allow", "cert=puppet-admins", "restart", "(env=staging and base) or env=development"},
		[]string{"allow", "sysadmins", "runonce", "*", "base"},
	)
	tests := []struct {
		name   string
		policy string
		req    Request
		node   testNode
		allow  bool
	}{
		{"caller allowed everything", readme, Request{"cert=admin", "puppet", "runonce"}, acme, true},
		{"unknown caller, default deny", readme, Request{"cert=nobody", "puppet", "status"}, acme, false},
		{"caller is not a substring match", readme, Request{"cert=admi", "puppet", "status"}, acme, false},
		{"fact and class", readme, Request{"cert=acme-devs", "puppet", "runonce"}, acme, true},
		{"class missing", readme, Request{"cert=acme-devs", "puppet", "runonce"},
			testNode{facts: acme.facts, classes: []string{"base"}}, false},
		{"fact missing", readme, Request{"cert=acme-devs", "puppet", "runonce"},
			testNode{facts: map[string]any{"customer": "other"}, classes: acme.classes}, false},
		{"action listed", readme, Request{"cert=acme-devs", "puppet", "disable"},
			testNode{facts: acme.facts}, true},
		{"action not listed", readme, Request{"cert=acme-devs", "puppet", "runonce"},
			testNode{facts: acme.facts}, false},
		{"explicit deny before a later allow", readme, Request{"cert=intern", "puppet", "status"}, acme, false},
		{"second caller of a list, compound facts", readme, Request{"cert=ops", "puppet", "status"}, acme, true},
		{"compound fails", readme, Request{"cert=ops", "puppet", "status"},
			testNode{facts: map[string]any{"env": "production", "num": 4}}, false},
		{"compound with class", readme, Request{"cert=puppet-admins", "puppet", "restart"},
			testNode{facts: map[string]any{"env": "staging"}, classes: []string{"base"}}, true},
		{"compound without class", readme, Request{"cert=puppet-admins", "puppet", "restart"},
			testNode{facts: map[string]any{"env": "staging"}}, false},
		{"group member", readme, Request{"cert=sa2", "puppet", "runonce"}, acme, true},
		{"not a group member", readme, Request{"cert=aa1", "puppet", "runonce"}, acme, false},
		{"default allow", "policy default allow\n" + policyFile([]string{"deny", "cert=bad", "*", "*", "*"}),
			Request{"cert=someone", "puppet", "status"}, acme, true},
		{"default allow, denied caller", "policy default allow\n" + policyFile([]string{"deny", "cert=bad", "*", "*", "*"}),
			Request{"cert=bad", "puppet", "status"}, acme, false},
		{"no default line: allow_unconfigured (off)", policyFile([]string{"allow", "cert=a", "*", "*", "*"}),
			Request{"cert=b", "puppet", "status"}, acme, false},
		{"fact comparison", policyFile([]string{"allow", "*", "*", "num>3 customer=/^ac/", "*"}),
			Request{"uid=0", "puppet", "status"}, acme, true},
		{"four fields mixing facts and classes", policyFile([]string{"allow", "*", "*", "customer=acme base"}),
			Request{"uid=0", "puppet", "status"}, acme, true},
		{"four fields, class missing", policyFile([]string{"allow", "*", "*", "customer=acme nosuch"}),
			Request{"uid=0", "puppet", "status"}, acme, false},
	}
	groups := map[string][]string{"sysadmins": {"cert=sa1", "cert=sa2"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(strings.NewReader(tt.policy), "puppet.policy")
			if err != nil {
				t.Fatal(err)
			}
			d, err := p.Eval(context.Background(), match.Matcher{}, tt.req, tt.node, groups, false)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != tt.allow {
				t.Errorf("%+v: allow = %t (%s), want %t", tt.req, d.Allow, d.Reason, tt.allow)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"spaces instead of tabs", "deny cert=bad * * *\n", "tab-separated"},
		{"too few fields", "allow\t*\t*\n", "want 4 or 5"},
		{"too many fields", "allow\t*\t*\t*\t*\t*\n", "want 4 or 5"},
		{"bad verb", "permit\t*\t*\t*\n", "want allow or deny"},
		{"bad default", "policy default maybe\n", "want allow or deny"},
		{"class in fact field", "allow\t*\t*\tbase\t*\n", "class name where a fact"},
		{"fact in class field", "allow\t*\t*\t*\tenv=prod\n", "fact statement where a class"},
		{"bad compound", "allow\t*\t*\t(env=prod and\t*\n", "fact field"},
		{"bad regex", "allow\t*\t*\tenv=/(/\t*\n", "fact field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.src), "x.policy")
			if !errors.Is(err, ErrPolicySyntax) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrPolicySyntax containing %q", err, tt.want)
			}
		})
	}
}

func TestParseGroups(t *testing.T) {
	g, err := ParseGroups(strings.NewReader("# c\nsysadmin cert=sa1 cert=sa2\n\nempty\n"), "groups")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g["sysadmin"], []string{"cert=sa1", "cert=sa2"}) || len(g) != 1 {
		t.Fatalf("groups = %v", g)
	}
	if _, err := ParseGroups(strings.NewReader("bad/name cert=x\n"), "groups"); !errors.Is(err, ErrPolicySyntax) {
		t.Fatalf("bad group name: err = %v", err)
	}
}

func write(t *testing.T, dir, name, s string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestActionPolicyFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "puppet.policy", "policy default deny\n"+policyFile([]string{"allow", "ops", "*", "*", "*"}))
	write(t, dir, "groups", "ops cert=ops1\n")
	write(t, dir, "default.policy", "policy default deny\n"+policyFile([]string{"allow", "cert=root", "*", "*"}))
	write(t, dir, "broken.policy", "policy default allow\ndeny cert=bad * * *\n")
	ctx := context.Background()

	tests := []struct {
		name string
		opts Options
		req  Request
		want string // "" for allowed, else a substring of the denial
	}{
		{"policy file, group", Options{Dir: dir}, Request{"cert=ops1", "puppet", "runonce"}, ""},
		{"policy file, default deny", Options{Dir: dir}, Request{"cert=x", "puppet", "runonce"}, "policy default"},
		{"no file, deny", Options{Dir: dir}, Request{"cert=x", "service", "status"}, "no policy file"},
		{"no file, allow_unconfigured", Options{Dir: dir, AllowUnconfigured: true}, Request{"cert=x", "service", "status"}, ""},
		{"default file", Options{Dir: dir, EnableDefault: true, AllowUnconfigured: true}, Request{"cert=x", "service", "status"}, "default.policy"},
		{"default file allows", Options{Dir: dir, EnableDefault: true}, Request{"cert=root", "service", "status"}, ""},
		{"unparseable file denies", Options{Dir: dir, AllowUnconfigured: true}, Request{"cert=x", "broken", "status"}, "tab-separated"},
		{"agent name with a path", Options{Dir: dir, AllowUnconfigured: true}, Request{"cert=x", "../puppet", "status"}, "cannot name"},
		{"missing dir", Options{Dir: filepath.Join(dir, "nosuch")}, Request{"cert=ops1", "puppet", "runonce"}, "no policy file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New(tt.opts).Authorize(ctx, tt.req, acme)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("denied: %v", err)
			case tt.want != "" && (!errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want ErrDenied containing %q", err, tt.want)
			}
		})
	}
}

func TestFromConfig(t *testing.T) {
	cfg, err := config.Parse(strings.NewReader(
		"plugin.actionpolicy.allow_unconfigured = y\nplugin.actionpolicy.enable_default = true\n"), "/etc/mcollective/server.cfg")
	if err != nil {
		t.Fatal(err)
	}
	rx := match.NewRegexps()
	ap, err := FromConfig(cfg, rx)
	if err != nil {
		t.Fatal(err)
	}
	if ap.Dir() != "/etc/mcollective/policies" || !ap.opts.AllowUnconfigured || !ap.opts.EnableDefault || ap.opts.DefaultName != "default" || ap.opts.Regexps != rx {
		t.Fatalf("options = %+v", ap.opts)
	}
	cfg.Plugin["actionpolicy.policy_dir"] = "/srv/policies"
	if ap, _ := FromConfig(cfg, nil); ap.Dir() != "/srv/policies" {
		t.Fatalf("dir = %s", ap.Dir())
	}
	cfg.Plugin["actionpolicy.allow_unconfigured"] = "deny"
	if _, err := FromConfig(cfg, nil); err == nil || !strings.Contains(err.Error(), "actionpolicy.allow_unconfigured") {
		t.Fatalf("allow_unconfigured = deny: err %v, want a refusal naming the key", err)
	}
}

// TestActionPoliciesShareRegexps checks that policies given one Regexps compile a rule's
// regular expressions once between them, and that one given none keeps its own.
func TestActionPoliciesShareRegexps(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "puppet.policy", "policy default deny\n"+policyFile([]string{"allow", "*", "*", "customer=/^ac/", "/devserver/"}))
	rx := match.NewRegexps()
	for _, ap := range []*ActionPolicy{New(Options{Dir: dir, Regexps: rx}), New(Options{Dir: dir, Regexps: rx})} {
		if err := ap.Authorize(context.Background(), Request{"cert=x", "puppet", "status"}, acme); err != nil {
			t.Fatalf("denied: %v", err)
		}
	}
	if rx.Len() != 2 {
		t.Fatalf("the shared memo holds %d expressions, want 2", rx.Len())
	}
	if New(Options{Dir: dir}).opts.Regexps == nil {
		t.Fatal("an ActionPolicy built without Regexps keeps no memo")
	}
}
