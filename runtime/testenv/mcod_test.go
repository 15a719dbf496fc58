package testenv

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStartProcessAndWaitLog(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	log := filepath.Join(t.TempDir(), "p.log")
	var cmd *exec.Cmd
	t.Run("run", func(t *testing.T) {
		cmd = StartProcess(t, Process{Name: "p", Args: []string{sh, "-c", `echo "$GORACE serving" > "$0"; exec sleep 60`, log}, Log: log, Grace: 5 * time.Second})
		WaitLog(t, "p", log, NoRaceExitSleep+" serving", 10*time.Second)
	})
	// The subtest's cleanup has stopped the process.
	if cmd == nil || cmd.ProcessState == nil {
		t.Fatal("process still running after its test ended")
	}
}

func TestCollectiveConfig(t *testing.T) {
	got := CollectiveConfig("c1", "k", "127.0.0.1:61613")
	for _, want := range []string{"main_collective = c1\n", "collectives = c1\n", "plugin.psk = k\n", "plugin.rabbitmq.vhost = " + VHost + "\n",
		"plugin.rabbitmq.pool.1.host = 127.0.0.1\n", "plugin.rabbitmq.pool.1.port = 61613\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
}
