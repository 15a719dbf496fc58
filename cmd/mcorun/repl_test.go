package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// runReplScript runs 'mcorun repl' on a sandbox with script as its (piped) input.
func runReplScript(t *testing.T, script string) (stdout, stderr string, code int) {
	t.Helper()
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	e := &env{
		stdin: strings.NewReader(script), stdout: out, stderr: errOut,
		getenv: func(string) string { return "" }, home: t.TempDir(),
		connect: connectBroker(defaultDialTimeout, ""), tailPoll: 50 * time.Millisecond,
	}
	code = run(context.Background(), e, []string{"--sandbox", "2", "repl"})
	return out.String(), errOut.String(), code
}

// A piped script in which a statement failed exits 1 and names the line; one without
// errors exits 0.
func TestReplScriptExitCode(t *testing.T) {
	stdout, stderr, code := runReplScript(t, "n = len(discover())\nn\nn / 0\nprint('after')\n")
	if code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
	for _, want := range []string{"<stdin>:3:3: in <expr>", "mcorun repl: 1 of 4 statements failed, the first on line 3"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if stdout != "2\nafter\n" {
		t.Errorf("stdout %q", stdout)
	}
	if _, stderr, code := runReplScript(t, "n = len(discover())\nprint(n)\n"); code != exitOK {
		t.Errorf("a script without errors: exit %d, stderr %s", code, stderr)
	}
}
