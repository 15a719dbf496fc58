package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestLineHandlerWritesMcorunLines(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(newLineHandler(&buf, slog.LevelInfo)).With("node", "web1")
	log.Info("connector: closed")
	log.Warn("connector: connection lost, reconnecting", "broker", "b:61613", "err", errors.New("read: connection reset"))
	log.WithGroup("tls").Error("connector: giving up", "attempts", 3, "why", "")
	log.Debug("not shown")
	want := "mcorun: connector: closed node=web1\n" +
		"mcorun: warning: connector: connection lost, reconnecting node=web1 broker=b:61613 err=\"read: connection reset\"\n" +
		"mcorun: error: connector: giving up node=web1 tls.attempts=3 tls.why=\"\"\n"
	if buf.String() != want {
		t.Errorf("log lines:\n%s\nwant\n%s", buf.String(), want)
	}
}

// -v shows the connection in mcorun's words, never a raw slog line.
func TestVerboseHasNoRawLogLines(t *testing.T) {
	stdout, stderr, code := runSandbox(context.Background(), t, "find", "-v")
	if code != exitOK || stdout.String() == "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	for _, raw := range []string{"level=", "msg=", "time="} {
		if strings.Contains(stderr.String(), raw) {
			t.Errorf("stderr has a raw log line (%s):\n%s", raw, stderr)
		}
	}
	if !strings.Contains(stderr.String(), "mcorun: connector: connected broker=") {
		t.Errorf("stderr lacks the connection line:\n%s", stderr)
	}
}
