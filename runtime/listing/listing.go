// Package listing prints the lists mcorun's verbs produce (nodes, replies, a node's
// inventory) in the format --format names: the verb's human layout ("table"), one JSON
// document ("json", what --json prints), one JSON object per row ("jsonl"), CSV with a
// header ("csv") or YAML ("yaml", the JSON document as YAML). It also renders text tables
// that fit a terminal's width (Render).
package listing

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Format is an output format.
type Format string

// The formats --format accepts.
const (
	Table Format = "table"
	JSON  Format = "json"
	JSONL Format = "jsonl"
	CSV   Format = "csv"
	YAML  Format = "yaml"
)

// Formats lists every format, the default first.
func Formats() []Format { return []Format{Table, JSON, JSONL, CSV, YAML} }

// Names is the list of formats as --help and errors show it: "table|json|jsonl|csv|yaml".
func Names() string {
	names := make([]string, len(Formats()))
	for i, f := range Formats() {
		names[i] = string(f)
	}
	return strings.Join(names, "|")
}

// Parse returns the format s names; "" is Table.
func Parse(s string) (Format, error) {
	if s == "" {
		return Table, nil
	}
	for _, f := range Formats() {
		if string(f) == strings.ToLower(s) {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q: want one of %s", s, Names())
}

// Machine reports whether f is for programs rather than people: anything but Table.
func (f Format) Machine() bool { return f != Table }

// List is what a verb prints: rows under named columns (for jsonl, csv and the generic
// table) and one document (for json and yaml). A cell is a string, a number, a bool, nil,
// or a value of value.JSON's types (maps, lists), which csv cells hold as JSON.
type List struct {
	Columns []string
	Rows    [][]any
	Doc     any
}

// Write prints l in format f. Table renders the rows with Render and no width limit; verbs
// with a layout of their own print it instead of calling Write with Table.
func Write(w io.Writer, f Format, l List) error {
	switch f {
	case JSON:
		return writeJSON(w, l.Doc)
	case YAML:
		return writeYAML(w, l.Doc)
	case JSONL:
		return writeJSONL(w, l)
	case CSV:
		return writeCSV(w, l)
	case Table:
		rows := make([][]string, len(l.Rows))
		for i, r := range l.Rows {
			rows[i] = make([]string, len(r))
			for j, c := range r {
				rows[i][j] = cellText(c)
			}
		}
		return Render(w, l.Columns, rows, Style{})
	}
	return fmt.Errorf("unknown format %q: want one of %s", f, Names())
}

// writeJSON writes v as one indented JSON document, with <, > and & as they are.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// marshal encodes one value as compact JSON, with <, > and & as they are.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// writeJSONL writes one JSON object a row, its keys in column order.
func writeJSONL(w io.Writer, l List) error {
	var b bytes.Buffer
	for _, r := range l.Rows {
		b.WriteByte('{')
		for i, col := range l.Columns {
			if i > 0 {
				b.WriteByte(',')
			}
			k, err := marshal(col)
			if err != nil {
				return err
			}
			var cell any
			if i < len(r) {
				cell = r[i]
			}
			v, err := marshal(cell)
			if err != nil {
				return fmt.Errorf("column %s: %w", col, err)
			}
			b.Write(k)
			b.WriteByte(':')
			b.Write(v)
		}
		b.WriteString("}\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

// writeCSV writes the columns as a header line, then the rows.
func writeCSV(w io.Writer, l List) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(l.Columns); err != nil {
		return err
	}
	for _, r := range l.Rows {
		rec := make([]string, len(l.Columns))
		for i := range rec {
			if i < len(r) {
				rec[i] = cellText(r[i])
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// cellText is a cell as text: strings as they are, nil as nothing, anything else as JSON.
func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	b, err := marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// writeYAML writes the JSON document as YAML: the same keys in the same order, in block
// style.
func writeYAML(w io.Writer, v any) error {
	b, err := marshal(v)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	blockStyle(&doc)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	return enc.Close()
}

// blockStyle clears the flow style JSON parses into, keeping quotes where a string needs
// them.
func blockStyle(n *yaml.Node) {
	n.Style &^= yaml.FlowStyle
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		n.Style = 0
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}
