package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFirstDiscoveryAndCache runs `find` with the default rule against real nodes: the first
// discovery of a filter waits the whole --dt, as mco does; the next one, in the same HOME,
// expects the nodes the first found and ends once they all answered.
func TestFirstDiscoveryAndCache(t *testing.T) {
	f := startFleet(t)
	cfg := filepath.Join(t.TempDir(), "client.cfg")
	writeFile(t, cfg, f.common()+"identity = mcorun-first-client\n")
	home := t.TempDir()
	const dt = 1500 * time.Millisecond
	find := func() (string, string, time.Duration) {
		t.Helper()
		start := time.Now()
		out, errOut, code := mcorunHome(t, home, "find", "--config", cfg, "--dt", "1.5", "-v")
		took := time.Since(start)
		if code != exitOK {
			t.Fatalf("find: exit %d\n%s", code, errOut)
		}
		if got := strings.Fields(out); len(got) != len(fleetNodes) {
			t.Fatalf("find found %v, want the %d nodes", got, len(fleetNodes))
		}
		return out, errOut, took
	}
	_, errOut, took := find()
	if took < dt || !strings.Contains(errOut, "waiting the whole discovery timeout") {
		t.Fatalf("first find took %v, want at least --dt %v, saying so:\n%s", took, dt, errOut)
	}
	entries, err := os.ReadDir(filepath.Join(home, ".cache", "mcorun", "discovery"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("discovery cache after the first find: %v %v", entries, err)
	}
	_, errOut, took = find()
	if took >= dt || !strings.Contains(errOut, "expects the nodes of the previous discovery of this filter") {
		t.Fatalf("second find took %v, want less than --dt %v with the cache:\n%s", took, dt, errOut)
	}
	t.Logf("second find: %v", took)

	bad := filepath.Join(t.TempDir(), "bad.cfg")
	writeFile(t, bad, f.common()+"identity = mcorun-first-client\nplugin.mcorun.discovery_first = fast\n")
	_, errOut, code := mcorunHome(t, home, "find", "--config", bad)
	if code == exitOK || !strings.Contains(errOut, "plugin.mcorun.discovery_first") || !strings.Contains(errOut, `"quiet"`) {
		t.Fatalf("a bad discovery_first: exit %d\n%s", code, errOut)
	}
}
