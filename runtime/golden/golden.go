// Package golden compares test output with golden files, and rewrites them when the tests
// run with -update:
//
//	go test ./cmd/mcorun -run Golden -update
//
// A golden file is the output a person reviewed: every change to one shows in the commit
// that makes it.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// flagName is the test flag that rewrites the golden files instead of comparing.
const flagName = "update"

func init() {
	// Registered here, once for every test binary that imports the package.
	flag.Bool(flagName, false, "rewrite the golden files under testdata/golden instead of comparing with them")
}

// Updating reports whether the test binary runs with -update.
func Updating() bool {
	f := flag.Lookup(flagName)
	if f == nil {
		return false
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return false
	}
	on, _ := g.Get().(bool)
	return on
}

// Check compares got with the file testdata/golden/name, or writes got there under -update.
func Check(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if Updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v; run the test with -update to create it", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run the test with -update to accept it, and review the diff):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
