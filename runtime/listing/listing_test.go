package listing

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/olekukonko/tablewriter/pkg/twwidth"
	"go.yaml.in/yaml/v3"

	goldenfile "github.com/mcorun/mcorun/runtime/golden"
)

func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, name, got)
}

func sample() List {
	return List{
		Columns: []string{"sender", "outcome", "elapsed_ms", "value"},
		Rows: [][]any{
			{"web1", "ok", 1.5, "a,b \"quoted\""},
			{"db1", "failed", 20.25, map[string]any{"x": []any{int64(1), true}}},
			{"lb1", "missing", nil, nil},
		},
		Doc: map[string]any{"nodes": []any{"web1", "db1"}, "count": 2, "note": "yes: <no>"},
	}
}

func TestWriteFormats(t *testing.T) {
	for _, f := range Formats() {
		var b bytes.Buffer
		if err := Write(&b, f, sample()); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		golden(t, "sample."+string(f), b.String())
	}
}

// The machine formats parse back to what was written.
func TestMachineFormatsParse(t *testing.T) {
	l := sample()
	var b bytes.Buffer
	if err := Write(&b, JSONL, l); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != len(l.Rows) {
		t.Fatalf("jsonl: %d lines for %d rows", len(lines), len(l.Rows))
	}
	var row map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &row); err != nil {
		t.Fatal(err)
	}
	if row["sender"] != "db1" || row["elapsed_ms"] != 20.25 || row["value"].(map[string]any)["x"].([]any)[1] != true {
		t.Errorf("jsonl row 2 = %v", row)
	}
	b.Reset()
	if err := Write(&b, CSV, l); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || recs[0][3] != "value" || recs[1][3] != `a,b "quoted"` || recs[2][3] != `{"x":[1,true]}` || recs[3][2] != "" {
		t.Errorf("csv = %q", recs)
	}
	b.Reset()
	if err := Write(&b, YAML, l); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["count"] != 2 || doc["note"] != "yes: <no>" || len(doc["nodes"].([]any)) != 2 {
		t.Errorf("yaml = %v", doc)
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Format{"": Table, "table": Table, "JSON": JSON, "jsonl": JSONL, "csv": CSV, "yaml": YAML} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := Parse("xml")
	if err == nil || !strings.Contains(err.Error(), "table|json|jsonl|csv|yaml") {
		t.Errorf("Parse(xml) error = %v; want the list of formats", err)
	}
}

func wideRows() ([]string, [][]string) {
	return []string{"Node", "Status", "Message"}, [][]string{
		{"web01.dc1.example.net", "ok", "Puppet ran in 12.5 seconds and changed 3 resources out of 411"},
		{"db1", "4: Request Aborted", "lock file present\nsince 10:00"},
		{"lb1", "ok", "done"},
	}
}

func TestRenderFitsWidth(t *testing.T) {
	header, rows := wideRows()
	for _, width := range []int{30, 40, 60, 80} {
		var b bytes.Buffer
		if err := Render(&b, header, rows, Style{Width: width}); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
			if w := twwidth.Width(line); w > width {
				t.Errorf("width %d: line is %d wide: %q", width, w, line)
			}
		}
		if !strings.Contains(b.String(), Marker) {
			t.Errorf("width %d: no cell marked as cut:\n%s", width, b.String())
		}
		if width == 80 {
			golden(t, "table.80", b.String())
			// The short columns stay whole; the long message is cut.
			if !strings.Contains(b.String(), "web01.dc1.example.net") || !strings.Contains(b.String(), "4: Request Aborted") {
				t.Errorf("width 80 cut a short column:\n%s", b.String())
			}
		}
	}
}

// A table with more columns than fit even when cut drops its rightmost ones, and says so.
func TestRenderDropsColumns(t *testing.T) {
	header := []string{"node", "a", "b", "c", "d", "e", "f", "g", "h", "i"}
	row := []string{"web01.example.net", "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota"}
	var b bytes.Buffer
	if err := Render(&b, header, [][]string{row}, Style{Width: 30, Verbatim: true}); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		if w := twwidth.Width(line); w > 30 {
			t.Errorf("line is %d wide: %q", w, line)
		}
	}
	if !strings.Contains(b.String(), "| "+Marker+" |") || strings.Contains(b.String(), "iota") {
		t.Errorf("no marker column, or the last column kept:\n%s", b.String())
	}
	golden(t, "table.dropped.30", b.String())
}

func TestRenderWide(t *testing.T) {
	header, rows := wideRows()
	var b bytes.Buffer
	if err := Render(&b, header, rows, Style{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), Marker) || !strings.Contains(b.String(), "changed 3 resources out of 411") {
		t.Errorf("width 0 cut a cell:\n%s", b.String())
	}
	golden(t, "table.wide", b.String())
	var f bytes.Buffer
	if err := Render(&f, header, rows, Style{Fancy: true, Width: 50}); err != nil {
		t.Fatal(err)
	}
	golden(t, "table.fancy.50", f.String())
}
