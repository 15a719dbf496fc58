package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
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
		{"key.yaml", `line 3: unknown key "foo" in a template (keys: identity, count, pad, facts, vary, classes, puppet, services, packages, shell)`},
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
