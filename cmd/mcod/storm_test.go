package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/testenv"
)

// TestStopAfterRefusedSubscriptions runs a real mcod on a collective whose exchanges do not
// exist, so RabbitMQ refuses its subscriptions and closes every connection it makes. mcod
// must back off instead of reconnecting in a loop, name the missing exchange in its log, and
// still end within --stop-timeout on SIGTERM.
func TestStopAfterRefusedSubscriptions(t *testing.T) {
	addr := testenv.RequireRabbitMQ(t)
	dir := t.TempDir()
	collective := "nosuch" + strconv.FormatInt(time.Now().UnixNano(), 36)
	cfg, log := filepath.Join(dir, "storm.cfg"), filepath.Join(dir, "storm.log")
	if err := os.WriteFile(cfg, []byte(testenv.CollectiveConfig(collective, "storm", addr)+
		"identity = storm1\nlogfile = "+log+"\nloglevel = info\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const stopTimeout = 3 * time.Second
	cmd := testenv.StartProcess(t, testenv.Process{Name: "storm1", Args: []string{mcodBin, "--config", cfg, "--stop-timeout", stopTimeout.String()}, Log: log})
	testenv.WaitLog(t, "storm1", log, "connector: connected", testenv.ServeTimeout)
	time.Sleep(4 * time.Second)

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for syscall.Kill(cmd.Process.Pid, 0) == nil && time.Since(start) < 2*stopTimeout {
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(start)
	b, _ := os.ReadFile(log)
	text := string(b)
	t.Logf("stopped %v after SIGTERM; %d log lines", took, strings.Count(text, "\n"))
	if took > stopTimeout {
		t.Errorf("mcod took %v to stop after SIGTERM, want at most --stop-timeout %v", took, stopTimeout)
	}
	for _, want := range []string{collective + "_broadcast", "rabbitmqadmin"} {
		if !strings.Contains(text, want) {
			t.Errorf("log does not name %q", want)
		}
	}
	// With backoff, a few connections in 4s; without it, hundreds.
	if n := strings.Count(text, "connector: reconnected") + strings.Count(text, "refused"); n > 20 {
		t.Errorf("%d connection lines in the log, want the reconnects backed off and the lines rate-limited", n)
	}
}
