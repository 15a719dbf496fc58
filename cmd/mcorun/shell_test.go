package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestShellRunLayoutSandbox(t *testing.T) {
	out, errOut, code := runSandbox(context.Background(), t, "shell", "run", "-I", "web01.example.net", "echo hi; echo err >&2; exit 3")
	if code != exitFailed {
		t.Errorf("exit %d, want %d: the command exited 3\n%s", code, exitFailed, errOut)
	}
	want := "web01.example.net:\nhi\n    STDERR:\nerr\nexitcode: 3\n\n"
	if !strings.HasPrefix(out.String(), want) {
		t.Errorf("layout:\n%q\nwant it to start with\n%q", out, want)
	}
	out, _, code = runSandbox(context.Background(), t, "shell", "run", "-I", "web02.example.net", "echo", "quiet")
	if code != exitOK || !strings.HasPrefix(out.String(), "web02.example.net:\nquiet\n\n") || strings.Contains(out.String(), "STDERR") {
		t.Errorf("a clean run: exit %d\n%s", code, out)
	}
}

func TestShellRunJSONSandbox(t *testing.T) {
	out, errOut, code := runSandbox(context.Background(), t, "shell", "run", "--yes", "--json", "echo hi; exit 2")
	if code != exitFailed {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	doc := decodeJSON(t, out.String())
	replies := doc["replies"].([]any)
	if len(replies) != 4 {
		t.Fatalf("replies: %v", replies)
	}
	data := replies[0].(map[string]any)["data"].(map[string]any)
	if data["stdout"] != "hi\n" || data["exitcode"] != float64(2) {
		t.Errorf("data: %v", data)
	}
}

func TestShellTailSandbox(t *testing.T) {
	out, errOut, code := runSandbox(context.Background(), t, "shell", "run", "--tail", "-I", "web01.example.net", "echo one; sleep 0.2; echo two >&2; printf three")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"web01.example.net stdout: one\n", "web01.example.net stderr: two\n", "web01.example.net stdout: three\n", "1 ok, 0 failed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	out, _, code = runSandbox(context.Background(), t, "shell", "run", "--tail", "--json", "-I", "web02.example.net", "echo a; exit 4")
	doc := decodeJSON(t, out.String())
	jobs := doc["jobs"].([]any)
	if code != exitFailed || len(jobs) != 1 || jobs[0].(map[string]any)["stdout"] != "a\n" || jobs[0].(map[string]any)["exitcode"] != float64(4) {
		t.Errorf("--tail --json: exit %d\n%s", code, out)
	}
}

func TestShellTailKillsOnCancel(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- runSandboxTo(ctx, t, out, errOut, "shell", "run", "--tail", "-I", "web01.example.net",
			"echo $$ > "+pidFile+"; echo started; exec sleep 30")
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "web01.example.net stdout: started") {
		if time.Now().After(deadline) {
			t.Fatalf("the job never printed its output:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != exitInterrupted {
		t.Errorf("exit %d, want %d", code, exitInterrupted)
	}
	if !strings.Contains(errOut.String(), "Sending kill to web01.example.net") || strings.Contains(errOut.String(), "kill:") {
		t.Errorf("no clean kill:\n%s", errOut)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the job's process %d still runs after the kill", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gone reports whether a process no longer runs (absent, or a zombie not yet reaped).
func gone(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err != nil || strings.Contains(string(stat), ") Z ")
}

func TestShellListStartStatusKill(t *testing.T) {
	f := okFleet(map[string]any{"jobs": map[string]any{"h-1": map[string]any{"command": "sleep 9", "status": "running"}}, "status": "running", "stdout": "x\n", "stderr": ""})
	e, out, errOut, cfg := testEnv(t, f, nil)
	if code := run(context.Background(), e, []string{"shell", "list", "-v", "--config", cfg}); code != exitOK {
		t.Fatalf("list: exit %d\n%s", code, errOut)
	}
	if want := "a.example.net:\n    h-1\n        command: sleep 9\n        status:  running\n\n"; !strings.HasPrefix(out.String(), want) {
		t.Errorf("list -v:\n%q\nwant\n%q", out, want)
	}
	out.Reset()
	if code := run(context.Background(), e, []string{"shell", "status", "h-1", "--config", cfg}); code != exitOK || f.calls != 3 || f.lastArgs["handle"] != "h-1" {
		t.Fatalf("status: exit %d, %d calls, args %v\n%s", code, f.calls, f.lastArgs, errOut)
	}
	if !strings.HasPrefix(out.String(), "a.example.net: running\nx\n\n") {
		t.Errorf("status:\n%q", out)
	}
	if code := run(context.Background(), e, []string{"shell", "status", "nope", "--config", cfg}); code != exitFailure || !strings.Contains(errOut.String(), "no matching node has a job nope") {
		t.Errorf("status of an unknown handle: exit %d\n%s", code, errOut)
	}
}
