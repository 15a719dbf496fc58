package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/config"
)

func TestHelpAndVersionOnStdout(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"--version"}} {
		var stdout, stderr bytes.Buffer
		if code := runIO(args, &stdout, &stderr); code != exitOK {
			t.Errorf("%v: exit %d", args, code)
		}
		if stdout.Len() == 0 || stderr.Len() != 0 {
			t.Errorf("%v: stdout %q, stderr %q; want the output on stdout", args, stdout.String(), stderr.String())
		}
	}
}

func TestMissingConfigSaysWhatToDo(t *testing.T) {
	var stderr bytes.Buffer
	missing := filepath.Join(t.TempDir(), "server.cfg")
	if code := run([]string{"--config", missing}, &stderr); code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if s := stderr.String(); !strings.Contains(s, missing+" not found") || !strings.Contains(s, "--config FILE") {
		t.Errorf("stderr:\n%s", s)
	}
}

// syncBuffer is a bytes.Buffer safe for the timer goroutine that writes the notice.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// An unreachable broker is retried, but the operator is told what to check, on the
// terminal too when the log goes to a file.
func TestUnreachableBrokerNotice(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "server.cfg")
	write(t, path, `identity = n1
securityprovider = psk
plugin.psk = k
connector = rabbitmq
plugin.rabbitmq.pool.size = 1
plugin.rabbitmq.pool.1.host = 127.0.0.1
plugin.rabbitmq.pool.1.port = `+strconv.Itoa(port)+`
plugin.rabbitmq.pool.1.user = u
plugin.rabbitmq.pool.1.password = p
`)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var notice syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, options{stopTimeout: time.Second, notice: &notice, slowConnect: 50 * time.Millisecond}, slog.New(slog.DiscardHandler))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(notice.String(), "still no broker reachable") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	err = <-done
	if s := notice.String(); !strings.Contains(s, "127.0.0.1:"+strconv.Itoa(port)) || !strings.Contains(s, path) {
		t.Errorf("notice:\n%s", s)
	}
	if err == nil || !strings.Contains(err.Error(), "stopped before any broker") {
		t.Errorf("serve = %v", err)
	}
}
