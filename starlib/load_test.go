package starlib

import (
	"strings"
	"testing"
)

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"cycle", `load("testdata/lib/cycle_a.star", "a")`, "cycle in load graph"},
		{"self", `load("inline.star", "x")`, "cycle in load graph"},
		{"missing file", `load("testdata/lib/nope.star", "x")`, "nope.star: no such file"},
		{"unknown repo", `load("@other//x.star", "x")`, `unknown repository in "@other//x.star"`},
		{"missing stdlib", `load("@mcorun//nope.star", "x")`, "no standard module @mcorun//nope.star"},
		{"bad stdlib name", `load("@mcorun//../x.star", "x")`, `bad standard module name`},
		{"broken module", `load("testdata/lib/broken.star", "x")`, "undefined: undefined_name"},
		{"missing name", `load("testdata/lib/sub/deep.star", "nope")`, "load: name nope not found in module"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			thread, f, l := newTestThread(t)
			err := runSrc(t, thread, tt.src+"\n", f, l)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestRunReadsFile(t *testing.T) {
	thread, _, _ := newTestThread(t)
	globals, err := Run(thread, "testdata/lib/helpers.star", nil, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := globals["greeting"].String(); got != `"hello from deep"` {
		t.Errorf("greeting = %s", got)
	}
	if _, err := Run(thread, "testdata/nope.star", nil, RunOptions{}); err == nil {
		t.Error("Run of a missing file did not fail")
	}
}

func TestStdlibListed(t *testing.T) {
	b, err := Stdlib().Open("fleet.star")
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
}

func TestTableLayout(t *testing.T) {
	thread, f, l := newTestThread(t)
	f.Fail("web2")
	globals, err := Run(thread, "inline.star", `rs = rpc("rpcutil", "get_fact", {"fact": "os"}, filter="role=web")`,
		testOptions(t, f, l))
	if err != nil {
		t.Fatal(err)
	}
	out, ok := Table(globals["rs"])
	if !ok {
		t.Fatal("Table(ResultSet) = false")
	}
	t.Logf("\n%s", out)
	for _, want := range []string{"│ fact", "│ value", "web1", "Debian", "1: failed on purpose"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
}
