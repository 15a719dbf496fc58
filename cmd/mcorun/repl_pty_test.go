package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ptySession is the mcorun binary running under a pseudo-terminal, as a person at a
// terminal runs it: the REPL sees a terminal on stdin and stdout, reads in raw mode with
// line editing, and Ctrl-C reaches it as the terminal's interrupt.
type ptySession struct {
	t    *testing.T
	tty  *os.File // the pty's controlling side: what is typed goes in, the screen comes out
	cmd  *exec.Cmd
	done chan struct{} // closed when the reader has seen the end of the output

	exited  chan struct{} // closed when the process has been waited for
	waitErr error         // cmd.Wait's answer, set before exited closes

	mu   sync.Mutex
	out  bytes.Buffer // everything the program wrote to the terminal
	seen int          // how much of out earlier expectations have consumed
	wake chan struct{}
}

// startPTY starts mcorun with args under a pty of a fixed size. The process is killed when
// ctx ends, so a stuck session cannot hang the test.
func startPTY(ctx context.Context, t *testing.T, env []string, args ...string) *ptySession {
	t.Helper()
	cmd := exec.CommandContext(ctx, mcorunBin, args...)
	cmd.Env = env
	return startPTYCmd(t, cmd)
}

// startPTYCmd starts cmd (made with exec.CommandContext) under a pty of a fixed size.
func startPTYCmd(t *testing.T, cmd *exec.Cmd) *ptySession {
	t.Helper()
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 160})
	if err != nil {
		t.Fatalf("start under a pty: %v", err)
	}
	s := &ptySession{t: t, tty: tty, cmd: cmd, done: make(chan struct{}), exited: make(chan struct{}), wake: make(chan struct{}, 1)}
	go s.read()
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.exited
		_ = tty.Close()
		<-s.done
	})
	return s
}

// read copies the terminal's output into s.out until the pty closes (EIO once the program
// has exited).
func (s *ptySession) read() {
	defer close(s.done)
	buf := make([]byte, 4096)
	for {
		n, err := s.tty.Read(buf)
		if n > 0 {
			s.mu.Lock()
			s.out.Write(buf[:n])
			s.mu.Unlock()
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
		if err != nil {
			return
		}
	}
}

// expect waits up to d for want to appear in the output after what earlier expectations
// consumed, consumes up to the end of it and returns the output in between.
func (s *ptySession) expect(want string, d time.Duration) string {
	s.t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		rest := s.out.String()[s.seen:]
		if i := strings.Index(rest, want); i >= 0 {
			s.seen += i + len(want)
			s.mu.Unlock()
			return rest[:i+len(want)]
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-s.done:
			s.mu.Lock()
			rest = s.out.String()[s.seen:]
			s.mu.Unlock()
			if !strings.Contains(rest, want) {
				s.t.Fatalf("mcorun ended before printing %q; output so far:\n%s", want, s.all())
			}
		case <-deadline.C:
			s.t.Fatalf("no %q within %s; output so far:\n%q", want, d, s.all())
		}
	}
}

// send types b on the terminal.
func (s *ptySession) send(b string) {
	s.t.Helper()
	if _, err := s.tty.Write([]byte(b)); err != nil {
		s.t.Fatalf("type %q: %v", b, err)
	}
}

// prompt is how a fresh prompt appears: line editing redraws the line from its start.
const prompt = "\r>>> "

// enter types one line and Enter, and waits until the line editor has echoed it whole and
// moved to the next line, i.e. the REPL has it.
func (s *ptySession) enter(l string) {
	s.t.Helper()
	s.send(l + "\r")
	s.expect(l+"\r\n", 10*time.Second)
}

// line types one line and waits for the next prompt, returning what was printed in between.
func (s *ptySession) line(l string) string {
	s.t.Helper()
	s.enter(l)
	return s.expect(prompt, 30*time.Second)
}

