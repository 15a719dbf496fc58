package startest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/docblocks"
)

// TestTestingGuide runs the examples of docs/testing.md: every ```starlark block with a
// file= attribute is written beside the others, and every *_test.star among them is run
// alone with Run. It must pass, or fail when the block has the attribute fails; a
// "```text output" block after it must appear in the report (times left out).
func TestTestingGuide(t *testing.T) {
	md, err := os.ReadFile(filepath.Join("..", "..", "docs", "testing.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := docblocks.Parse(string(md))
	if err != nil {
		t.Fatalf("docs/testing.md: %v", err)
	}
	dir := t.TempDir()
	var tests []docblocks.Block
	for _, b := range blocks {
		name, ok := b.Get("file")
		if b.Lang != "starlark" {
			continue
		}
		if !ok {
			t.Errorf("docs/testing.md:%d: a starlark block without file=NAME", b.Line)
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.Text), 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, "_test.star") {
			tests = append(tests, b)
		}
	}
	if len(tests) < 6 {
		t.Fatalf("only %d test files in docs/testing.md", len(tests))
	}
	t.Chdir(dir)
	times := regexp.MustCompile(`\t[0-9.]+s\n`)
	for _, b := range tests {
		name, _ := b.Get("file")
		t.Run(name, func(t *testing.T) {
			code, out := runTests(t, Options{}, name)
			want := ExitOK
			if b.Has("fails") {
				want = ExitFailed
			}
			if code != want {
				t.Errorf("docs/testing.md:%d: mcorun test %s exits %d, want %d:\n%s", b.Line, name, code, want, out)
			}
			for _, o := range b.Outputs {
				if !strings.Contains(times.ReplaceAllString(out, "\n"), o.Text) {
					t.Errorf("docs/testing.md:%d: the output block at line %d is not in the report:\n%s", b.Line, o.Line, out)
				}
			}
		})
	}
}
