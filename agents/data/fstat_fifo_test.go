//go:build linux

package data

import (
	"context"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}

// TestFstatBlockingReadEnds checks that hashing a file whose read would block (a FIFO with a
// silent writer, as a path swapped after its stat would be) ends with the query, and leaves
// neither a goroutine nor an open file behind, however often it is asked.
func TestFstatBlockingReadEnds(t *testing.T) {
	fifo := t.TempDir() + "/pipe"
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	w, err := os.OpenFile(fifo, os.O_RDWR, 0) // a writer that never writes; does not block on Linux
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)
	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		done := make(chan error, 1)
		go func() { _, err := md5File(ctx, fifo); done <- err }()
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("query %d: a FIFO was hashed", i)
			}
		case <-time.After(2 * time.Second):
			cancel()
			t.Fatalf("query %d: still reading the FIFO 2 s after its 50 ms timeout", i)
		}
		cancel()
	}
	if g := runtime.NumGoroutine(); g > goroutines+2 {
		t.Errorf("%d goroutines after 20 queries, %d before", g, goroutines)
	}
	if n := openFDs(t); n > fds {
		t.Errorf("%d open files after 20 queries, %d before", n, fds)
	}
}
