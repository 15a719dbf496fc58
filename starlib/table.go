package starlib

import (
	"fmt"
	"sort"
	"strings"

	"go.starlark.net/starlark"

	"github.com/mcorun/mcorun/runtime/listing"
	"github.com/mcorun/mcorun/runtime/plural"
)

// Table renders a NodeSet, ResultSet or RollingReport as a text table with box-drawing
// borders, as the REPL prints them; see TableWidth. It reports false for other values, which
// print as their repr.
func Table(v starlark.Value) (string, bool) { return TableWidth(v, 0) }

// TableWidth is Table cut to width columns (0: no limit), each cut cell ending in
// listing.Marker. A ResultSet's columns are headed by the data keys code reads
// (r["disable_message"], rs.values("disable_message")), not the DDL's display names.
func TableWidth(v starlark.Value, width int) (string, bool) {
	var header []string
	var rows [][]string
	var footer string
	switch x := v.(type) {
	case *NodeSet:
		header = []string{"NODE"}
		for _, id := range x.ids {
			rows = append(rows, []string{id})
		}
		footer = plural.Count(x.Len(), "node", "nodes")
	case *ResultSet:
		header, rows = resultRows(x)
		footer = fmt.Sprintf("%s.%s: %d ok, %d failed, %d missing", x.res.Agent, x.res.Action,
			len(x.res.OK), len(x.res.Failed), len(x.res.Missing))
		if x.dryRun {
			footer = fmt.Sprintf("%s.%s: dry run, %d would run", x.res.Agent, x.res.Action, len(x.res.OK))
		}
	case *RollingReport:
		header = []string{"BATCH", "KIND", "NODES", "DONE", "FAILED", "MISSING", "GATE"}
		for _, b := range x.Batches {
			gate := "-"
			if b.Gate != nil {
				gate = fmt.Sprint(*b.Gate)
			}
			rows = append(rows, []string{fmt.Sprint(b.Index), b.Kind, fmt.Sprint(b.Nodes.Len()),
				fmt.Sprint(b.Done.Len()), fmt.Sprint(b.Failed.Len()), fmt.Sprint(b.Missing.Len()), gate})
		}
		footer = strings.TrimSuffix(strings.TrimPrefix(x.String(), "RollingReport("), ")")
	default:
		return "", false
	}
	var b strings.Builder
	if err := listing.Render(&b, header, rows, listing.Style{Fancy: true, Width: width, Verbatim: true}); err != nil {
		return "", false
	}
	b.WriteString(footer)
	b.WriteByte('\n')
	return b.String(), true
}

// resultRows lays out a ResultSet: one row per reply and per missing node, with a column per
// output, headed by its key.
func resultRows(rs *ResultSet) ([]string, [][]string) {
	fields := map[string]bool{}
	for _, r := range rs.all {
		for _, k := range r.data.Keys() {
			if s, ok := k.(starlark.String); ok {
				fields[string(s)] = true
			}
		}
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	header := append([]string{"NODE", "STATUS"}, names...)
	var rows [][]string
	for _, r := range rs.all {
		status := "ok"
		if rs.dryRun {
			status = "would run"
		} else if !r.r.OK() {
			status = fmt.Sprintf("%d: %s", r.r.Code, r.r.Message)
		}
		row := []string{r.r.Sender, status}
		for _, n := range names {
			v, ok := r.field(n)
			cell := ""
			if ok && v != starlark.None {
				if s, isStr := starlark.AsString(v); isStr {
					cell = s
				} else {
					cell = v.String()
				}
			}
			row = append(row, cell)
		}
		rows = append(rows, row)
	}
	for _, id := range rs.res.Missing {
		row := []string{id, "no reply"}
		for range names {
			row = append(row, "")
		}
		rows = append(rows, row)
	}
	return header, rows
}