func (s *ptySession) all() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// TestReplUnderPTY drives mcorun repl on a sandbox fleet through a pseudo-terminal: the
// prompt, a discover and an rpc printed as tables, a syntax error that leaves the session
// going, Ctrl-C cancelling a long wait_until but not the session, Ctrl-D ending it, and the
// history written to the home directory.
func TestReplUnderPTY(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	home := t.TempDir()
	env := append(os.Environ(), "HOME="+home, "NO_COLOR=1", "TERM=xterm")
	s := startPTY(ctx, t, env, "--sandbox", "5", "repl")

	out := s.expect(prompt, 60*time.Second)
	for _, want := range []string{"help() or ?", "Ctrl-D leaves"} {
		if !strings.Contains(out, want) {
			t.Errorf("the banner lacks %q:\n%s", want, out)
		}
	}
	for _, l := range []string{"help", "?"} {
		if out := s.line(l); !strings.Contains(out, "rpc(agent, action") || !strings.Contains(out, "Value types") {
			t.Errorf("%s at the prompt printed no overview:\n%s", l, out)
		}
	}
	s.line(`web = discover("role=web")`)
	out = s.line(`web`)
	for _, want := range []string{"┌", "NODE", "│ web01.dc1.example.net │", "└", "2 nodes"} {
		if !strings.Contains(out, want) {
			t.Errorf("the NodeSet table lacks %q:\n%s", want, out)
		}
	}
	s.line(`rs = rpc("rpcutil", "ping", nodes = web)`)
	out = s.line(`rs`)
	for _, want := range []string{"┌", "NODE", "STATUS", "│ web02.dc1.example.net │ ok ", "└", "rpcutil.ping: 2 ok, 0 failed, 0 missing"} {
		if !strings.Contains(out, want) {
			t.Errorf("the ResultSet table lacks %q:\n%s", want, out)
		}
	}

	out = s.line(`x = = 1`)
	if !strings.Contains(out, "got '=', want primary expression") {
		t.Errorf("no syntax error:\n%s", out)
	}
	out = s.line(`print("still here")`)
	if !strings.Contains(out, "still here") {
		t.Errorf("the session did not go on after the syntax error:\n%s", out)
	}

	// A long wait: Ctrl-C cancels it, and the session answers the next statement.
	s.enter(`wait_until(lambda: False, timeout="1m", every="1s")`)
	time.Sleep(1500 * time.Millisecond) // let the wait start its first sleep
	start := time.Now()
	s.send("\x03")
	out = s.expect(prompt, 15*time.Second)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Ctrl-C took %s to cancel the wait", took)
	}
	if !strings.Contains(out, "^C") || !strings.Contains(out, "interrupted in wait_until") || strings.Contains(out, "canceled") {
		t.Errorf("the cancelled wait printed no interruption:\n%s", out)
	}
	out = s.line(`print("after")`)
	if !strings.Contains(out, "after") {
		t.Errorf("the session did not survive Ctrl-C:\n%s", out)
	}

	// Ctrl-C at the prompt drops the line being typed; the session goes on.
	s.send(`print("dropped`)
	s.expect(`print("dropped`, 10*time.Second)
	s.send("\x03")
	// The line editor may redraw its prompt before the interrupt is handled; wait for the
	// session's own message and the fresh prompt after it before typing again.
	s.expect("interrupted", 10*time.Second)
	s.expect(prompt, 10*time.Second)
	out = s.line(`print("kept")`)
	if !strings.Contains(out, "kept") || strings.Contains(out, "dropped") {
		t.Errorf("Ctrl-C at the prompt:\n%s", out)
	}

	// Ctrl-D at an empty prompt ends the session with exit 0.
	s.send("\x04")
	select {
	case <-s.exited:
		err := s.waitErr
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Errorf("mcorun repl exited %d after Ctrl-D; output:\n%s", ee.ExitCode(), s.all())
		} else if err != nil {
			t.Errorf("mcorun repl: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("mcorun repl did not end on Ctrl-D; output:\n%s", s.all())
	}

	hist, err := os.ReadFile(filepath.Join(home, ".mcorun_history"))
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	for _, want := range []string{`web = discover("role=web")`, `print("still here")`, `print("after")`} {
		if !strings.Contains(string(hist), want) {
			t.Errorf("history lacks %q:\n%s", want, hist)
		}
	}
}

// TestReplCompletionAndBlocksUnderPTY types into mcorun repl under a pseudo-terminal: TAB
// completes agents, actions, inputs and methods from what is on the screen; a def with a
// blank line inside, typed as pasted, runs whole; and the up arrow recalls the block as one
// history entry.
func TestReplCompletionAndBlocksUnderPTY(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	home := t.TempDir()
	env := append(os.Environ(), "HOME="+home, "NO_COLOR=1", "TERM=xterm")
	s := startPTY(ctx, t, env, "--sandbox", "3", "repl")
	out := s.expect(prompt, 60*time.Second)
	if !strings.Contains(out, "TAB completes") {
		t.Errorf("the banner does not mention completion:\n%s", out)
	}

	// rpc("ser<TAB> -> rpc("service"; "re<TAB> -> "restart"; {"se<TAB> -> {"service".
	s.send(`rs = rpc("ser` + "\t")
	s.expect(`rpc("service"`, 10*time.Second)
	s.send(`, "re` + "\t")
	s.expect(`"restart"`, 10*time.Second)
	s.send(`, {"se` + "\t")
	s.expect(`{"service"`, 10*time.Second)
	s.send(`: "nginx"}, tt` + "\t") // rpc's keyword argument ttl
	s.expect(`ttl=`, 10*time.Second)
	out = s.line(`60, filter="role=web")`)
	if strings.Contains(out, "Error") {
		t.Fatalf("the completed rpc failed:\n%s", out)
	}
	// Methods after "x.", and the data keys code reads as the columns.
	s.send("rs.fai\t")
	s.expect("rs.failed", 10*time.Second)
	s.line("")
	out = s.line("rs")
	if !strings.Contains(out, "│ status ") || strings.Contains(out, "Service Status") {
		t.Errorf("the table is not headed by the data key:\n%s", out)
	}

	// A def with a blank line inside, as pasted; the block ends at two empty lines.
	for _, l := range []string{"def answer():", "    x = 40", "", "    return x + 2"} {
		s.enter(l)
	}
	s.enter("")
	s.enter("")
	s.expect(prompt, 10*time.Second)
	out = s.line("answer()")
	if !strings.Contains(out, "42") {
		t.Fatalf("the def with a blank line inside did not run whole:\n%s", out)
	}

	// Undefine it, then define it again from the history: three times up (past
	// "answer = None" and "answer()") recalls the whole def as one entry.
	s.line("answer = None")
	s.send("\x1b[A\x1b[A\x1b[A")
	out = s.expect("return x + 2", 10*time.Second)
	if !strings.Contains(out, "def answer():") {
		t.Errorf("the up arrow did not recall the whole block:\n%q", out)
	}
	// Enter runs the recalled block; the next statement's output shows it defined answer()
	// again. (Whether the block ends at once or at the next line at the left margin, the
	// prompt may be redrawn between them, so the test waits for the answer itself.)
	s.send("\r")
	s.enter("answer() + 1")
	s.expect("43", 10*time.Second)
	s.expect(prompt, 10*time.Second)
	s.send("\x04")
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("mcorun repl did not end on Ctrl-D; output:\n%s", s.all())
	}
}
