package docblocks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	md := "# t\n\n```starlark file=a.star arg=x=1 arg=y=2 fragment\nprint(1)\n\nprint(2)\n```\n\n```text output\n1\n2\n```\n```text output stderr\ne\n```\n" +
		"text\n```sh\nls\n```\nprose\n\n```text output\nnot attached\n```\n```\n```\n"
	blocks, err := Parse(md)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 4 {
		t.Fatalf("%d blocks, want 4: %+v", len(blocks), blocks)
	}
	b := blocks[0]
	if b.Lang != "starlark" || b.Line != 3 || b.Text != "print(1)\n\nprint(2)\n" || !b.Has("fragment") || b.Has("file") {
		t.Errorf("first block %+v", b)
	}
	if f, _ := b.Get("file"); f != "a.star" || strings.Join(b.All("arg"), ";") != "x=1;y=2" {
		t.Errorf("attributes %q", b.Attrs)
	}
	if len(b.Outputs) != 2 || b.Outputs[0].Text != "1\n2\n" || !b.Outputs[1].Has("stderr") || b.Outputs[1].Text != "e\n" {
		t.Errorf("outputs %+v", b.Outputs)
	}
	if blocks[1].Lang != "sh" || blocks[1].Outputs != nil {
		t.Errorf("second block %+v", blocks[1])
	}
	if blocks[2].Lang != "text" || blocks[2].Text != "not attached\n" {
		t.Errorf("an output block after prose stands alone: %+v", blocks[2])
	}
	if blocks[3].Lang != "" || blocks[3].Text != "" {
		t.Errorf("empty block %+v", blocks[3])
	}
	if _, err := Parse("a\n```go\nx\n"); err == nil || err.Error() != "line 2: code block never closed" {
		t.Errorf("unclosed: %v", err)
	}
}

func TestSplice(t *testing.T) {
	doc := "a\n<!-- begin -->\nold\n<!-- end -->\nb\n"
	got, err := Splice(doc, "<!-- begin -->", "<!-- end -->", "new\nlines")
	if err != nil || got != "a\n<!-- begin -->\nnew\nlines\n<!-- end -->\nb\n" {
		t.Errorf("Splice: %q, %v", got, err)
	}
	if s, err := Section(got, "<!-- begin -->", "<!-- end -->"); err != nil || s != "new\nlines\n" {
		t.Errorf("Section: %q, %v", s, err)
	}
	if _, err := Splice(doc, "<!-- end -->", "<!-- begin -->", "x"); err == nil {
		t.Error("markers out of order accepted")
	}
	if _, err := Section(doc, "<!-- nope -->", "<!-- end -->"); err == nil {
		t.Error("missing marker accepted")
	}
}

func TestAnchorsAndLinks(t *testing.T) {
	md := "# Writing playbooks\n## Ending a run: fail() and exit()\n## Waiting: wait_until() and sleep()\n" +
		"```sh\n# not a heading\n[x](#nope)\n```\n## Notes\n### Notes\nSee [a](#notes-1), [b](other.md) and [c](#notes).\n"
	got := Anchors(md)
	for _, want := range []string{"writing-playbooks", "ending-a-run-fail-and-exit", "waiting-wait_until-and-sleep", "notes", "notes-1"} {
		if !got[want] {
			t.Errorf("no anchor %q in %v", want, got)
		}
	}
	if got["not-a-heading"] || len(got) != 5 {
		t.Errorf("anchors %v", got)
	}
	if l := strings.Join(Links(md), " "); l != "#notes-1 other.md #notes" {
		t.Errorf("links %q", l)
	}
}

// TestDocumentLinks requires the links of the user guides and the README to reach: an
// anchor of the same document, or a file of the repository (with its anchor, if any).
func TestDocumentLinks(t *testing.T) {
	for _, doc := range []string{"README.md", "docs/playbooks.md", "docs/testing.md"} {
		md, err := os.ReadFile(filepath.Join("..", "..", doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, link := range Links(string(md)) {
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(link, "#")
			target := doc
			if file != "" {
				target = filepath.ToSlash(filepath.Join(filepath.Dir(doc), file))
			}
			text, err := os.ReadFile(filepath.Join("..", "..", target))
			if err != nil {
				t.Errorf("%s: link %q: %v", doc, link, err)
				continue
			}
			if anchor != "" && !Anchors(string(text))[anchor] {
				t.Errorf("%s: link %q: %s has no heading with that anchor", doc, link, target)
			}
		}
	}
}

// FuzzParse: any text parses or fails with an error, never a panic, and every block's text
// is part of the input.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"```starlark x=1\nprint(1)\n```\n\n```text output\n1\n```\n", "```", "a\n```\n```text output\n```\n", "# h\n[a](#b)\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, md string) {
		blocks, err := Parse(md)
		if err != nil {
			return
		}
		for _, b := range blocks {
			if b.Line < 1 {
				t.Errorf("block at line %d", b.Line)
			}
		}
		Anchors(md)
		Links(md)
	})
}
