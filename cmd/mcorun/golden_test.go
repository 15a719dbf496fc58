package main

import (
	"context"
	"strings"
	"testing"

	"github.com/olekukonko/tablewriter/pkg/twwidth"

	"github.com/mcorun/mcorun/runtime/golden"
	"github.com/mcorun/mcorun/runtime/listing"
)

// Every verb's --help, and mcorun --help, as reviewed. Rewrite with
// go test ./cmd/mcorun -run TestHelpGolden -update.
func TestHelpGolden(t *testing.T) {
	e, out, _, _ := testEnv(t, nil, nil)
	if code := run(context.Background(), e, []string{"--help"}); code != exitOK {
		t.Fatalf("mcorun --help: exit %d", code)
	}
	golden.Check(t, "help/mcorun.txt", out.String())
	for _, c := range commandTable() {
		if c.hidden {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			e, out, errOut, _ := testEnv(t, nil, nil)
			if code := run(context.Background(), e, []string{c.name, "--help"}); code != exitOK {
				t.Fatalf("exit %d; stderr:\n%s", code, errOut)
			}
			golden.Check(t, "help/"+c.name+".txt", out.String())
		})
	}
}

// Tables are cut to the terminal's width, each cut cell marked, unless --wide.
func TestTablesFitTheTerminal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		width int
		args  []string
	}{
		{"plugin-doc-service.80", 80, nil},
		{"plugin-doc-service.wide", 80, []string{"--wide"}},
		{"plugin-doc-service.pipe", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, out, errOut, _ := testEnv(t, nil, nil)
			e.width = tc.width
			if code := run(context.Background(), e, append([]string{"plugin", "doc", "service"}, tc.args...)); code != exitOK {
				t.Fatalf("exit %d; stderr:\n%s", code, errOut)
			}
			cut := strings.Contains(out.String(), listing.Marker)
			if tc.width > 0 && len(tc.args) == 0 {
				if !cut {
					t.Errorf("nothing cut at width %d", tc.width)
				}
				for _, line := range strings.Split(out.String(), "\n") {
					if w := twwidth.Width(line); w > tc.width {
						t.Errorf("line %d wide, over %d: %q", w, tc.width, line)
					}
				}
			} else if cut {
				t.Errorf("a cell was cut with %v at width %d", tc.args, tc.width)
			}
			golden.Check(t, "table/"+tc.name+".txt", out.String())
		})
	}
}
