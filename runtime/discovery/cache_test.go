package discovery

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/message"
)

func TestCache(t *testing.T) {
	dir := t.TempDir()
	c := Cache{Dir: filepath.Join(dir, "d"), Scope: "127.0.0.1:61613"}
	web := message.Filter{CFClass: []string{"web"}}
	if _, _, ok := c.Load("mcollective", web); ok {
		t.Fatal("an empty cache has an entry")
	}
	at := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	if err := c.Store("mcollective", web, []string{"b", "a"}, at); err != nil {
		t.Fatal(err)
	}
	nodes, got, ok := c.Load("mcollective", web)
	if !ok || !slices.Equal(nodes, []string{"a", "b"}) || !got.Equal(at) {
		t.Fatalf("Load = %v %v %v", nodes, got, ok)
	}
	for name, other := range map[string]func() bool{
		"another collective": func() bool { _, _, ok := c.Load("sub", web); return ok },
		"another filter":     func() bool { _, _, ok := c.Load("mcollective", message.Filter{}); return ok },
		"another broker": func() bool {
			_, _, ok := Cache{Dir: c.Dir, Scope: "10.0.0.1:61613"}.Load("mcollective", web)
			return ok
		},
	} {
		if other() {
			t.Errorf("%s reads the entry", name)
		}
	}
	if err := c.Store("mcollective", web, nil, at); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := c.Load("mcollective", web); ok {
		t.Fatal("an empty result left its entry")
	}
	// A damaged file is no entry.
	k, _ := c.key("mcollective", web)
	if err := os.WriteFile(filepath.Join(c.Dir, k+".json"), []byte("{nodes"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := c.Load("mcollective", web); ok {
		t.Fatal("a damaged file gave an entry")
	}
	if (Cache{}).Store("x", web, []string{"a"}, at) != nil {
		t.Fatal("a cache without a directory refused to store")
	}
}

func TestDefaultCacheDir(t *testing.T) {
	for _, tc := range []struct{ xdg, home, want string }{
		{"/c", "/h", "/c/mcorun/discovery"},
		{"rel", "/h", "/h/.cache/mcorun/discovery"},
		{"", "", ""},
	} {
		if got := DefaultCacheDir(tc.xdg, tc.home); got != tc.want {
			t.Errorf("DefaultCacheDir(%q, %q) = %q, want %q", tc.xdg, tc.home, got, tc.want)
		}
	}
}

func FuzzParseCacheEntry(f *testing.F) {
	f.Add([]byte(`{"key":"k","at":"2026-12-06T21:00:00Z","nodes":["a","b"]}`), "k")
	f.Add([]byte(`{"nodes":null}`), "")
	f.Fuzz(func(t *testing.T, b []byte, key string) {
		e, ok := parseCacheEntry(b, key)
		if ok && (e.Key != key || len(e.Nodes) == 0 || !slices.IsSorted(e.Nodes)) {
			t.Fatalf("parseCacheEntry accepted %+v for key %q", e, key)
		}
	})
}

// Storing a new filter removes the entries not written for CacheMaxAge; a filter stored
// again keeps its file fresh.
func TestCachePrunesOldEntries(t *testing.T) {
	c := Cache{Dir: t.TempDir(), Scope: "127.0.0.1:61613"}
	now := time.Now()
	old := message.Filter{CFClass: []string{"old"}}
	kept := message.Filter{CFClass: []string{"kept"}}
	for _, f := range []message.Filter{old, kept} {
		if err := c.Store("mcollective", f, []string{"a"}, now); err != nil {
			t.Fatal(err)
		}
	}
	k, _ := c.key("mcollective", old)
	stale := now.Add(-CacheMaxAge - time.Hour)
	leftover := filepath.Join(c.Dir, k+".123.tmp")
	if err := os.WriteFile(leftover, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(c.Dir, k+".json"), leftover} {
		if err := os.Chtimes(p, stale, stale); err != nil {
			t.Fatal(err)
		}
	}
	// Storing a known filter again does not scan the directory.
	if err := c.Store("mcollective", kept, []string{"a"}, now); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := c.Load("mcollective", old); !ok {
		t.Fatal("storing a known filter pruned")
	}
	if err := c.Store("mcollective", message.Filter{CFClass: []string{"new"}}, []string{"a"}, now); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := c.Load("mcollective", old); ok {
		t.Fatal("an entry not written for CacheMaxAge survived a new filter's store")
	}
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a stale temporary file survived: %v", err)
	}
	if _, _, ok := c.Load("mcollective", kept); !ok {
		t.Fatal("a fresh entry was pruned")
	}
}
