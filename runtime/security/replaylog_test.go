package security

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEd25519ReplayAfterRestart checks that a node keeping its replay cache in a directory
// refuses, after a restart, a request it accepted before: the ids are loaded again until
// they expire, and only the live ones are kept when the log is compacted.
func TestEd25519ReplayAfterRestart(t *testing.T) {
	s := newEdStore(t)
	s.key(t, "alice", "clients")
	s.key(t, "web1")
	cl := s.provider(t, "alice", testNow, nil)
	dir := filepath.Join(t.TempDir(), "replay")
	start := func(at time.Time) *Ed25519 {
		t.Helper()
		node := s.provider(t, "web1", at, nil)
		if err := node.PersistReplays(dir); err != nil {
			t.Fatal(err)
		}
		return node
	}
	req := testRequest(t, cl.CallerID())
	if err := cl.SignRequest(req); err != nil {
		t.Fatal(err)
	}
	node := start(testNow)
	if err := node.VerifyRequest(wire(t, req)); err != nil {
		t.Fatal(err)
	}
	if err := s.provider(t, "web1", testNow, nil).PersistReplays(dir); err == nil || !strings.Contains(err.Error(), "plugin.mcod.state_dir") {
		t.Errorf("a second node on the same directory: %v; want a refusal naming plugin.mcod.state_dir", err)
	}
	if err := node.Close(); err != nil {
		t.Fatal(err)
	}
	// Restarted within the request's validity: the captured request is still refused.
	node = start(testNow.Add(30 * time.Second))
	if err := node.VerifyRequest(wire(t, req)); !errors.Is(err, ErrReplay) {
		t.Fatalf("the same request after a restart = %v; want ErrReplay", err)
	}
	node.Close()
	// Restarted after it expired: the id is dropped from the log, and the request is
	// refused as expired.
	node = start(testNow.Add(91 * time.Second))
	if n := node.replay.len(); n != 0 {
		t.Errorf("%d ids loaded after they expired; want 0", n)
	}
	if err := node.VerifyRequest(wire(t, req)); !errors.Is(err, ErrExpired) {
		t.Fatalf("the same request after its expiry = %v; want ErrExpired", err)
	}
	node.Close()
	if b, err := os.ReadFile(filepath.Join(dir, replayLogName)); err != nil || len(b) != 0 {
		t.Errorf("log after compaction: %q, %v; want empty", b, err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("replay dir: %v, %v; want mode 0700", fi, err)
	}
}

// TestReplayLogCompactsAndSurvivesTornLines checks the log's file: a torn or foreign line is
// skipped, the file is compacted when it holds twice the live ids, and an id the log cannot
// record is refused.
func TestReplayLogCompactsAndSurvivesTornLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, replayLogName)
	live := fmt.Sprintf("%d %x\n", int64(2000), "kept")
	if err := os.WriteFile(path, []byte("garbage\n100 6f6c64\n"+live+"2000 zz\n1999 "), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newReplayCache(1 << 20)
	if err := c.openLog(dir, 1000); err != nil {
		t.Fatal(err)
	}
	if fresh, _ := c.add("kept", 2000, 1000); fresh || c.len() != 1 {
		t.Fatalf("loaded %d ids, kept is fresh: %t; want only kept, remembered", c.len(), fresh)
	}
	for i := range 3 * replayCompactMin {
		if fresh, err := c.add(fmt.Sprint(i), int64(1001+i), int64(1000+i)); !fresh || err != nil {
			t.Fatalf("add %d: %t, %v", i, fresh, err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(b), "\n"); lines > 2*replayCompactMin+1 {
		t.Errorf("the log holds %d lines for %d live ids; want it compacted", lines, c.len())
	}
	c.logLines = 0 // no compaction now, so the write goes to the closed file
	c.log.Close()  // the next write fails: the id must be refused, not accepted unrecorded
	if fresh, err := c.add("unrecorded", 99999, 5000); fresh || err == nil {
		t.Errorf("add with a failing log: %t, %v; want refused", fresh, err)
	}
	c.log = nil
}
