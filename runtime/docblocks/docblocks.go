// Package docblocks reads the fenced code blocks of the user documents (docs/*.md), so that
// tests can run their examples, and replaces a generated section of a document.
//
// A block's info string is its language followed by attributes, space-separated:
//
//	```starlark file=lib.star arg=window=3 exit=1
//
// A word with "=" is a key and value (a key may repeat: Block.All), any other word a flag
// (Block.Has). A block of language "text" whose first attribute is "output", right after a
// code block or another output block (blank lines between are allowed), is an expected
// output of that code block.
package docblocks

import (
	"fmt"
	"strings"
	"unicode"
)

// Block is one fenced code block.
type Block struct {
	Lang    string
	Attrs   []string // the info string's words after the language, in order
	Line    int      // the line of the opening fence, from 1
	Text    string   // the block's lines, each ending in "\n"
	Outputs []Block  // the "text output" blocks that follow it
}

// Has reports whether the block has the flag attribute name.
func (b Block) Has(name string) bool {
	for _, a := range b.Attrs {
		if a == name {
			return true
		}
	}
	return false
}

// Get returns the value of the first key=value attribute with key name.
func (b Block) Get(name string) (string, bool) {
	all := b.All(name)
	if len(all) == 0 {
		return "", false
	}
	return all[0], true
}

// All returns the values of every key=value attribute with key name.
func (b Block) All(name string) []string {
	var out []string
	for _, a := range b.Attrs {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			out = append(out, v)
		}
	}
	return out
}

// Parse returns the fenced blocks of a Markdown document, output blocks attached to the
// block before them rather than listed. An unclosed fence is an error naming its line.
func Parse(md string) ([]Block, error) {
	var blocks []Block
	lines := strings.SplitAfter(md, "\n")
	lastEnd := -1 // the line index after the last block's closing fence
	for i := 0; i < len(lines); i++ {
		info, ok := strings.CutPrefix(strings.TrimRight(lines[i], "\r\n"), "```")
		if !ok {
			continue
		}
		words := strings.Fields(info)
		b := Block{Line: i + 1}
		if len(words) > 0 {
			b.Lang, b.Attrs = words[0], words[1:]
		}
		var text strings.Builder
		closed := false
		start := i
		for i++; i < len(lines); i++ {
			if strings.TrimRight(lines[i], "\r\n") == "```" {
				closed = true
				break
			}
			text.WriteString(strings.TrimRight(lines[i], "\r\n") + "\n")
		}
		if !closed {
			return nil, fmt.Errorf("line %d: code block never closed", b.Line)
		}
		b.Text = text.String()
		if b.Lang == "text" && b.Has("output") && len(blocks) > 0 && blank(lines[lastEnd:start]) {
			last := &blocks[len(blocks)-1]
			last.Outputs = append(last.Outputs, b)
		} else {
			blocks = append(blocks, b)
		}
		lastEnd = i + 1
	}
	return blocks, nil
}

func blank(lines []string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			return false
		}
	}
	return true
}

// Splice replaces what lies between the lines begin and end of a document (both kept) with
// content, and fails when either marker is missing or they are out of order.
func Splice(doc, begin, end, content string) (string, error) {
	i := strings.Index(doc, begin+"\n")
	j := strings.Index(doc, end+"\n")
	if i < 0 || j < 0 || j < i {
		return "", fmt.Errorf("want the lines %q and %q, in that order", begin, end)
	}
	i += len(begin) + 1
	if content != "" && !strings.HasSuffix(content, "\n") {
		content += "\n"
	}
	return doc[:i] + content + doc[j:], nil
}

// Section returns what lies between the lines begin and end of a document.
func Section(doc, begin, end string) (string, error) {
	i := strings.Index(doc, begin+"\n")
	j := strings.Index(doc, end+"\n")
	if i < 0 || j < 0 || j < i {
		return "", fmt.Errorf("want the lines %q and %q, in that order", begin, end)
	}
	return doc[i+len(begin)+1 : j], nil
}

// Anchors returns the anchors GitHub gives a document's headings (outside code blocks):
// lowercased, punctuation other than "-" and "_" dropped, spaces turned into "-", and a
// repeated anchor suffixed "-1", "-2", ...
func Anchors(md string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	inCode := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
			continue
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors
}

// Links returns the targets of a document's Markdown links, [text](target), outside code
// blocks.
func Links(md string) []string {
	var links []string
	inCode := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
			continue
		}
		if inCode {
			continue
		}
		for rest := line; ; {
			i := strings.Index(rest, "](")
			if i < 0 {
				break
			}
			rest = rest[i+2:]
			j := strings.IndexByte(rest, ')')
			if j < 0 {
				break
			}
			links = append(links, rest[:j])
			rest = rest[j+1:]
		}
	}
	return links
}
