package listing

import (
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twwidth"
	"github.com/olekukonko/tablewriter/tw"
)

// Marker ends a cell that was cut to fit the width.
const Marker = "…"

// minCell is the narrowest a column is cut to: a character and the marker.
const minCell = 2

// minKept is the width a column must be able to keep for it to be shown at all, when not
// every column fits.
const minKept = 8

// Style is how Render draws a table.
type Style struct {
	// Fancy draws box-drawing borders (for a terminal); otherwise ASCII.
	Fancy bool
	// Width is the most columns a line may take; 0 means no limit (not a terminal, or
	// --wide).
	Width int
	// Verbatim prints the header as given; otherwise it is title-cased as tablewriter does
	// ("Max length" as MAX LENGTH). The REPL's tables head their columns with the data keys
	// code uses.
	Verbatim bool
}

// Render writes a table of rows under header. When it would be wider than st.Width, the
// widest columns are cut, each cut cell ending in Marker, until it fits (or every column
// is down to minCell).
func Render(w io.Writer, header []string, rows [][]string, st Style) error {
	titles := make([]string, len(header))
	for i, h := range header {
		titles[i] = h
		if !st.Verbatim {
			titles[i] = tw.Title(h) // as tablewriter would, but before the cut
		}
	}
	header, rows = Fit(titles, rows, st.Width)
	symbols := tw.StyleASCII
	if st.Fancy {
		symbols = tw.StyleLight
	}
	t := tablewriter.NewTable(w,
		tablewriter.WithSymbols(tw.NewSymbols(symbols)),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
	)
	h := make([]any, len(header))
	for i, s := range header {
		h[i] = s
	}
	t.Header(h...)
	for _, r := range rows {
		if err := t.Append(r); err != nil {
			return err
		}
	}
	return t.Render()
}

// Fit cuts the cells of a table so that it is at most width columns wide once drawn (a
// border and a space either side of every cell); width 0 leaves it as it is. Headers are
// cut like cells. Columns narrower than a fair share of the width stay whole (a node's
// name, a status), and the wide ones (a message) share what is left. When even columns of
// minCell do not fit, the rightmost columns are dropped and a last column of Marker says so.
func Fit(header []string, rows [][]string, width int) ([]string, [][]string) {
	n := len(header)
	if width <= 0 || n == 0 {
		return header, rows
	}
	widths := columnWidths(header, rows)
	total := 0
	for _, wd := range widths {
		total += wd
	}
	if total <= budget(width, n) {
		return header, rows
	}
	if keep := fitting(widths, width); keep < n {
		header = append(header[:keep:keep], Marker)
		cut := make([][]string, len(rows))
		for i, r := range rows {
			cut[i] = append(r[:min(keep, len(r)):min(keep, len(r))], Marker)
		}
		rows = cut
		widths = append(widths[:keep:keep], 1)
		n = keep + 1
	}
	shrink(widths, budget(width, n))
	return cutCells(header, widths), cutRows(rows, widths)
}

// budget is what is left for the cells of n columns in width: "| " before each cell, " "
// after, and the last "|".
func budget(width, n int) int { return width - (3*n + 1) }

// columnWidths is the widest line of each column, header included.
func columnWidths(header []string, rows [][]string) []int {
	widths := make([]int, len(header))
	measure := func(i int, s string) {
		for _, line := range strings.Split(s, "\n") {
			widths[i] = max(widths[i], twwidth.Width(line))
		}
	}
	for i, h := range header {
		measure(i, h)
	}
	for _, r := range rows {
		for i := 0; i < len(header) && i < len(r); i++ {
			measure(i, r[i])
		}
	}
	return widths
}

// fitting is how many of the leftmost columns fit in width at minKept each (or their own
// width when narrower), with a marker column after them when some are left out; at least
// one.
func fitting(widths []int, width int) int {
	need := 0
	for i, wd := range widths {
		need += min(wd, minKept)
		extra := 0
		if i < len(widths)-1 {
			extra = 1 // the marker column
		}
		if need+extra > budget(width, i+1+extra) {
			return max(i, 1)
		}
	}
	return len(widths)
}

// cutCells cuts each cell's lines to its column's width, ending a cut line in Marker.
func cutCells(cells []string, widths []int) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		if i >= len(widths) {
			out[i] = c
			continue
		}
		lines := strings.Split(c, "\n")
		for j, line := range lines {
			if twwidth.Width(line) > widths[i] {
				lines[j] = twwidth.Truncate(line, widths[i]-twwidth.Width(Marker)) + Marker
			}
		}
		out[i] = strings.Join(lines, "\n")
	}
	return out
}

func cutRows(rows [][]string, widths []int) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = cutCells(r, widths)
	}
	return out
}

// shrink lowers widths so that they add up to at most budget: every column at most as wide
// as its fair share is kept, and the others get equal shares of the rest (never below
// minCell).
func shrink(widths []int, budget int) {
	open := make([]int, 0, len(widths)) // the columns still to be cut
	for i := range widths {
		open = append(open, i)
	}
	left := budget
	for {
		share := left / max(len(open), 1)
		kept := open[:0:0]
		var still []int
		for _, i := range open {
			if widths[i] <= share {
				kept = append(kept, i)
				left -= widths[i]
			} else {
				still = append(still, i)
			}
		}
		open = still
		if len(kept) == 0 || len(open) == 0 {
			break
		}
	}
	if len(open) == 0 {
		return
	}
	share, extra := left/len(open), left%len(open)
	for k, i := range open {
		w := share
		if k < extra {
			w++
		}
		widths[i] = max(w, minCell)
	}
}
