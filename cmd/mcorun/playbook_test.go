package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestPlaybookQuietAndExit: -q leaves only what the playbook says, and exit(4) is the
// process's exit code.
func TestPlaybookQuietAndExit(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pb.star")
	src := "rs = rpc('rpcutil', 'ping')\nlog('pinged', n = len(rs))\nexit(4)\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runSandbox(context.Background(), t, "run", file, "--no-lock", "-q")
	want := "pinged n=4\n" + file + ":3:5: exit(4): some nodes did not reply\n"
	if code != exitMissing || stderr.String() != want {
		t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), exitMissing, want)
	}
	_, stderr, _ = runSandbox(context.Background(), t, "run", file, "--no-lock")
	if got := stderr.String(); got == want {
		t.Errorf("without -q the rpc line is missing: %q", got)
	}
}
