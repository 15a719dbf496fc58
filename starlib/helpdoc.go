package starlib

import (
	"fmt"
	"strings"
)

//go:generate go run ./gendoc ../docs/playbooks.md

// The lines between which docs/playbooks.md holds HelpMarkdown's text.
const (
	ReferenceBegin = "<!-- BEGIN REFERENCE: generated from starlib/help.go by `go generate ./starlib`; do not edit -->"
	ReferenceEnd   = "<!-- END REFERENCE -->"
)

// HelpMarkdown renders HelpEntries as the reference section of docs/playbooks.md: the
// builtins and modules with their signatures and text, then each value type with its
// attributes. A test keeps the document up to date.
func HelpMarkdown() string {
	var b strings.Builder
	b.WriteString("### Builtins and modules\n\n")
	var types []HelpEntry
	for _, e := range HelpEntries() {
		if isTypeEntry(e) {
			types = append(types, e)
			continue
		}
		if typ, _, ok := strings.Cut(e.Name, "."); ok && isTypeName(typ) {
			continue
		}
		fmt.Fprintf(&b, "- `%s`  \n  %s\n", e.Signature, e.Text)
	}
	for _, t := range types {
		fmt.Fprintf(&b, "\n### %s\n\n%s\n\n", t.Name, t.Text)
		for _, e := range HelpEntries() {
			if strings.HasPrefix(e.Name, t.Name+".") {
				fmt.Fprintf(&b, "- `%s`  \n  %s\n", e.Signature, e.Text)
			}
		}
	}
	return b.String()
}

// isTypeEntry reports whether a help entry is a value type's ("NodeSet").
func isTypeEntry(e HelpEntry) bool { return e.Name == e.Signature && isTypeName(e.Name) }

func isTypeName(s string) bool { return s != "" && s[0] >= 'A' && s[0] <= 'Z' }
