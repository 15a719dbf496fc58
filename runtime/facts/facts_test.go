package facts

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestParseYAMLNormalizes(t *testing.T) {
	got, err := ParseYAML([]byte("role: web\nport: 80\nratio: 1.0\nok: true\nnone:\nlist: [1, a]\nnested:\n  a: 1\n  2: b\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"role": "web", "port": "80", "ratio": "1.0", "ok": "true", "none": "",
		"list":   []any{"1", "a"},
		"nested": map[string]any{"a": "1", "2": "b"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}

func TestParseYAMLErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not a mapping": "- a\n- b\n",
		"bad yaml":      "a: [\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseYAML([]byte(in), "x.yaml"); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func TestSourceMergesAndReloads(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	write(t, a, "role: web\nrack: r1\n")
	write(t, b, "rack: r2\n")
	s := NewSource(a, b)
	if v, _ := s.Fact("rack"); v != "r2" {
		t.Fatalf("rack = %v, want r2 (later file wins)", v)
	}
	write(t, a, "role: db\n")
	bump(t, a)
	if v, _ := s.Fact("role"); v != "db" {
		t.Fatalf("role = %v after rewrite, want db", v)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	write(t, a, "a: [\n")
	bump(t, a)
	if v, _ := s.Fact("rack"); v != "r2" {
		t.Fatalf("rack = %v with a broken file, want r2 from the good one", v)
	}
	if s.Err() == nil {
		t.Fatal("want the broken file reported")
	}
}

func TestClasses(t *testing.T) {
	p := filepath.Join(t.TempDir(), "classes.txt")
	c := NewClasses(p)
	if got := c.List(); got != nil {
		t.Fatalf("missing file: got %v", got)
	}
	write(t, p, "base\n\nweb::nginx\n")
	if got := c.List(); !reflect.DeepEqual(got, []string{"base", "web::nginx"}) {
		t.Fatalf("got %v", got)
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

var bumps int

// bump moves a file's mtime forward so the change is seen even within the clock's resolution.
func bump(t *testing.T, p string) {
	t.Helper()
	bumps++
	future := time.Now().Add(time.Duration(bumps) * time.Second)
	if err := os.Chtimes(p, future, future); err != nil {
		t.Fatal(err)
	}
}
