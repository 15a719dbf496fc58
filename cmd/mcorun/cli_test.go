package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

func TestFlagParsing(t *testing.T) {
	var c commonFlags
	fs := newFlagSet("rpc", &c)
	args := []string{"-F", "role=web", "--with-fact", "os=debian", "-C", "apache", "-I", "/^web/", "-A", "rpcutil",
		"-W", "nginx env=prod", "-S", "role=web and !env=dev", "-T", "sub", "--discovery-timeout", "3",
		"-t", "1.5", "--batch", "10%", "--batch-sleep", "500ms", "--ln", "2", "--json", "-v", "--no-progress", "x", "y"}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.facts, ",") != "role=web,os=debian" || c.classes[0] != "apache" || c.identities[0] != "/^web/" ||
		c.agents[0] != "rpcutil" || c.with[0] != "nginx env=prod" || c.selectExpr != "role=web and !env=dev" || c.collective != "sub" {
		t.Errorf("filters parsed wrong: %+v", c)
	}
	if time.Duration(c.discoveryTimeout) != 3*time.Second || time.Duration(c.timeout) != 1500*time.Millisecond ||
		time.Duration(c.batchSleep) != 500*time.Millisecond {
		t.Errorf("durations: dt=%v t=%v sleep=%v", c.discoveryTimeout.String(), c.timeout.String(), c.batchSleep.String())
	}
	if c.batch != "10%" || c.limit != "2" || !c.json || !c.verbose || !c.noProgress {
		t.Errorf("scope/output flags parsed wrong: %+v", c)
	}
	if fs.NArg() != 2 {
		t.Errorf("args = %v", fs.Args())
	}
	o := c.callOptions(c.mustFilter(t), []string{"a"}, true)
	if o.Batch != "10%" || o.Limit != "2" || o.Collective != "sub" || o.Timeout != 1500*time.Millisecond {
		t.Errorf("call options = %+v", o)
	}
}

func (c *commonFlags) mustFilter(t *testing.T) message.Filter {
	t.Helper()
	fl, err := c.buildFilter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return fl
}

func TestFlagCheckErrors(t *testing.T) {
	for _, tt := range []struct{ batch, limit, want string }{
		{"0", "", "--batch"}, {"x", "", "--batch"}, {"0%", "", "--batch"}, {"", "ten", "--limit-nodes"},
	} {
		c := commonFlags{batch: tt.batch, limit: tt.limit}
		if err := c.check(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("check(batch=%q limit=%q) = %v, want an error naming %s", tt.batch, tt.limit, err, tt.want)
		}
	}
}

func TestTypedArgs(t *testing.T) {
	a, err := ddl.Builtin("rpcutil")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := typedArgs(a, "get_fact", map[string]string{"fact": "role"}); err != nil || got["fact"] != "role" {
		t.Errorf("get_fact fact=role: %v %v", got, err)
	}
	for _, tt := range []struct {
		action string
		raw    map[string]string
		want   string
	}{
		{"get_fact", map[string]string{}, "needs a fact argument"},
		{"get_fact", map[string]string{"fact": "bad fact;rm"}, "get_fact"},
		{"nosuch", map[string]string{}, "no action"},
	} {
		_, err := typedArgs(a, tt.action, tt.raw)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("typedArgs(%s, %v) = %v, want an error containing %q", tt.action, tt.raw, err, tt.want)
		}
	}
	if _, err := parseKeyValues([]string{"novalue"}); err == nil {
		t.Error("parseKeyValues accepted an argument without =")
	}
}

