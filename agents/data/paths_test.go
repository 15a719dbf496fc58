package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPaths(t *testing.T) {
	for _, bad := range []string{"etc/motd", "/etc/[", "/srv/**, relative/**"} {
		if _, err := ParsePaths(bad); err == nil {
			t.Errorf("ParsePaths(%q) accepted", bad)
		}
	}
	if p, err := ParsePaths(" , "); err != nil || p != nil {
		t.Errorf("an empty list: %v, %v; want nil (every path)", p, err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(dir, "app", "etc")); err != nil {
		t.Fatal(err)
	}
	p, err := ParsePaths("/etc/*.conf, " + dir + "/app/**")
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{
		"/etc/resolv.conf":           true,
		"/etc/sub/x.conf":            false,
		"/etc/shadow":                false,
		"/etc/../etc/resolv.conf":    true,
		"etc/resolv.conf":            false,
		dir + "/app":                 true,
		dir + "/app/new/deeper/file": true,
		dir + "/application":         false,
		dir + "/app/../secret":       false,
		dir + "/app/etc/shadow":      false, // through the symlink
		dir + "/app/etc/missing/x":   false,
	} {
		if got := p.Allows(path); got != want {
			t.Errorf("Allows(%q) = %t, want %t", path, got, want)
		}
	}
	if !Paths(nil).Allows("relative") {
		t.Error("nil Paths refused a path")
	}
	_, err = FstatWithin(p).Query(t.Context(), "/etc/shadow")
	if err == nil || strings.Contains(err.Error(), "shadow") {
		t.Errorf("a refused query: %v; want an error that does not name the path", err)
	}
}
