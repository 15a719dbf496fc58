package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeT records failures instead of failing the test that runs Check.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) Fatalf(string, ...any) { f.failed = true }
func (f *fakeT) Fatal(...any)          { f.failed = true }

func TestCheck(t *testing.T) {
	if Updating() {
		t.Skip("compares only")
	}
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.MkdirAll(filepath.Join("testdata", "golden"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "golden", "x"), []byte("same\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := &fakeT{TB: t}
	Check(ok, "x", "same\n")
	if ok.failed {
		t.Error("equal output failed")
	}
	bad := &fakeT{TB: t}
	Check(bad, "x", "other\n")
	if !bad.failed {
		t.Error("different output passed")
	}
	missing := &fakeT{TB: t}
	Check(missing, "nosuch", "x")
	if !missing.failed {
		t.Error("a missing golden file passed")
	}
}