func TestUsageErrorsSendNothing(t *testing.T) {
	f := &fakeFleet{nodes: []string{"a"}}
	for _, tt := range []struct {
		name string
		args func(cfg string) []string
		want string
	}{
		{"bad select", func(cfg string) []string { return []string{"find", "--config", cfg, "-S", "role=web and ("} }, "^"},
		{"bad key=value", func(cfg string) []string {
			return []string{"rpc", "--config", cfg, "rpcutil", "get_fact", "fact=bad fact;x"}
		}, "get_fact"},
		{"missing key=value", func(cfg string) []string { return []string{"rpc", "--config", cfg, "rpcutil", "get_fact"} }, "needs a fact"},
		{"missing config", func(string) []string { return []string{"ping", "--config", "/nonexistent/client.cfg"} }, "/nonexistent/client.cfg"},
		{"unknown flag", func(cfg string) []string { return []string{"ping", "--config", cfg, "--bogus"} }, "bogus"},
		{"bad collective", func(cfg string) []string { return []string{"ping", "--config", cfg, "-T", "other"} }, "collective"},
		{"unknown verb", func(string) []string { return []string{"frobnicate"} }, "unknown command"},
		{"missing playbook", func(string) []string { return []string{"site.star"} }, "playbook site.star"},
		{"bad --arg", func(cfg string) []string { return []string{"run", "--config", cfg, "--arg", "novalue", "x.star"} }, "want key=value"},
		{"bad --sandbox", func(string) []string { return []string{"--sandbox", "lots", "ping"} }, "--sandbox"},
		{"duration --arg without a unit", func(cfg string) []string {
			return []string{"../../playbooks/rolling_puppet.star", "--config", cfg, "--arg", "timeout=10"}
		}, `params: arg "timeout": want a duration with a unit, such as 30s, 5m or 1h30m, got "10"`},
		{"size --arg", func(cfg string) []string {
			return []string{"../../playbooks/rolling_restart.star", "--config", cfg, "--arg", "service=nginx", "--arg", "max_failures=lots"}
		}, `params: arg "max_failures": size "lots"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dials := 0
			e, _, errOut, cfg := testEnv(t, f, &dials)
			code := run(context.Background(), e, tt.args(cfg))
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitUsage, errOut)
			}
			if !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("stderr does not contain %q:\n%s", tt.want, errOut)
			}
			if dials != 0 {
				t.Errorf("connected %d times on a usage error", dials)
			}
		})
	}
}

func TestBrokenConfigNamesFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "client.cfg")
	if err := os.WriteFile(p, []byte("connector = activemq\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e, _, errOut, _ := testEnv(t, &fakeFleet{}, nil)
	if code := run(context.Background(), e, []string{"find", "--config", p}); code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(errOut.String(), p) || !strings.Contains(errOut.String(), "connector") {
		t.Errorf("error should name the file and the key:\n%s", errOut)
	}
}

func TestHelp(t *testing.T) {
	e, out, _, _ := testEnv(t, &fakeFleet{}, nil)
	if code := run(context.Background(), e, []string{"--help"}); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"ping", "find", "inventory", "rpc", "plugin", "Exit codes:", "some nodes did not reply",
		"docs/playbooks.md", "docs/testing.md"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	// the documents --help and the README point to exist
	for _, doc := range []string{"docs/playbooks.md", "docs/testing.md", "docs/agents.md"} {
		if _, err := os.Stat(filepath.Join("..", "..", doc)); err != nil {
			t.Errorf("--help names %s: %v", doc, err)
		}
	}
	for verb, doc := range map[string]string{"run": "docs/playbooks.md", "repl": "docs/playbooks.md", "test": "docs/testing.md"} {
		out.Reset()
		if code := run(context.Background(), e, []string{verb, "--help"}); code != exitOK || !strings.Contains(out.String(), doc) {
			t.Errorf("%s --help does not name %s (exit %d):\n%s", verb, doc, code, out)
		}
	}
	out.Reset()
	if code := run(context.Background(), e, []string{"rpc", "--help"}); code != exitOK || !strings.Contains(out.String(), "Examples:") || !strings.Contains(out.String(), "--batch") {
		t.Errorf("rpc --help (exit %d):\n%s", code, out)
	}
}
