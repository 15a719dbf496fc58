package playbook

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mcorun/mcorun/runtime/docblocks"
	"github.com/mcorun/mcorun/runtime/golden"
	"github.com/mcorun/mcorun/runtime/playbook/fleettest"
	"github.com/mcorun/mcorun/runtime/sandbox"
	"github.com/mcorun/mcorun/starlib"
)

// guideBlocks returns the Starlark blocks of docs/playbooks.md.
func guideBlocks(t *testing.T) []docblocks.Block {
	t.Helper()
	md, err := os.ReadFile(filepath.Join("..", "..", "docs", "playbooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := docblocks.Parse(string(md))
	if err != nil {
		t.Fatalf("docs/playbooks.md: %v", err)
	}
	var out []docblocks.Block
	for _, b := range blocks {
		if b.Lang == "starlark" {
			out = append(out, b)
		}
	}
	return out
}

// TestGuideExamples runs every ```starlark block of docs/playbooks.md as a playbook on the
// test fleet made of the sandbox's 20 nodes (what `mcorun --sandbox 20` starts), so the
// examples cannot rot. A block's attributes (see package docblocks):
//
//	file=NAME    not run: written as NAME beside the examples, for load() and --arg files
//	fragment     not run: only parsed (a piece of a playbook shown for its syntax)
//	arg=K=V      --arg K=V (repeatable)
//	exit=N       the exit code the run must end with (default 0)
//	dry-run      run with --dry-run
//
// A "```text output" block right after a run block must appear in the run's stdout
// (print() lines), or with the attribute stderr in its stderr, trailing spaces aside.
// With -update, an output block that does not is replaced by the run's whole output:
// review the diff of docs/playbooks.md.
func TestGuideExamples(t *testing.T) {
	blocks := guideBlocks(t)
	var mu sync.Mutex
	updates := map[int]string{} // an output block's first line -> its new text
	t.Cleanup(func() {
		if len(updates) > 0 {
			rewriteOutputs(t, filepath.Join("..", "..", "docs", "playbooks.md"), updates)
		}
	})
	fleetFile := sandbox.DefaultFleet()
	nodes, err := fleetFile.Nodes(20)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, b := range blocks {
		if name, ok := b.Get("file"); ok {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(b.Text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	runs := 0
	for _, b := range blocks {
		name := fmt.Sprintf("line%d", b.Line)
		if _, ok := b.Get("file"); ok || b.Has("fragment") {
			if _, err := starlib.FileOptions().Parse(name, b.Text, 0); err != nil {
				t.Errorf("docs/playbooks.md:%d: %v", b.Line, err)
			}
			continue
		}
		runs++
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each example has its own fleet and clock
			file := filepath.Join(dir, name+".star")
			if err := os.WriteFile(file, []byte(b.Text), 0o644); err != nil {
				t.Fatal(err)
			}
			args := map[string]string{}
			for _, a := range b.All("arg") {
				k, v, _ := strings.Cut(a, "=")
				args[k] = v
			}
			want := 0
			if s, ok := b.Get("exit"); ok {
				n, err := strconv.Atoi(s)
				if err != nil {
					t.Fatalf("docs/playbooks.md:%d: exit=%s", b.Line, s)
				}
				want = n
			}
			fleet := closing(t, fleettest.FromSandbox(nodes))
			r := runSource(t, context.Background(), "", Options{File: file, Fleet: fleet, Args: args, DryRun: b.Has("dry-run"),
				ReportFile: filepath.Join(t.TempDir(), "report.json")})
			if r.ExitCode != want {
				t.Errorf("docs/playbooks.md:%d: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", b.Line, r.ExitCode, want, r.stdout, r.stderr)
			}
			for _, o := range b.Outputs {
				got := r.stdout
				if o.Has("stderr") {
					got = r.stderr
				}
				switch {
				case strings.Contains(trimLines(got), trimLines(o.Text)):
				case golden.Updating():
					mu.Lock()
					updates[o.Line] = trimLines(got)
					mu.Unlock()
				default:
					t.Errorf("docs/playbooks.md:%d: the output block at line %d is not in the run's output:\n%s\nstderr:\n%s", b.Line, o.Line, got, r.stderr)
				}
			}
		})
	}
	if runs < 20 {
		t.Errorf("only %d examples run in docs/playbooks.md", runs)
	}
}

// rewriteOutputs replaces the text of the output blocks that start at the given lines.
func rewriteOutputs(t *testing.T, path string, updates map[int]string) {
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(src), "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		out = append(out, lines[i])
		text, ok := updates[i+1]
		if !ok {
			continue
		}
		out = append(out, strings.TrimRight(text, "\n")+"\n")
		for i+1 < len(lines) && strings.TrimRight(lines[i+1], "\r\n") != "```" {
			i++ // the old text
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(out, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("rewrote %d output blocks of %s", len(updates), path)
}

// trimLines drops the trailing spaces of every line.
func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Join(lines, "\n")
}

// TestGuideUsesEveryBuiltin requires every builtin, method and attribute of the help table
// to appear in at least one example of docs/playbooks.md that runs.
func TestGuideUsesEveryBuiltin(t *testing.T) {
	var code strings.Builder
	for _, b := range guideBlocks(t) {
		if !b.Has("fragment") {
			code.WriteString(b.Text)
		}
	}
	src := code.String()
	for _, e := range starlib.HelpEntries() {
		var token string
		typ, attr, dotted := strings.Cut(e.Name, ".")
		switch {
		case e.Name == "help" || e.Name == typ && e.Name == e.Signature && typ[0] >= 'A' && typ[0] <= 'Z':
			continue // the REPL's help, and the value types themselves
		case dotted && typ[0] >= 'A' && typ[0] <= 'Z':
			token = "." + attr
		case strings.Contains(e.Signature, "("):
			token = e.Name + "("
		default:
			token = e.Name + "."
		}
		if !strings.Contains(src, token) {
			t.Errorf("no example in docs/playbooks.md uses %s (%q)", e.Name, token)
		}
	}
}

// TestReadmePlaybook runs the README's playbook examples as its text says to try them,
// on the sandbox's nodes (`mcorun --sandbox 10 web_puppet.star`): each must succeed, and
// the rollout must complete.
func TestReadmePlaybook(t *testing.T) {
	md, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := docblocks.Parse(string(md))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	nodes, err := sandbox.DefaultFleet().Nodes(10)
	if err != nil {
		t.Fatal(err)
	}
	rollouts := 0
	for _, b := range blocks {
		if b.Lang != "python" {
			continue
		}
		fleet := closing(t, fleettest.FromSandbox(nodes))
		r := runSource(t, context.Background(), b.Text, Options{Fleet: fleet})
		if r.ExitCode != ExitOK {
			t.Errorf("README.md:%d: exit code %d\nstdout:\n%s\nstderr:\n%s", b.Line, r.ExitCode, r.stdout, r.stderr)
		}
		if strings.Contains(b.Text, "rolling(") {
			rollouts++
			if !strings.Contains(r.stdout, "RollingReport(ok") {
				t.Errorf("README.md:%d: the rollout did not complete:\n%s\nstderr:\n%s", b.Line, r.stdout, r.stderr)
			}
		}
	}
	if rollouts == 0 {
		t.Error("no playbook with a rollout in README.md")
	}
}
