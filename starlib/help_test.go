package starlib

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"go.starlark.net/starlark"
)

// TestHelpCoversAPI requires a help entry for every predeclared name, every method of
// filter and every attribute of the value types, so that a new one cannot go undocumented.
func TestHelpCoversAPI(t *testing.T) {
	want := []string{"help"}
	for name := range Predeclared() {
		want = append(want, name)
	}
	for _, a := range (filterFunc{}).AttrNames() {
		want = append(want, "filter."+a)
	}
	for _, a := range paramModule().AttrNames() {
		want = append(want, "param."+a)
	}
	for _, v := range []starlark.HasAttrs{NewNodeSet(nil), &ResultSet{}, &Result{}, &RollingReport{}} {
		want = append(want, v.Type())
		for _, a := range v.AttrNames() {
			want = append(want, v.Type()+"."+a)
		}
	}
	for _, name := range want {
		if _, ok := Help(name); !ok {
			t.Errorf("no help entry for %s: add it to HelpEntries in starlib/help.go", name)
		}
	}
	seen := map[string]bool{}
	for _, e := range HelpEntries() {
		if seen[e.Name] {
			t.Errorf("two help entries for %s", e.Name)
		}
		seen[e.Name] = true
		if e.Signature == "" || e.Text == "" {
			t.Errorf("help entry %s lacks a signature or text", e.Name)
		}
	}
}

// TestHelpMatchesDoc requires starlib/doc.go to write every signature of the help table,
// whitespace aside, so that the package documentation and the REPL's help cannot drift.
func TestHelpMatchesDoc(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.ReplaceAll(string(src), "//", " ")
	space := regexp.MustCompile(`\s+`)
	doc = space.ReplaceAllString(doc, " ")
	for _, e := range HelpEntries() {
		sig := space.ReplaceAllString(e.Signature, " ")
		if !strings.Contains(doc, sig) {
			t.Errorf("starlib/doc.go does not mention %s's signature %q", e.Name, sig)
		}
	}
}

func TestHelpBuiltin(t *testing.T) {
	var out strings.Builder
	thread := &starlark.Thread{Print: func(_ *starlark.Thread, msg string) { out.WriteString(msg + "\n") }}
	globals := Predeclared()
	globals["help"] = NewHelp()
	globals["web"] = NewNodeSet([]string{"web1"})
	for _, c := range []struct{ expr, want string }{
		{"help()", "  rpc(agent, action, args=None, *"},
		{"help()", "Value types"},
		{"help()", "docs/playbooks.md"},
		{"help(rpc)", "-> ResultSet\n    Calls agent.action."},
		{"help(filter.fact)", `filter.fact(name, value, op="==")`},
		{"help(web)", ".sample(n, seed=None)"},
		{"help(web.sample)", "repeatable with a seed"},
		{"help(json)", "json.encode"},
		{`help("ResultSet")`, ".get(identity) -> Result or None"},
	} {
		out.Reset()
		if _, err := starlark.Eval(thread, "<test>", c.expr, globals); err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if !strings.Contains(out.String(), c.want) {
			t.Errorf("%s lacks %q:\n%s", c.expr, c.want, out.String())
		}
	}
	_, err := starlark.Eval(thread, "<test>", `help("nosuch")`, globals)
	if err == nil || !strings.Contains(err.Error(), `nothing on "nosuch"; help() lists`) {
		t.Errorf("help of an unknown name: %v", err)
	}
}

// TestParamsFromSignatures: check's keyword lists come from the help table's signatures.
func TestParamsFromSignatures(t *testing.T) {
	for name, want := range map[string][]string{
		"discover": {"filter", "timeout", "method", "nodes", "limit", "collective", "seed", "options"},
		"rpc": {"agent", "action", "args", "nodes", "filter", "timeout", "batch", "batch_sleep", "limit", "ttl",
			"discovery_timeout", "collective", "method", "options"},
		"rolling":         {"nodes", "step", "window", "canaries", "batch", "max_failures", "sleep", "gate"},
		"wait_until":      {"fn", "timeout", "every"},
		"sleep":           {"duration"},
		"fail":            {"sep"},
		"exit":            {"code"},
		"nodeset":         {"ids"},
		"filter":          {},
		"filter.fact":     {"name", "value", "op"},
		"filter.identity": {},
		"filter.compound": {"expr"},
		"param.duration":  {"default"},
		"param.choice":    {"default"},
	} {
		got, ok := Params(name)
		if !ok || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("Params(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	for _, name := range []string{"log", "params", "struct", "json", "NodeSet", "ResultSet.ok", "nosuch"} {
		if got, ok := Params(name); ok {
			t.Errorf("Params(%q) = %q, want any keyword", name, got)
		}
	}
}
