package main

import (
	"context"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/ddl"
)

func TestPluginDDLPrintsRubyDDL(t *testing.T) {
	a, err := ddl.Builtin("service")
	if err != nil {
		t.Fatal(err)
	}
	d, err := ddl.BuiltinData("service")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"plugin", "ddl", "service"}, ddl.RenderRuby(a)},
		{[]string{"plugin", "ddl", "--data", "service"}, ddl.RenderRubyData(d)},
		{[]string{"plugin", "ddl", "service", "--data"}, ddl.RenderRubyData(d)},
	} {
		e, out, errOut, _ := testEnv(t, nil, nil)
		if code := run(context.Background(), e, tc.args); code != exitOK {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errOut)
		}
		if out.String() != tc.want {
			t.Errorf("%v printed:\n%s\nwant:\n%s", tc.args, out, tc.want)
		}
	}
}

func TestPluginDDLRefusesUnknownNames(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"plugin", "ddl", "nosuch"}, `no DDL for agent "nosuch"`},
		{[]string{"plugin", "ddl", "--data", "nosuch"}, `no DDL for data plugin "nosuch"`},
		{[]string{"plugin", "ddl"}, "want 'plugin doc [NAME]', 'plugin ddl AGENT'"},
		{[]string{"plugin", "doc", "--data"}, "want 'plugin doc [NAME]'"},
	} {
		e, out, errOut, _ := testEnv(t, nil, nil)
		if code := run(context.Background(), e, tc.args); code != exitUsage || !strings.Contains(errOut.String(), tc.want) || out.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, code, out, errOut, exitUsage, tc.want)
		}
	}
}

func TestPluginHelpDocumentsDDL(t *testing.T) {
	e, out, _, _ := testEnv(t, nil, nil)
	if code := run(context.Background(), e, []string{"plugin", "--help"}); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"mcorun plugin ddl AGENT", "--data", "mcollective/agent/AGENT.ddl"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plugin --help lacks %q:\n%s", want, out)
		}
	}
}
