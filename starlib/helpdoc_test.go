package starlib

import (
	"os"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/docblocks"
)

// TestGuideReferenceUpToDate requires the reference section of docs/playbooks.md to be
// HelpMarkdown's text, so the guide, help() and doc.go share one table.
func TestGuideReferenceUpToDate(t *testing.T) {
	doc, err := os.ReadFile("../docs/playbooks.md")
	if err != nil {
		t.Fatal(err)
	}
	got, err := docblocks.Section(string(doc), ReferenceBegin, ReferenceEnd)
	if err != nil {
		t.Fatalf("docs/playbooks.md: %v", err)
	}
	if got != HelpMarkdown() {
		t.Errorf("docs/playbooks.md's reference differs from starlib/help.go: run go generate ./starlib")
	}
}

func TestHelpMarkdown(t *testing.T) {
	md := HelpMarkdown()
	for _, want := range []string{
		"### Builtins and modules\n\n- `discover(filter=None, *, timeout=\"2s\"",
		"- `param.size(default)`  \n  A count N",
		"\n### NodeSet\n\nSorted, deduplicated identities",
		"- `.sample(n, seed=None)`  \n  n identities chosen at random",
		"\n### RollingReport\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("reference lacks %q", want)
		}
	}
	if strings.Contains(md, "- `.sample(n, seed=None)`  \n  n identities chosen at random; repeatable with a seed.\n- `discover") {
		t.Error("value type attributes listed among the builtins")
	}
}
