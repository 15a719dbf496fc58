// Command gendoc writes the reference section of docs/playbooks.md from starlib's help
// table: go generate ./starlib.
package main

import (
	"fmt"
	"os"

	"github.com/mcorun/mcorun/runtime/docblocks"
	"github.com/mcorun/mcorun/starlib"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendoc docs/playbooks.md")
		os.Exit(2)
	}
	path := os.Args[1]
	doc, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
	out, err := docblocks.Splice(string(doc), starlib.ReferenceBegin, starlib.ReferenceEnd, starlib.HelpMarkdown())
	if err != nil {
		fmt.Fprintf(os.Stderr, "gendoc: %s: %v\n", path, err)
		os.Exit(1)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
}
