package starlib

import (
	"testing"

	"github.com/mcorun/mcorun/runtime/golden"
)

// The REPL's tables, whole and cut to a narrow terminal. Rewrite with
// go test ./starlib -run TestTableGolden -update.
func TestTableGolden(t *testing.T) {
	thread, f, l := newTestThread(t)
	f.Fail("web2")
	f.Silence("web3")
	globals, err := Run(thread, "inline.star", `
rs = rpc("rpcutil", "inventory", filter="role=web")
web = discover("role=web")
rr = rolling(web, lambda b: None, window = 2)
`, testOptions(t, f, l))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, global string
		width        int
	}{
		{"resultset.wide", "rs", 0},
		{"resultset.72", "rs", 72},
		{"nodeset", "web", 0},
		{"rolling.40", "rr", 40},
	} {
		out, ok := TableWidth(globals[tc.global], tc.width)
		if !ok {
			t.Fatalf("%s has no table", tc.global)
		}
		golden.Check(t, "table/"+tc.name+".txt", out)
	}
}
