package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/testenv"
)

// completeLine runs mcorun __complete for line, with cur the part of its last word the shell
// replaces, and returns the mode and candidates.
func completeLine(t *testing.T, cur, line string) (string, []string) {
	t.Helper()
	e, out, errOut, _ := testEnv(t, nil, nil)
	if code := run(context.Background(), e, []string{"__complete", cur, line}); code != exitOK {
		t.Fatalf("__complete %q: exit %d; %s", line, code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	return lines[0], lines[1:]
}

func TestComplete(t *testing.T) {
	for _, tc := range []struct {
		line, cur string
		mode      string
		want      []string // all of them, in order; nil: none
		has       []string // among them
	}{
		{line: "mcorun ", has: []string{"rpc", "find", "completion", "repl"}},
		{line: "mcorun r", want: []string{"repl", "resume", "rpc", "run", "runs"}},
		{line: "mcorun rpc ", has: []string{"rpcutil", "service", "puppet", "package"}},
		{line: "mcorun rpc ser", want: []string{"service"}},
		{line: "mcorun rpc service re", want: []string{"restart"}},
		{line: "mcorun rpc service restart ", mode: modeNoSpace, want: []string{"service="}},
		{line: "mcorun rpc -I web1 --dt 3 rpcutil get_fact ", mode: modeNoSpace, want: []string{"fact="}},
		{line: "mcorun rpc rpcutil get_fact fact=role ", mode: modeNoSpace, want: []string{}},
		{line: "mcorun --sandbox 3 rpc rpcutil get_f", want: []string{"get_fact", "get_facts"}},
		{line: "mcorun find --fo", want: []string{"--format"}},
		{line: "mcorun find --format ", want: []string{"csv", "json", "jsonl", "table", "yaml"}},
		{line: "mcorun find -o j", want: []string{"json", "jsonl"}},
		{line: "mcorun find --format=c", cur: "c", want: []string{"csv"}},
		{line: "mcorun find -F role=web --w", has: []string{"--wf", "--wide", "--with"}},
		{line: "mcorun rpc -A ser", want: []string{"service"}},
		{line: "mcorun plugin doc f", want: []string{"fact", "fstat"}},
		{line: "mcorun plugin ", want: []string{"ddl", "doc"}},
		{line: "mcorun service nginx ", want: []string{"restart", "start", "status", "stop"}},
		{line: "mcorun puppet run", want: []string{"runall", "runonce"}},
		{line: "mcorun completion ", want: []string{"bash", "zsh"}},
		{line: "mcorun help pi", want: []string{"ping"}},
		{line: "mcorun -", want: []string{"--fleet", "--help", "--sandbox", "--version"}},
		{line: "mcorun play", mode: modeFiles},
		{line: "mcorun check ", mode: modeFiles},
		{line: "mcorun find --config ", mode: modeFiles},
		{line: "mcorun --fleet ", mode: modeFiles},
		{line: "mcorun 'rpc' \"rpcutil\" pi", want: []string{"ping"}},
		{line: "mcorun ../../playbooks/rolling_restart.star --arg ", mode: modeNoSpace, has: []string{"service=", "window="}},
		{line: "mcorun run --dry-run ../../playbooks/rolling_restart.star --arg wi", mode: modeNoSpace, want: []string{"window="}},
	} {
		cur := tc.cur
		if cur == "" {
			cur = tc.line[strings.LastIndex(tc.line, " ")+1:]
		}
		mode, got := completeLine(t, cur, tc.line)
		wantMode := tc.mode
		if wantMode == "" {
			wantMode = modePlain
		}
		if mode != wantMode {
			t.Errorf("%q: mode %s, want %s", tc.line, mode, wantMode)
		}
		if tc.want != nil && strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%q: %q, want %q", tc.line, got, tc.want)
		}
		for _, h := range tc.has {
			if !strings.Contains(" "+strings.Join(got, " ")+" ", " "+h+" ") {
				t.Errorf("%q: %q lacks %q", tc.line, got, h)
			}
		}
	}
}

// Agents from a libdir's DDLs complete like the built-in ones.
func TestCompleteLibdirAgent(t *testing.T) {
	dir := t.TempDir()
	agentDir := filepath.Join(dir, "mcollective", "agent")
	if err := os.MkdirAll(agentDir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := `{"$schema":"https://choria.io/schemas/mcorpc/ddl/v1/agent.json","metadata":{"name":"deploy","description":"d","author":"a","license":"l","version":"1","url":"u","timeout":10},
"actions":[{"action":"ship","description":"ship it","display":"always","input":{"release":{"prompt":"r","description":"r","type":"string","optional":false,"validation":".","maxlength":20}},"output":{}}]}`
	if err := os.WriteFile(filepath.Join(agentDir, "deploy.json"), []byte(d), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "client.cfg")
	if err := os.WriteFile(cfg, []byte(testClientCfg+"libdir = "+dir+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for line, want := range map[string]string{
		"mcorun rpc --config " + cfg + " dep":             "deploy",
		"mcorun rpc --config " + cfg + " deploy ":         "ship",
		"mcorun rpc --config=" + cfg + " deploy ship rel": "release=",
	} {
		_, got := completeLine(t, line[strings.LastIndex(line, " ")+1:], line)
		if strings.Join(got, " ") != want {
			t.Errorf("%q: %q, want %q", line, got, want)
		}
	}
}

// The scripts are printed as they are embedded, and each shell parses its own. What they do
// is tested by typing into the shells (TestBashCompletionUnderPTY, TestZshCompletionUnderPTY).
func TestCompletionScripts(t *testing.T) {
	for sh, want := range map[string]string{"bash": bashCompletion, "zsh": zshCompletion} {
		e, out, _, _ := testEnv(t, nil, nil)
		if code := run(context.Background(), e, []string{"completion", sh}); code != exitOK {
			t.Fatalf("completion %s: exit %d", sh, code)
		}
		if out.String() != want || !strings.Contains(want, "__complete") {
			t.Errorf("completion %s printed:\n%s", sh, out)
		}
		if path, err := exec.LookPath(sh); err == nil {
			if msg, err := exec.Command(path, "-n", "-c", want).CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v\n%s", sh, err, msg)
			}
		}
	}
	e, _, errOut, _ := testEnv(t, nil, nil)
	if code := run(context.Background(), e, []string{"completion", "fish"}); code != exitUsage || !strings.Contains(errOut.String(), "bash or zsh") {
		t.Errorf("completion fish: exit %d, %s", code, errOut)
	}
}

// completionShell starts an interactive shell under a pty with mcorun on its PATH and the
// completion script of that shell loaded, and waits for its prompt.
func completionShell(t *testing.T, ctx context.Context, shell string, args []string, rcName, rc string) *ptySession {
	t.Helper()
	path, err := exec.LookPath(shell)
	if err != nil {
		testenv.SkipOrFail(t, "%s is not installed: run .ci/setup-services (apt-get install %s) to test its completion", shell, shell)
		return nil
	}
	dir := t.TempDir()
	if err := os.Symlink(mcorunBin, filepath.Join(dir, "mcorun")); err != nil {
		t.Fatal(err)
	}
	e, out, _, _ := testEnv(t, nil, nil)
	if code := run(context.Background(), e, []string{"completion", shell}); code != exitOK {
		t.Fatalf("completion %s: exit %d", shell, code)
	}
	script := filepath.Join(dir, "mcorun."+shell)
	if err := os.WriteFile(script, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	rc = strings.ReplaceAll(rc, "SCRIPT", script)
	if err := os.WriteFile(filepath.Join(dir, rcName), []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "DIR", dir)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	// No config file anywhere: completion uses the built-in DDLs.
	// GORACE: a binary built with -race otherwise sleeps a second as it exits, on every TAB.
	cmd.Env = []string{"PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + dir, "ZDOTDIR=" + dir, "TERM=xterm", "NO_COLOR=1",
		"GORACE=atexit_sleep_ms=0"}
	s := startPTYCmd(t, cmd)
	s.expect("READY$ ", 20*time.Second)
	return s
}

// tab types line and a TAB and waits for want to appear after it, as the shell shows it.
func (s *ptySession) tab(line, want string) {
	s.t.Helper()
	s.send(line + "\t")
	s.expect(want, 20*time.Second)
}

// TestBashCompletionUnderPTY types into a real bash with the completion script loaded, and
// reads the screen after each TAB.
func TestBashCompletionUnderPTY(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := completionShell(t, ctx, "bash", []string{"--noprofile", "--rcfile", "DIR/bashrc", "-i"}, "bashrc",
		"PS1='READY$ '\nbind 'set bell-style none'\nbind 'set show-all-if-ambiguous on'\nsource SCRIPT\n")
	s.tab("mcorun rpc ser", "mcorun rpc service ")
	s.tab("re", "restart ")
	s.tab("se", "service=")
	s.send("\x15") // Ctrl-U: a new line
	s.tab("mcorun find --format=c", "--format=csv ")
	s.send("\x15")
	// Two candidates: TAB completes their common part and lists them.
	s.tab("mcorun rpc rpcutil get_f", "get_fact")
	s.expect("get_facts", 20*time.Second)
	s.send("\x15")
	s.tab("mcorun pl", "mcorun plugin ")
	s.tab("doc fs", "fstat ")
	s.send("\x15exit\r")
}

// TestZshCompletionUnderPTY does the same in zsh, when it is installed.
func TestZshCompletionUnderPTY(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := completionShell(t, ctx, "zsh", []string{"-i"}, ".zshrc",
		"PS1='READY$ '\nunsetopt beep\nautoload -Uz compinit && compinit -u\nsource SCRIPT\n")
	// zsh shows the space it adds after a word in bold until the next key.
	s.tab("mcorun rpc ser", "rpc service")
	s.tab("re", "restart")
	s.tab("se", "service=")
	s.send("\x15")
	s.tab("mcorun plugin doc fs", "fstat")
	s.send("\x15")
	// The first TAB inserts the common part, the second lists the candidates.
	s.tab("mcorun rpc rpcutil get_f", "get_fact")
	s.send("\t")
	s.expect("get_facts", 20*time.Second)
	s.send("\x15exit\r")
}
