package extproc

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// script writes an executable shell script and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "prog.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

// The program gets the request file, the reply file and the protocol as its arguments and in
// its environment, which holds nothing else but PATH and what the call adds.
func TestRunProtocol(t *testing.T) {
	t.Setenv("MCORUN_EXTPROC_SECRET", "leak")
	prog := script(t, `[ "$1" = "$CHORIA_EXTERNAL_REQUEST" ] && [ "$2" = "$CHORIA_EXTERNAL_REPLY" ] && [ "$3" = "$CHORIA_EXTERNAL_PROTOCOL" ] || exit 9
env | sort | sed 's/=.*//' | tr '\n' ' ' >&2
printf '{"req":%s,"extra":"%s","x":"%s","own":"%s"}' "$(cat "$1")" "$(cat "$EXTRA_FILE")" "$X" "$0" >"$2"
echo said >&1
`)
	res, err := Run(context.Background(), Call{Argv: []string{prog}, Protocol: "p.v1", Request: map[string]int{"a": 1},
		Files: []File{{Env: "EXTRA_FILE", Name: "extra.txt", Body: []byte("xtra")}}, Env: []string{"X=y"}, MaxReply: 1 << 10})
	if err != nil {
		t.Fatalf("Run: %v (stderr %s)", err, res.Stderr)
	}
	if want := `{"req":{"a":1},"extra":"xtra","x":"y","own":"` + prog + `"}`; string(res.Reply) != want {
		t.Errorf("reply %s, want %s", res.Reply, want)
	}
	if env := string(res.Stderr); strings.Contains(env, "MCORUN_EXTPROC_SECRET") || !strings.Contains(env, "PATH") {
		t.Errorf("environment %q: want PATH and no inherited variable", env)
	}
	if string(res.Stdout) != "said\n" {
		t.Errorf("stdout %q", res.Stdout)
	}
}

func TestRunFailures(t *testing.T) {
	ctx := context.Background()
	_, err := Run(ctx, Call{Argv: []string{script(t, "echo boom >&2; exit 3")}, MaxReply: 10})
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(err.Error(), "prog.sh exit status 3") {
		t.Errorf("non-zero exit: %v", err)
	}
	if _, err := Run(ctx, Call{Argv: []string{script(t, "true")}, MaxReply: 10}); !errors.Is(err, ErrNoReply) {
		t.Errorf("no reply: %v", err)
	}
	if _, err := Run(ctx, Call{Argv: []string{script(t, `head -c 100 /dev/zero >"$2"`)}, MaxReply: 10}); err == nil || !strings.Contains(err.Error(), "100 bytes, over the limit of 10") {
		t.Errorf("huge reply: %v", err)
	}
	if _, err := Run(ctx, Call{Argv: []string{"/nonexistent/prog"}}); err == nil || !strings.Contains(err.Error(), "cannot run") {
		t.Errorf("missing program: %v", err)
	}
}

// At the deadline the whole process group is killed: a background child too.
func TestRunTimeoutKillsTheGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child")
	prog := script(t, "sleep 60 & echo $! >"+pidFile+"\nsleep 60\n")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Run(ctx, Call{Argv: []string{prog}, MaxReply: 10, WaitDelay: 200 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout and the deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
	pid, _ := os.ReadFile(pidFile)
	deadline := time.Now().Add(3 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/stat")
		// gone, or a zombie waiting for init to reap it
		if err != nil || bytes.Contains(stat, []byte(") Z ")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background child %s outlived the kill", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestExcerptAndTail(t *testing.T) {
	if got := Excerpt([]byte(strings.Repeat("é", 150)+"\nthe end\n"), 20); !strings.HasPrefix(got, "...") || !strings.HasSuffix(got, "é the end") || len(got) > 23 {
		t.Errorf("Excerpt = %q", got)
	}
	if got := Excerpt([]byte(" \n"), 20); got != "" {
		t.Errorf("Excerpt of blank output = %q", got)
	}
	var tl Tail
	for range 1000 {
		_, _ = tl.Write([]byte(strings.Repeat("x", 100)))
	}
	_, _ = tl.Write([]byte("END"))
	if b := tl.Bytes(); len(b) != MaxTail || !bytes.HasSuffix(b, []byte("xEND")) {
		t.Errorf("Tail kept %d bytes ending %q", len(b), b[len(b)-4:])
	}
}
