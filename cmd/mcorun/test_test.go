package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlaybookStarTests runs `mcorun test playbooks/`: every playbook's _test.star passes.
func TestPlaybookStarTests(t *testing.T) {
	e, out, errOut, _ := testEnv(t, nil, nil)
	code := run(context.Background(), e, []string{"test", filepath.Join("..", "..", "playbooks")})
	if code != exitOK {
		t.Fatalf("mcorun test playbooks/: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out.String(), "ok  \t../../playbooks/canary_rollout_test.star\t") {
		t.Errorf("output:\n%s", out)
	}
}

// TestStarTestCommand checks the exit codes and flags of mcorun test.
func TestStarTestCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "x_test.star")
	src := "load(\"assert.star\", \"assert\")\n\ndef test_ok():\n    assert.eq(len(discover()), 8)\n\ndef test_bad():\n    assert.eq(1, 2)\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"test", dir}, exitFailure, "x_test.star:7: 1 != 2"},
		{[]string{"test", "-run", "ok", "-v", file}, exitOK, "--- PASS: test_ok"},
		{[]string{"test", "--run=ok", file}, exitOK, "ok  \t"},
		{[]string{"test", "--nosuch"}, exitUsage, "unknown flag"},
		{[]string{"test", filepath.Join(dir, "missing")}, exitUsage, "no such file"},
	} {
		e, out, errOut, _ := testEnv(t, nil, nil)
		code := run(context.Background(), e, tc.args)
		got := out.String() + errOut.String()
		if code != tc.code || !strings.Contains(got, tc.want) {
			t.Errorf("mcorun %s: exit %d, want %d with %q:\n%s", strings.Join(tc.args, " "), code, tc.code, tc.want, got)
		}
	}
}
