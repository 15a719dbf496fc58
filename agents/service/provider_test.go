package service

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func TestExecRun(t *testing.T) {
	stdout, stderr, exit, err := ExecRun(context.Background(), "sh", "-c", "echo out; echo err >&2; exit 3")
	if err != nil || exit != 3 || string(stdout) != "out\n" || string(stderr) != "err\n" {
		t.Fatalf("ExecRun = %q %q %d %v, want out, err, exit 3 and no error", stdout, stderr, exit, err)
	}
	if _, _, exit, err := ExecRun(context.Background(), "/nonexistent/init.d/x", "status"); !errors.Is(err, fs.ErrNotExist) || exit != -1 {
		t.Fatalf("missing command: exit %d, %v; want -1 and fs.ErrNotExist", exit, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, _, err := ExecRun(ctx, "sleep", "5"); err == nil {
		t.Fatal("a command under an ended context ran without error")
	}
}

func TestRunQuotesTheCommand(t *testing.T) {
	r := func(ctx context.Context, name string, args ...string) ([]byte, []byte, int, error) {
		return []byte("partial\n"), []byte("boom\n"), 2, nil
	}
	err := run(context.Background(), r, "/etc/init.d/x", "start")
	if err == nil || err.Error() != "execution of '/etc/init.d/x start' returned 2: partial boom" {
		t.Fatalf("run error %v", err)
	}
	if !strings.HasPrefix(err.Error(), "execution") {
		t.Fatal("error not lowercase")
	}
}
