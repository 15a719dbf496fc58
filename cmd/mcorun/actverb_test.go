package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/message"
)

// actingFleet is the fleet file of the acting verbs' sandbox tests.
var actingFleet = filepath.Join("..", "..", "testdata", "fleets", "acting_verbs.yaml")

// lockedBuffer is a bytes.Buffer that a running verb writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runSandbox runs mcorun with args against an in-process sandbox of the acting fleet.
func runSandbox(ctx context.Context, t *testing.T, args ...string) (stdout, stderr *lockedBuffer, code int) {
	t.Helper()
	stdout, stderr = &lockedBuffer{}, &lockedBuffer{}
	return stdout, stderr, runSandboxTo(ctx, t, stdout, stderr, args...)
}

// runSandboxTo is runSandbox writing to the given buffers, which a test may read meanwhile.
func runSandboxTo(ctx context.Context, t *testing.T, stdout, stderr *lockedBuffer, args ...string) int {
	e := &env{
		stdin: strings.NewReader(""), stdout: stdout, stderr: stderr,
		getenv: func(string) string { return "" }, home: t.TempDir(),
		connect: connectBroker(defaultDialTimeout, ""), tailPoll: 50 * time.Millisecond,
	}
	return run(ctx, e, append([]string{"--sandbox", "4", "--fleet", actingFleet}, args...))
}

// decodeJSON decodes a verb's --json document.
func decodeJSON(t *testing.T, text string) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("--json printed no JSON document: %v\n%s", err, text)
	}
	return doc
}

// okFleet is a fake fleet of two nodes that answer every call with data.
func okFleet(data map[string]any) *fakeFleet {
	nodes := []string{"a.example.net", "b.example.net"}
	res := &client.Results{Targets: nodes}
	for _, n := range nodes {
		res.OK = append(res.OK, client.Result{Sender: n, Code: message.OK, Message: "OK", Data: data})
	}
	return &fakeFleet{nodes: nodes, results: res}
}

func TestUnfilteredChangeNeedsConfirmation(t *testing.T) {
	cases := []struct {
		name      string
		args      []string
		tty       bool
		stdin     string
		wantCode  int
		wantCalls int
		wantErr   string
	}{
		{"no terminal refuses", []string{"service", "nginx", "restart"}, false, "", exitUsage, 0, "refusing to operate on services unfiltered"},
		{"no terminal, --yes", []string{"service", "nginx", "restart", "--yes"}, false, "", exitOK, 1, ""},
		{"filtered", []string{"service", "nginx", "restart", "-F", "role=web"}, false, "", exitOK, 1, ""},
		{"--nodes is a filter", []string{"service", "nginx", "restart", "--nodes", "NODES"}, false, "", exitOK, 1, ""},
		{"terminal, no", []string{"service", "nginx", "stop"}, true, "n\n", exitFailure, 0, "Do you really want to operate on services unfiltered? (y/n): "},
		{"terminal, yes", []string{"service", "nginx", "stop"}, true, "yes\n", exitOK, 1, "Do you really want to operate on services unfiltered? (y/n): "},
		{"reads never ask", []string{"service", "status", "nginx"}, false, "", exitOK, 1, ""},
		{"package install", []string{"package", "install", "nginx"}, false, "", exitUsage, 0, "refusing to operate on packages unfiltered"},
		{"package checkupdates reads", []string{"package", "checkupdates"}, false, "", exitOK, 1, ""},
		{"shell run", []string{"shell", "run", "uptime"}, false, "", exitUsage, 0, "unfiltered"},
		{"shell kill", []string{"shell", "kill", "abc"}, false, "", exitUsage, 0, "unfiltered"},
		{"shell list reads", []string{"shell", "list"}, false, "", exitOK, 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := okFleet(map[string]any{"status": "running", "jobs": map[string]any{}})
			e, _, errOut, cfg := testEnv(t, f, nil)
			e.stdinTTY = tc.tty
			e.stdin = strings.NewReader(tc.stdin)
			args := append(append([]string(nil), tc.args...), "--config", cfg)
			for i, a := range args {
				if a == "NODES" {
					p := filepath.Join(t.TempDir(), "nodes")
					writeFile(t, p, "a.example.net\n")
					args[i] = p
				}
			}
			code := run(context.Background(), e, args)
			if code != tc.wantCode || f.calls != tc.wantCalls {
				t.Fatalf("exit %d after %d calls, want %d after %d; stderr:\n%s", code, f.calls, tc.wantCode, tc.wantCalls, errOut)
			}
			if !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErr, errOut)
			}
		})
	}
}

func TestBadNamesRefusedBeforeSending(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"service", "nginx;reboot", "status"}, "is not a valid service name"},
		{[]string{"service", "restart", "$(reboot)", "--yes"}, "is not a valid service name"},
		{[]string{"package", "nginx;reboot", "status"}, "should not have ; in it"},
		{[]string{"package", "install", "nginx", "1.0;reboot", "--yes"}, "should not have ; in it"},
		{[]string{"shell", "status", "../etc/passwd"}, "handle"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			dials := 0
			f := okFleet(nil)
			e, _, errOut, cfg := testEnv(t, f, &dials)
			code := run(context.Background(), e, append(tc.args, "--config", cfg))
			if code != exitUsage || dials != 0 || f.calls != 0 {
				t.Fatalf("exit %d, %d connections, %d calls; want the usage code and nothing sent; stderr:\n%s", code, dials, f.calls, errOut)
			}
			if !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("stderr lacks the validator's %q:\n%s", tc.want, errOut)
			}
		})
	}
}

func TestActingVerbUsage(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"service", "nginx"}, "please specify service name and action"},
		{[]string{"service", "nginx", "reload"}, "action has to be one of start, stop, restart, status"},
		{[]string{"package"}, "please specify package name and action"},
		{[]string{"package", "count", "nginx"}, "count takes no package"},
		{[]string{"package", "status", "nginx", "1.0"}, "only install takes a version"},
		{[]string{"package", "install", "nginx", "1.0", "--version", "2.0"}, "two versions given"},
		{[]string{"shell"}, "please specify an action"},
		{[]string{"shell", "run"}, "run needs a command"},
		{[]string{"shell", "list", "--tail"}, "--tail is for run only"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			e, _, errOut, _ := testEnv(t, okFleet(nil), nil)
			if code := run(context.Background(), e, tc.args); code != exitUsage {
				t.Fatalf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, errOut)
			}
		})
	}
}

func TestActingVerbHelp(t *testing.T) {
	for _, verb := range []string{"service", "package", "shell"} {
		e, out, _, _ := testEnv(t, okFleet(nil), nil)
		if code := run(context.Background(), e, []string{verb, "--help"}); code != exitOK {
			t.Fatalf("%s --help: exit %d", verb, code)
		}
		for _, want := range []string{"Usage:", "Examples:", "--yes", "--batch", "--json"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s --help lacks %q", verb, want)
			}
		}
	}
}
