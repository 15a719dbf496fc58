package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBadFleetFileIsAUsageError: a --fleet file that cannot be used exits 2 with one
// message naming the flag, the file and the line, in the file's terms.
func TestBadFleetFileIsAUsageError(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"key.yaml":  "templates:\n  - identity: web{n}\n    foo: 1\n",
		"dup.yaml":  "templates:\n  - {identity: 'w{n}', count: 1}\n  - {identity: 'w{n}', count: 1}\n",
		"kind.yaml": "templates:\n  - identity: web{n}\n    count: lots\n",
	})
	tests := []struct{ file, want string }{
		{"key.yaml", `line 3: unknown key "foo" in a template (keys: identity, count, pad, facts, vary, classes, puppet, services, packages, shell, external)`},
		{"dup.yaml", "identity w01 occurs twice in the fleet"},
		{"kind.yaml", `line 3: "lots" is a string, want a whole number`},
		{"none.yaml", "no such file"},
	}
	for _, tt := range tests {
		file := filepath.Join(dir, tt.file)
		e, out, errOut, _ := testEnv(t, nil, nil)
		code := run(context.Background(), e, []string{"--sandbox", "2", "--fleet", file, "ping"})
		want := "mcorun: --fleet " + file + ": " + tt.want
		if code != exitUsage || !strings.HasPrefix(errOut.String(), want) || out.Len() != 0 {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", tt.file, code, errOut, exitUsage, want)
		}
		if s := errOut.String(); strings.Count(s, "sandbox") > 0 || strings.Contains(s, "in type") {
			t.Errorf("%s: stderr %q repeats a prefix or names a Go type", tt.file, s)
		}
	}
}

// TestSandboxServesExternalAgents: a fleet file's external key makes its nodes serve the
// external agents of that libdir, and mcorun finds their DDLs there.
func TestSandboxServesExternalAgents(t *testing.T) {
	dir := t.TempDir()
	examples, err := filepath.Abs("../../testdata/external")
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{
		"fleet.yaml": "templates:\n  - identity: ext{n}\n    count: 2\n    external: " + examples + "\n  - identity: plain{n}\n    count: 1\n",
	})
	e := &env{
		stdin: strings.NewReader(""), stdout: &lockedBuffer{}, stderr: &lockedBuffer{},
		getenv: func(string) string { return "" }, home: t.TempDir(),
		connect: connectBroker(defaultDialTimeout, ""), tailPoll: 50 * time.Millisecond,
	}
	code := run(context.Background(), e, []string{"--sandbox", "3", "--fleet", filepath.Join(dir, "fleet.yaml"), "rpc", "greeter", "greet", "name=Ann", "--json"})
	out := e.stdout.(*lockedBuffer).String()
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, e.stderr.(*lockedBuffer).String())
	}
	doc := decodeJSON(t, out)
	if fmt.Sprint(doc["ok"]) != "[ext01 ext02]" {
		t.Errorf("ok = %v, want the two nodes with external agents", doc["ok"])
	}
	for _, r := range doc["replies"].([]any) {
		data := r.(map[string]any)["data"].(map[string]any)
		if data["greeting"] != "hello Ann" || data["mood"] != "cheerful" {
			t.Errorf("reply %v", r)
		}
	}
}
