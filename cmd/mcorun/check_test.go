package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles writes name→content under dir, making the directories.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCheckDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"good.star":         "print(len(discover()))\n",
		"sub/bad.star":      "print(no_such_name)\n",
		"sub/x_test.star":   "def test_x():\n    fleet(node(\"a\"))\n",
		"testdata/bad.star": "print(also_unknown)\n",
		".hidden/bad.star":  "print(also_unknown)\n",
	})
	e, out, errOut, _ := testEnv(t, nil, nil)
	if code := run(context.Background(), e, []string{"check", dir}); code != exitFailure {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, exitFailure, errOut)
	}
	wantOut := "ok  \t" + filepath.Join(dir, "good.star") + "\nFAIL\t" + filepath.Join(dir, "sub", "bad.star") + "\n"
	if out.String() != wantOut {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, wantOut)
	}
	if s := errOut.String(); !strings.Contains(s, filepath.Join(dir, "sub", "bad.star")+":1:7: undefined: no_such_name") ||
		strings.Contains(s, "also_unknown") || strings.Contains(s, "x_test.star") {
		t.Errorf("stderr:\n%s", s)
	}

	e, out, errOut, _ = testEnv(t, nil, nil)
	if code := run(context.Background(), e, []string{"check", filepath.Join(dir, "good.star")}); code != exitOK || out.Len() != 0 {
		t.Errorf("one file: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
}

func TestCheckDirectoryWithoutPlaybooks(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"only_test.star": "def test_x():\n    pass\n"})
	for _, path := range []string{dir, filepath.Join(dir, "missing")} {
		e, _, errOut, _ := testEnv(t, nil, nil)
		if code := run(context.Background(), e, []string{"check", path}); code != exitUsage {
			t.Errorf("check %s: exit %d, want %d", path, code, exitUsage)
		}
		if s := errOut.String(); !strings.Contains(s, "mcorun check: ") || !strings.Contains(s, path) {
			t.Errorf("check %s: stderr:\n%s", path, s)
		}
	}
}
