package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/testenv"
)

// initScript is an LSB init script for a tiny daemon (a shell loop in its own file, so that
// pgrep -f finds it by its unique path), run by start-stop-daemon with a pidfile.
const initScript = `#!/bin/sh
### BEGIN INIT INFO
# Provides:          %[1]s
# Required-Start:
# Required-Stop:
# Default-Start:
# Default-Stop:
# Short-Description: mcorun service agent test daemon
### END INIT INFO
PIDFILE=%[2]s
DAEMON=%[3]s
case "$1" in
start)
	start-stop-daemon --start --quiet --oknodo --background --make-pidfile --pidfile "$PIDFILE" --startas "$DAEMON"
	;;
stop)
	start-stop-daemon --stop --quiet --oknodo --retry TERM/5/KILL/5 --pidfile "$PIDFILE"
	rc=$?
	rm -f "$PIDFILE"
	exit $rc
	;;
restart)
	"$0" stop && "$0" start
	;;
status)
	start-stop-daemon --status --pidfile "$PIDFILE"
	;;
*)
	echo "Usage: $0 {start|stop|restart|status}" >&2
	exit 3
	;;
esac
`

// testService is a real SysV service installed for one test: its init script in
// /etc/init.d under a unique name, its daemon and pidfile.
type testService struct {
	name, daemon, pidfile string
}

func installTestService(t *testing.T) *testService {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.SkipOrFail(t, "the real SysV service test installs an init script in /etc/init.d: run it as root")
	}
	for _, cmd := range []string{"start-stop-daemon", "pgrep"} {
		if _, err := exec.LookPath(cmd); err != nil {
			testenv.SkipOrFail(t, "%s not installed: install it (.ci/setup-services does: apt-get install dpkg procps init-system-helpers)", cmd)
		}
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	s := &testService{name: "mcorun-testsvc-" + hex.EncodeToString(b)}
	dir := t.TempDir()
	s.daemon = filepath.Join(dir, s.name+"-daemon")
	s.pidfile = filepath.Join(dir, s.name+".pid")
	if err := os.WriteFile(s.daemon, []byte("#!/bin/sh\nwhile :; do sleep 1; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join("/etc/init.d", s.name)
	if err := os.WriteFile(script, []byte(fmt.Sprintf(initScript, s.name, s.pidfile, s.daemon)), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = exec.Command(script, "stop").Run()
		// A daemon the script failed to stop is ended by its own pid, from the pidfile.
		if b, err := os.ReadFile(s.pidfile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = os.Remove(script)
	})
	return s
}

// pid is the daemon's pid, read independently of the agent: the pidfile must name a live
// process, and pgrep -f must find exactly that process. 0 means not running (no pidfile and
// no process).
func (s *testService) pid(t *testing.T) int {
	t.Helper()
	out, _ := exec.Command("pgrep", "-f", s.daemon).Output()
	procs := strings.Fields(string(out))
	b, err := os.ReadFile(s.pidfile)
	if os.IsNotExist(err) {
		if len(procs) != 0 {
			t.Fatalf("no pidfile but pgrep finds %v", procs)
		}
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pidfile %s: %v", s.pidfile, err)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("pidfile names %d, which is not alive: %v", pid, err)
	}
	if len(procs) != 1 || procs[0] != strconv.Itoa(pid) {
		t.Fatalf("pidfile names %d, pgrep finds %v", pid, procs)
	}
	return pid
}

// TestRealSysV drives a real init script through the agent, with the script run directly
// and through Debian's service command, and checks each step with the pidfile and pgrep.
func TestRealSysV(t *testing.T) {
	for _, sc := range []struct{ name, serviceCmd string }{{"initscript", ""}, {"servicecmd", "service"}} {
		t.Run(sc.name, func(t *testing.T) {
			s := installTestService(t)
			if sc.serviceCmd != "" {
				if _, err := exec.LookPath(sc.serviceCmd); err != nil {
					testenv.SkipOrFail(t, "service command not installed: apt-get install init-system-helpers")
				}
			}
			a, d, err := New(Options{Provider: "sysv", ServiceCmd: sc.serviceCmd})
			if err != nil {
				t.Fatal(err)
			}
			in := svcIn(s.name)

			want(t, call(t, a, "status", in), 0, "", Stopped)
			if s.pid(t) != 0 {
				t.Fatal("running before start")
			}
			want(t, call(t, a, "stop", in), 1, fmt.Sprintf("Could not stop '%s': Service is already stopped", s.name), Stopped)

			want(t, call(t, a, "start", in), 0, "", Running)
			first := s.pid(t)
			if first == 0 {
				t.Fatal("start answered running but no daemon runs")
			}
			want(t, call(t, a, "status", in), 0, "", Running)
			if got, err := d.Lookup(context.Background(), s.name); err != nil || got["status"] != Running {
				t.Fatalf("service(%q) = %v, %v", s.name, got, err)
			}
			want(t, call(t, a, "start", in), 1, fmt.Sprintf("Could not start '%s': Service is already running", s.name), Running)
			if s.pid(t) != first {
				t.Fatal("a refused start changed the daemon")
			}

			want(t, call(t, a, "restart", in), 0, "", Running)
			second := s.pid(t)
			if second == 0 || second == first {
				t.Fatalf("restart: daemon pid %d, was %d: want a new process", second, first)
			}

			want(t, call(t, a, "stop", in), 0, "", Stopped)
			if s.pid(t) != 0 {
				t.Fatal("stop answered stopped but the daemon runs")
			}
			if err := syscall.Kill(second, 0); err == nil {
				t.Fatalf("process %d still alive after stop", second)
			}
		})
	}
}

// A service with no init script is stopped, as the Ruby agent answers; changing it fails.
func TestRealSysVUnknownService(t *testing.T) {
	installTestService(t) // for its skip rules; the service asked about is another
	a, _, err := New(Options{Provider: "sysv"})
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("mcorun-nosuch-%d", time.Now().UnixNano())
	want(t, call(t, a, "status", svcIn(name)), 0, "", Stopped)
	want(t, call(t, a, "stop", svcIn(name)), 1, fmt.Sprintf("Could not stop '%s': Service is already stopped", name), Stopped)
	rep := call(t, a, "start", svcIn(name))
	// the Ruby agent's words for it (Puppet's init provider's exception)
	msg := fmt.Sprintf("Could not find init script for '%s'", name)
	if rep.Status != 5 || rep.Message != msg || rep.Data["status"] != "unknown" {
		t.Fatalf("reply %d %q %v, want UnknownError %q", rep.Status, rep.Message, rep.Data, msg)
	}
}
