package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
)

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestUnreachableBrokerGivesUpAndSaysWhatToCheck(t *testing.T) {
	e, _, errOut, _ := testEnv(t, nil, nil)
	e.connect = connectBroker(300*time.Millisecond, "")
	cfg := filepath.Join(t.TempDir(), "client.cfg")
	body := strings.Replace(testClientCfg, "port = 61613", "port = "+strconv.Itoa(closedPort(t)), 1)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code := run(context.Background(), e, []string{"ping", "--config", cfg})
	if code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to give up", d)
	}
	for _, want := range []string{"cannot reach the broker", "connection refused", "plugin.rabbitmq.pool.N.host", cfg, "--sandbox"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestInterruptedExit(t *testing.T) {
	var sink strings.Builder
	ctx, cancel := context.WithCancel(context.Background())
	if got := interruptedExit(ctx, exitFailure, &sink); got != exitFailure {
		t.Errorf("not interrupted: exit %d, want %d", got, exitFailure)
	}
	cancel()
	if got := interruptedExit(ctx, exitOK, &sink); got != exitOK {
		t.Errorf("interrupted after success: exit %d, want 0", got)
	}
	if got := interruptedExit(ctx, exitFailure, &sink); got != exitInterrupted || !strings.Contains(sink.String(), "interrupted") {
		t.Errorf("interrupted: exit %d (%q), want %d", got, sink.String(), exitInterrupted)
	}
}

func TestFindNothingSaysWhy(t *testing.T) {
	e, out, errOut, cfg := testEnv(t, &fakeFleet{}, nil)
	if code := run(context.Background(), e, []string{"find", "--config", cfg, "-F", "role=nope"}); code != exitNothingDiscovered {
		t.Errorf("exit %d, want %d", code, exitNothingDiscovered)
	}
	if out.Len() != 0 || !strings.Contains(errOut.String(), "No nodes matched") {
		t.Errorf("stdout %q, stderr %q", out, errOut)
	}
	e, out, errOut, cfg = testEnv(t, &fakeFleet{}, nil)
	run(context.Background(), e, []string{"find", "--config", cfg, "--json"})
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || errOut.Len() != 0 {
		t.Errorf("--json: %v, stdout %q, stderr %q", err, out, errOut)
	}
}

func TestRPCUnknownAgentAndUndeclaredInput(t *testing.T) {
	e, _, errOut, cfg := testEnv(t, &fakeFleet{nodes: []string{"a"}}, nil)
	if code := run(context.Background(), e, []string{"rpc", "--config", cfg, "nosuchagent", "ping"}); code != exitUsage {
		t.Errorf("unknown agent: exit %d, want %d", code, exitUsage)
	}
	if s := errOut.String(); !strings.Contains(s, `unknown agent "nosuchagent"`) || !strings.Contains(s, "mcorun plugin doc") {
		t.Errorf("unknown agent message:\n%s", s)
	}

	f := &fakeFleet{nodes: []string{"a"}, results: &client.Results{Targets: []string{"a"},
		OK: []client.Result{{Sender: "a", Message: "OK", Data: map[string]any{"fact": "role", "value": "web"}}}}}
	e, _, errOut, cfg = testEnv(t, f, nil)
	if code := run(context.Background(), e, []string{"rpc", "--config", cfg, "rpcutil", "get_fact", "fact=role", "bogus=1"}); code != exitOK {
		t.Errorf("undeclared input: exit %d, want 0; stderr:\n%s", code, errOut)
	}
	if s := errOut.String(); !strings.Contains(s, "bogus is not an input of rpcutil#get_fact (inputs: fact)") {
		t.Errorf("no warning about the undeclared input:\n%s", s)
	}
	if f.lastArgs["bogus"] != "1" {
		t.Errorf("the undeclared input was not sent as mco sends it: %v", f.lastArgs)
	}
}

func TestCheckSkipsTestFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "x_test.star")
	if err := os.WriteFile(file, []byte("load(\"assert.star\", \"assert\")\ndef test_x():\n    fleet(node(\"a\"))\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e, _, errOut, _ := testEnv(t, nil, nil)
	if code := run(context.Background(), e, []string{"check", file}); code != exitOK {
		t.Errorf("exit %d, want 0; stderr:\n%s", code, errOut)
	}
	if !strings.Contains(errOut.String(), "mcorun test "+file) || strings.Contains(errOut.String(), "undefined") {
		t.Errorf("stderr:\n%s", errOut)
	}
}

func TestTestUsageErrorsOnStderr(t *testing.T) {
	e, out, errOut, _ := testEnv(t, nil, nil)
	if code := run(context.Background(), e, []string{"test", "nosuchdir"}); code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if out.Len() != 0 || !strings.Contains(errOut.String(), "mcorun test: nosuchdir: no such file") {
		t.Errorf("stdout %q, stderr %q", out, errOut)
	}
}

func TestKeygenRelativeOutPrintsAbsolutePaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	e, out, errOut, _ := testEnv(t, nil, nil)
	if code := run(context.Background(), e, []string{"keygen", "bob"}); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if want := "plugin.ed25519.key = " + filepath.Join(dir, "bob.key"); !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	e, _, errOut, _ = testEnv(t, nil, nil)
	if code := run(context.Background(), e, []string{"keygen", "bob"}); code != exitUsage || !strings.Contains(errOut.String(), "already exists") {
		t.Errorf("second keygen: exit %d, stderr %q", code, errOut)
	}
}

func TestPluginHelpListsOnlyItsFlags(t *testing.T) {
	e, out, _, _ := testEnv(t, nil, nil)
	if code := run(context.Background(), e, []string{"plugin", "--help"}); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if s := out.String(); !strings.Contains(s, "--json") || strings.Contains(s, "--wf") || strings.Contains(s, "--batch") {
		t.Errorf("plugin --help:\n%s", s)
	}
}
