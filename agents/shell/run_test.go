package shell

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/testenv"
)

func TestRun(t *testing.T) {
	ts := newTestShell(t, nil)
	cases := []struct {
		name, command, stdout, stderr string
		exit                          int64
	}{
		{"echo", "echo hello; echo world", "hello\nworld\n", "", 0},
		{"failing", "echo oops >&2; exit 3", "", "oops\n", 3},
		{"missing binary", "/no/such/binary", "", "/bin/sh: 1: /no/such/binary: not found\n", 127},
		{"working directory", "pwd", "/\n", "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := ts.mustOK("run", map[string]any{"command": c.command})
			want := map[string]any{"stdout": c.stdout, "stderr": c.stderr, "exitcode": c.exit, "success": c.exit == 0}
			for k, v := range want {
				if d[k] != v {
					t.Errorf("%s = %#v, want %#v", k, d[k], v)
				}
			}
		})
	}
}

func TestRunDirectory(t *testing.T) {
	dir := t.TempDir()
	ts := newTestShell(t, func(o *Options) { o.Dir = dir })
	if d := ts.mustOK("run", map[string]any{"command": "pwd"}); d["stdout"] != dir+"\n" {
		t.Errorf("pwd = %q, want %s", d["stdout"], dir)
	}
}

// TestRunTimeoutKillsGroup runs a command whose grandchild sleeps in the background: the
// timeout kills both, promptly, and the reply says it timed out.
func TestRunTimeoutKillsGroup(t *testing.T) {
	ts := newTestShell(t, nil)
	start := time.Now()
	rep := ts.call("run", map[string]any{"command": "echo $$; sleep 100 & echo $!; sleep 100; wait", "timeout": 1.0})
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run took %s, want about 1s", took)
	}
	if rep.Status != message.Aborted || !strings.Contains(rep.Message, "timed out after 1s") {
		t.Errorf("reply %v %q, want Aborted saying it timed out", rep.Status, rep.Message)
	}
	if rep.Data["success"] != false || rep.Data["exitcode"] != int64(137) {
		t.Errorf("success %v exitcode %v, want false and 137 (SIGKILL)", rep.Data["success"], rep.Data["exitcode"])
	}
	p := pids(t, rep.Data["stdout"].(string))
	if len(p) != 2 {
		t.Fatalf("stdout %q, want the shell's and the grandchild's pids", rep.Data["stdout"])
	}
	waitGone(t, p[0], p...)
}

// TestRunConfiguredTimeout: with no timeout input, Options.Timeout bounds the run.
func TestRunConfiguredTimeout(t *testing.T) {
	ts := newTestShell(t, func(o *Options) { o.Timeout = 300 * time.Millisecond })
	rep := ts.call("run", map[string]any{"command": "sleep 100"})
	if rep.Status != message.Aborted || !strings.Contains(rep.Message, "timed out after 300ms") {
		t.Errorf("reply %v %q, want the configured timeout", rep.Status, rep.Message)
	}
}

// TestRunCapsOutput: 100 MB of output come back as the cap and a marker, and the command
// runs to its end (the pipe is drained, not left full).
func TestRunCapsOutput(t *testing.T) {
	const max = 1 << 20
	ts := newTestShell(t, func(o *Options) { o.MaxOutput = max })
	d := ts.mustOK("run", map[string]any{"command": "head -c 100000000 /dev/zero; head -c 5000 /dev/zero >&2; echo finished >&2"})
	out := d["stdout"].(string)
	marker := truncationMarker(max, 100000000)
	if len(out) != max+len(marker) || !strings.HasSuffix(out, marker) {
		t.Errorf("stdout is %d bytes ending %q, want %d bytes and the marker %q", len(out), out[len(out)-60:], max+len(marker), marker)
	}
	if e := d["stderr"].(string); len(e) != 5009 || !strings.HasSuffix(e, "finished\n") {
		t.Errorf("stderr is %d bytes, want 5009 whole", len(e))
	}
	if d["exitcode"] != int64(0) || d["success"] != true {
		t.Errorf("exitcode %v success %v", d["exitcode"], d["success"])
	}
}

func TestRunAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.SkipOrFail(t, "running as another user needs root: run the tests as root")
	}
	if _, err := LookupUser("nobody"); err != nil {
		testenv.SkipOrFail(t, "no user nobody on this machine: %v", err)
	}
	ts := newTestShell(t, nil)
	d := ts.mustOK("run", map[string]any{"command": "id -un; id -u; echo $HOME", "user": "nobody"})
	if got := strings.Fields(d["stdout"].(string)); len(got) != 3 || got[0] != "nobody" || got[1] != "65534" {
		t.Errorf("id as nobody: %q", d["stdout"])
	}
	id, _ := LookupUser("nobody")
	if !strings.HasSuffix(d["stdout"].(string), id.Home+"\n") {
		t.Errorf("HOME: %q, want %s", d["stdout"], id.Home)
	}
}

// TestRunUserRefused: a daemon that is not root refuses another user, and an unknown user
// is refused; in both cases nothing runs.
func TestRunUserRefused(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	cases := []struct {
		name, user, msg string
		root            bool
	}{
		{"not root", "nobody", "cannot run as nobody: mcod must run as root to run commands as another user", false},
		{"unknown user", "no-such-user-here", "cannot run as no-such-user-here: unknown user no-such-user-here", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestShell(t, func(o *Options) { o.IsRoot = func() bool { return c.root } })
			for _, action := range []string{"run", "start"} {
				rep := ts.call(action, map[string]any{"command": "touch " + marker, "user": c.user})
				if rep.Status != message.Aborted || !strings.HasPrefix(rep.Message, c.msg) {
					t.Errorf("%s: %v %q, want Aborted %q", action, rep.Status, rep.Message, c.msg)
				}
			}
			time.Sleep(100 * time.Millisecond)
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("the command ran")
			}
		})
	}
}

func TestRunBadTimeout(t *testing.T) {
	ts := newTestShell(t, nil)
	rep := ts.call("run", map[string]any{"command": "echo hi", "timeout": -1.0})
	if rep.Status != message.InvalidData || !strings.Contains(rep.Message, "timeout -1") {
		t.Errorf("%v %q", rep.Status, rep.Message)
	}
}
