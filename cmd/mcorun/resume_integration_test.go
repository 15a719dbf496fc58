package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/journal"
	"github.com/mcorun/mcorun/runtime/testenv"
)

// waitJournal waits until the newest journal under base holds a line that want matches, and
// returns that run's id.
func waitJournal(t *testing.T, base, want string, within time.Duration) string {
	re := regexp.MustCompile(want)
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if runs, _ := journal.List(base); len(runs) > 0 {
			b, _ := os.ReadFile(filepath.Join(base, runs[0].ID, journal.FileName))
			if re.Match(b) {
				return runs[0].ID
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no journal under %s reached %q within %s", base, want, within)
	return ""
}

// startMcorun starts the built mcorun with args, its output into buffers.
func startMcorun(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(mcorunBin, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "HOME="+t.TempDir())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, &out, &errOut
}

// mcorunWithin runs the built mcorun as mcorun() does, killing it after d.
func mcorunWithin(t *testing.T, d time.Duration, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd, out, errOut := startMcorun(t, args...)
	timer := time.AfterFunc(d, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errOut.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("mcorun %v: %v", args, err)
	}
	return out.String(), errOut.String(), 0
}

// liveRunonce matches the runonce calls of the runonce calls a resume's output names as going live.
var liveRunonce = regexp.MustCompile(`resume: live: rpc puppet\.runonce \S* ?nodes=\[([^\]]*)\]`)

// TestResumeRealPuppetAfterSIGTERM: rolling_puppet.star over eight mcod nodes running real
// Puppet on RabbitMQ is SIGTERMed after its second step. A resume of the edited playbook is
// refused with nothing sent; the resume of the original completes the rollout, and every
// node ran Puppet exactly once, apart from a step in flight that the output names.
func TestResumeRealPuppetAfterSIGTERM(t *testing.T) {
	t.Parallel()
	f := startPuppetNodes(t, 8)
	cfg := f.clientConfig(t)
	dir, base := t.TempDir(), t.TempDir()
	src, err := os.ReadFile("../../playbooks/rolling_puppet.star")
	if err != nil {
		t.Fatal(err)
	}
	pb := filepath.Join(dir, "rolling_puppet.star")
	writeFile(t, pb, string(src))
	common := []string{"--config", cfg, "--journal", base, "--lock", filepath.Join(dir, "lock"), "--np"}
	cmd, _, errOut := startMcorun(t, append([]string{pb, "--arg", "window=2", "--arg", "poll=500ms"}, common...)...)
	id := waitJournal(t, base, `"type":"batch",.*"index":2,`, 90*time.Second) // the second step ended
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInterrupted {
		t.Fatalf("SIGTERM: %v\n%s", err, errOut)
	}
	// a node still applying a catalog refuses a new run: let the runs in flight finish
	f.waitRuns(t, cfg, false)
	before := f.spans(t)

	// an edited playbook: refused, nothing sent
	writeFile(t, pb, strings.Replace(string(src), "window = p.window,", "window = p.window + 1,", 1))
	_, stderr, code := mcorun(t, append([]string{"resume", id}, common...)...)
	if code != exitMismatch || !strings.Contains(stderr, "journal mismatch at call") || !strings.Contains(stderr, "nothing sent") {
		t.Fatalf("resume of the edited playbook: exit %d\n%s", code, stderr)
	}
	if after := f.spans(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a refused resume ran Puppet: %v, was %v", after, before)
	}

	writeFile(t, pb, string(src))
	// the rest of the rollout applies catalogs for real: allow more than mcorun()'s minute
	stdout, stderr, code := mcorunWithin(t, 3*time.Minute, append([]string{"resume", "--last", pb}, common...)...)
	if code != exitOK || !strings.Contains(stdout, "RollingReport(ok; 8 done") || !strings.Contains(stderr, "live from here") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("the resume said:\n%s", resumeLines(stderr))
	again := map[string]bool{} // nodes whose runonce the resume sent again
	for _, m := range liveRunonce.FindAllStringSubmatch(stderr, -1) {
		for _, id := range strings.Fields(m[1]) {
			again[id] = true
		}
	}
	for _, id := range f.nodes {
		runs := len(f.spans(t)[id])
		if runs != 1 && !(again[id] && runs == 2) {
			t.Errorf("%s ran Puppet %d times (sent again by the resume: %v)\n%s", id, runs, again[id], stderr)
		}
	}
	runs, _ := journal.List(base)
	if runs[0].ResumeOf != id || runs[0].Status != "ok" {
		t.Errorf("the resume's journal: %+v", runs[0])
	}
}

// TestResumeAfterBrokerOutage: the broker goes away under a run's client in the middle of
// its calls; the run ends with an error or with every node missing, and once the broker is
// back a resume sends the lost call again and completes the run.
func TestResumeAfterBrokerOutage(t *testing.T) {
	t.Parallel()
	f := newEmptyFleet(t)
	for _, n := range fleetNodes {
		f.startNode(t, n.id, n.yaml(), n.classes)
	}
	proxy := testenv.NewOutage(t, f.addr)
	dir, base := t.TempDir(), t.TempDir()
	cfg := filepath.Join(dir, "client.cfg")
	writeFile(t, cfg, strings.Replace(f.common(), f.addr[strings.LastIndex(f.addr, ":")+1:], proxy.Addr()[strings.LastIndex(proxy.Addr(), ":")+1:], 1)+
		"identity = mcorun-outage-client\nplugin.rabbitmq.max_reconnect_attempts = 2\n")
	pb := filepath.Join(dir, "pings.star")
	writeFile(t, pb, `nodes = discover()
for i in range(6):
    rs = rpc("rpcutil", "ping", nodes = nodes, timeout = "2s")
    if rs.missing:
        fail("call %d: %d nodes missing" % (i, len(rs.missing)))
    sleep("1s")
print("pinged", len(nodes), "nodes 6 times")
`)
	common := []string{"--config", cfg, "--journal", base, "--no-lock", "--timeout", "60s"}
	cmd, _, errOut := startMcorun(t, append([]string{pb}, common...)...)
	waitJournal(t, base, `(?s)"type":"done".*"type":"done".*"type":"done"`, 30*time.Second) // discovery and two pings done
	proxy.Down()
	err := cmd.Wait()
	if err == nil {
		t.Fatalf("the run went on without its broker:\n%s", errOut)
	}
	if err := proxy.Up(); err != nil {
		t.Fatal(err)
	}
	runs, _ := journal.List(base)
	lost := runs[0]
	if lost.Status == "ok" || !lost.Resumable {
		t.Fatalf("after the outage: %+v\n%s", lost, errOut)
	}
	stdout, stderr, code := mcorun(t, append([]string{"resume", lost.ID}, common...)...)
	if code != exitOK || !strings.Contains(stdout, "pinged 3 nodes 6 times") || !strings.Contains(stderr, "resume: live: rpc rpcutil.ping") {
		t.Fatalf("resume after the outage: exit %d\n%s\n%s\nfirst run:\n%s", code, stdout, stderr, errOut)
	}
	t.Logf("the first run ended: %s\nthe resume said:\n%s", lost.Stopped, resumeLines(stderr))
	j, err := journal.ReadFile(filepath.Join(base, listIDs(t, base)[0]))
	if err != nil {
		t.Fatal(err)
	}
	replayed := 0
	for _, r := range j.Records {
		if r.Type == journal.TypeDone && r.Replayed && r.Call.Kind == "rpc" {
			replayed++
		}
	}
	if replayed < 2 || j.Header.ResumeOf != lost.ID {
		t.Errorf("the resume replayed %d pings (want at least 2) of run %s", replayed, j.Header.ResumeOf)
	}
}

func listIDs(t *testing.T, base string) []string {
	t.Helper()
	runs, err := journal.List(base)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	return slices.Clip(ids)
}

// resumeLines are the lines of a resume's output about the resume itself.
func resumeLines(stderr string) string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "resume:") || strings.HasPrefix(l, "mcorun: resuming") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
