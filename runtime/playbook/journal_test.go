package playbook

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/journal"
	"github.com/mcorun/mcorun/runtime/playbook/fleettest"
)

// rollingSrc discovers the fleet's eight nodes and pings them two at a time.
const rollingSrc = `
p = params(max_failures = "0")
nodes = discover()
def step(batch):
    return rpc("rpcutil", "ping", nodes = batch)
r = rolling(nodes, step, window = 2, max_failures = p.max_failures)
print(r)
if r.stopped:
    fail("stopped: " + r.stopped)
`

// journaled runs src (written to file) with a journal under base on fleet.
func journaled(t *testing.T, file, base, src string, fleet *fleettest.Fleet, o Options) run {
	t.Helper()
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	o.File, o.Journal, o.Fleet = file, base, fleet
	return runSource(t, context.Background(), "", o)
}

// lastRun reads the newest journal under base.
func lastRun(t *testing.T, base string) (string, *journal.Journal) {
	t.Helper()
	runs, err := journal.List(base)
	if err != nil || len(runs) == 0 {
		t.Fatalf("no runs under %s: %v", base, err)
	}
	j, err := journal.ReadFile(filepath.Join(base, runs[0].ID))
	if err != nil {
		t.Fatal(err)
	}
	return runs[0].ID, j
}

// rpcNodes lists the node sets of the rpc calls the fleet received.
func rpcNodes(f *fleettest.Fleet) []string {
	var out []string
	for _, c := range f.Calls() {
		if c.Kind == "rpc" {
			out = append(out, strings.Join(c.Nodes, ","))
		}
	}
	return out
}

// cutAfterSent truncates a journal just after its nth sent mark of an rpc, as a crash of
// the admin host while that call was in flight leaves it, with half a line after it.
func cutAfterSent(t *testing.T, dir string, n int) {
	t.Helper()
	path := filepath.Join(dir, journal.FileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	seen := 0
	for i, l := range lines {
		if strings.Contains(l, `"type":"sent"`) && strings.Contains(l, `"kind":"rpc"`) {
			if seen++; seen == n {
				cut := strings.Join(lines[:i+1], "") + lines[i+1][:len(lines[i+1])/2]
				if err := os.WriteFile(path, []byte(cut), 0o600); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
	}
	t.Fatalf("no rpc sent mark %d in %s", n, path)
}

func TestResumeAfterCrash(t *testing.T) {
	base, file := t.TempDir(), filepath.Join(t.TempDir(), "roll.star")
	fleet := newTestFleet(t)
	first := journaled(t, file, base, rollingSrc, fleet, Options{})
	if first.ExitCode != ExitOK || first.Report.RunID == "" {
		t.Fatalf("first run: %d %v %s", first.ExitCode, first.Err, first.stderr)
	}
	id, _ := lastRun(t, base)
	if id != first.Report.RunID {
		t.Errorf("report run id %s, journal %s", first.Report.RunID, id)
	}
	// the admin host died while the third batch was in flight
	cutAfterSent(t, filepath.Join(base, id), 3)
	j, err := journal.ReadFile(filepath.Join(base, id))
	if err != nil || !j.Truncated || j.End() != nil {
		t.Fatalf("cut journal: %v truncated=%v", err, j != nil && j.Truncated)
	}
	fleet.Reset()
	res := journaled(t, file, base, rollingSrc, fleet, Options{Resume: &Resume{ID: id, Journal: j}})
	if res.ExitCode != ExitOK {
		t.Fatalf("resume: %d %v\n%s", res.ExitCode, res.Err, res.stderr)
	}
	// the first two batches and the discovery are answered from the journal; the batch in
	// flight is sent again and the last one goes live
	if got, want := rpcNodes(fleet), []string{"web1,web2", "web3,web4"}; !slices.Equal(got, want) {
		t.Errorf("live rpc calls %v, want %v\n%s", got, want, res.stderr)
	}
	for _, c := range fleet.Calls() {
		if c.Kind == "discover" && c.Options.Nodes == nil && len(c.DiscoverOptions.Nodes) == 0 {
			t.Errorf("the discovery was sent again: %+v", c)
		}
	}
	for _, want := range []string{
		"resume: 3 calls replayed from run " + id + "; live from here",
		"resume: live: rpc rpcutil.ping nodes=[web1 web2]: sent but never completed in run " + id + "; sent again (at least once)",
	} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	if !strings.Contains(res.stdout, "RollingReport(ok; 8 done") {
		t.Errorf("the resumed rollout did not complete: %s", res.stdout)
	}
	if res.Report.ResumeOf != id {
		t.Errorf("report resume_of %q, want %q", res.Report.ResumeOf, id)
	}
	// the resumed run's journal is complete by itself: replayed calls are in it, marked
	rid, rj := lastRun(t, base)
	if rid != res.Report.RunID || rj.Header.ResumeOf != id || rj.End() == nil || rj.End().Status != StatusOK {
		t.Errorf("resumed journal %s: %+v", rid, rj.Header)
	}
	replayed := 0
	for _, r := range rj.Records {
		if r.Replayed {
			replayed++
		}
	}
	if replayed != 3 {
		t.Errorf("%d replayed records in the resumed run's journal, want 3", replayed)
	}
}

func TestResumeMismatchAndForce(t *testing.T) {
	base, file := t.TempDir(), filepath.Join(t.TempDir(), "roll.star")
	fleet := newTestFleet(t)
	journaled(t, file, base, rollingSrc, fleet, Options{})
	id, _ := lastRun(t, base)
	cutAfterSent(t, filepath.Join(base, id), 3)
	j, _ := journal.ReadFile(filepath.Join(base, id))
	edited := strings.Replace(rollingSrc, "window = 2", "window = 3", 1)
	fleet.Reset()
	res := journaled(t, file, base, edited, fleet, Options{Resume: &Resume{ID: id, Journal: j}})
	if res.ExitCode != ExitMismatch {
		t.Fatalf("exit %d, want %d (mismatch)\n%s", res.ExitCode, ExitMismatch, res.stderr)
	}
	if calls := fleet.Calls(); len(calls) != 0 {
		t.Errorf("a mismatched resume sent %d calls: %+v", len(calls), calls)
	}
	for _, want := range []string{
		"journal mismatch at call 2 of run " + id + ", nothing sent",
		"the journal has:  rpc rpcutil.ping nodes=[app1 db1]",
		"the playbook asks: rpc rpcutil.ping nodes=[app1 db1 db2]",
		"changed since run " + id,
	} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	res = journaled(t, file, base, edited, fleet, Options{Resume: &Resume{ID: id, Journal: j, Force: true}})
	if res.ExitCode != ExitOK || len(rpcNodes(fleet)) != 3 {
		t.Errorf("--force: exit %d, calls %v\n%s", res.ExitCode, rpcNodes(fleet), res.stderr)
	}
}

func TestResumeThresholdAndRetryFailed(t *testing.T) {
	base, file := t.TempDir(), filepath.Join(t.TempDir(), "roll.star")
	fleet := newTestFleet(t)
	fleet.Fail("db2")
	first := journaled(t, file, base, rollingSrc, fleet, Options{})
	if first.ExitCode != ExitFailed || !strings.Contains(first.stderr, "stopped: 1 failure exceeds max_failures 0") {
		t.Fatalf("first run: %d\n%s", first.ExitCode, first.stderr)
	}
	id, j := lastRun(t, base)
	fleet.Reset()
	// without --retry-failed: the same stop, nothing sent
	res := journaled(t, file, base, rollingSrc, fleet, Options{Resume: &Resume{ID: id, Journal: j}})
	if res.ExitCode != ExitFailed || len(fleet.Calls()) != 0 || !strings.Contains(res.stderr, "replays to the same stop") {
		t.Errorf("resume: exit %d, %d calls\n%s", res.ExitCode, len(fleet.Calls()), res.stderr)
	}
	// with it: db2 alone is sent again, and the rollout goes on
	res = journaled(t, file, base, rollingSrc, fleet, Options{Resume: &Resume{ID: id, Journal: j, RetryFailed: true}})
	if res.ExitCode != ExitOK {
		t.Fatalf("resume --retry-failed: %d\n%s", res.ExitCode, res.stderr)
	}
	if got, want := rpcNodes(fleet), []string{"db2", "web1,web2", "web3,web4"}; !slices.Equal(got, want) {
		t.Errorf("live calls %v, want %v", got, want)
	}
	if !strings.Contains(res.stderr, "sent again to db2 (--retry-failed)") {
		t.Errorf("stderr does not name the retried node:\n%s", res.stderr)
	}
}

func TestResumeDryRunAndOtherPlaybook(t *testing.T) {
	base, dir := t.TempDir(), t.TempDir()
	file := filepath.Join(dir, "roll.star")
	fleet := newTestFleet(t)
	journaled(t, file, base, rollingSrc, fleet, Options{})
	id, _ := lastRun(t, base)
	cutAfterSent(t, filepath.Join(base, id), 2)
	j, _ := journal.ReadFile(filepath.Join(base, id))
	fleet.Reset()
	res := journaled(t, file, base, rollingSrc, fleet, Options{Resume: &Resume{ID: id, Journal: j, DryRun: true}})
	if res.ExitCode != ExitOK || len(fleet.Calls()) != 0 ||
		!strings.Contains(res.stderr, "2 calls replayed from the journal; the run would go live here: rpc rpcutil.ping nodes=[db2 db3]") {
		t.Errorf("resume --dry-run: exit %d, %d calls\n%s", res.ExitCode, len(fleet.Calls()), res.stderr)
	}
	if runs, _ := journal.List(base); len(runs) != 1 {
		t.Errorf("a resume --dry-run wrote a journal: %d runs", len(runs))
	}
	other := filepath.Join(dir, "other.star")
	res = journaled(t, other, base, rollingSrc, fleet, Options{Resume: &Resume{ID: id, Journal: j}})
	if res.ExitCode != ExitMismatch || len(fleet.Calls()) != 0 || !strings.Contains(res.stderr, "is a run of "+file) {
		t.Errorf("another playbook's journal: exit %d\n%s", res.ExitCode, res.stderr)
	}
}

func TestEventsAreTheJournalWithoutResults(t *testing.T) {
	base, file := t.TempDir(), filepath.Join(t.TempDir(), "roll.star")
	var events bytes.Buffer
	res := journaled(t, file, base, rollingSrc, newTestFleet(t), Options{Events: &events})
	if res.ExitCode != ExitOK {
		t.Fatal(res.stderr)
	}
	_, j := lastRun(t, base)
	lines := strings.Split(strings.TrimSpace(events.String()), "\n")
	if len(lines) != len(j.Records)+1 {
		t.Fatalf("%d events, %d journal records", len(lines), len(j.Records)+1)
	}
	types := map[string]int{}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m["result"]; ok {
			t.Errorf("event %d carries a result: %s", i, l)
		}
		if h, ok := m["header"].(map[string]any); ok && h["source"] != nil {
			t.Errorf("the header event carries the source")
		}
		types[m["type"].(string)]++
	}
	if types["header"] != 1 || types["sent"] != 5 || types["done"] != 5 || types["batch"] != 4 || types["batch_start"] != 4 || types["end"] != 1 {
		t.Errorf("event types %v", types)
	}
}

// cancelAfter interrupts a run, as SIGTERM does, once n rpc calls returned.
type cancelAfter struct {
	*fleettest.Fleet
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Call(ctx context.Context, agent, action string, args map[string]any, opts client.CallOptions) (*client.Results, error) {
	res, err := c.Fleet.Call(ctx, agent, action, args, opts)
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return res, err
}

// TestResumeKeepsTheWaitDeadline: a wait_until cut by an interruption goes on after the
// resume as if no time had passed while the run was down, so its deadline still holds.
func TestResumeKeepsTheWaitDeadline(t *testing.T) {
	const src = `
start = time.now()
def ready():
    rpc("rpcutil", "ping", nodes = ["web1"])
    return time.now() - start >= time.parse_duration("20s")
wait_until(ready, timeout = "1m", every = "5s")
print("waited", time.now() - start)
`
	base, file := t.TempDir(), filepath.Join(t.TempDir(), "wait.star")
	fleet := newTestFleet(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	first := runSource(t, ctx, "", Options{File: file, Journal: base, Clock: fleet.Time(),
		Fleet: &cancelAfter{Fleet: fleet, n: 2, cancel: cancel}})
	if first.ExitCode != ExitInterrupted {
		t.Fatalf("first run: %d\n%s", first.ExitCode, first.stderr)
	}
	// the run stays down for an hour
	if err := fleet.Time().Sleep(context.Background(), time.Hour); err != nil {
		t.Fatal(err)
	}
	id, j := lastRun(t, base)
	fleet.Reset()
	res := journaled(t, file, base, src, fleet, Options{Resume: &Resume{ID: id, Journal: j}})
	if res.ExitCode != ExitOK || !strings.Contains(res.stdout, "waited 20s") {
		t.Fatalf("resume: exit %d, stdout %q (want waited 20s: the hour down does not count)\n%s", res.ExitCode, res.stdout, res.stderr)
	}
	if n := len(rpcNodes(fleet)); n != 3 {
		b, _ := os.ReadFile(filepath.Join(base, id, journal.FileName))
		t.Errorf("%d polls went live, want 3 (5 in all, 2 replayed)\n%s\n%s", n, res.stderr, b)
	}
}

// TestResumeTakesTheLock: a resume is a run of the playbook: another run holding its overlap
// lock skips it, nothing sent and no journal written.
func TestResumeTakesTheLock(t *testing.T) {
	base, dir := t.TempDir(), t.TempDir()
	file, lockPath := filepath.Join(dir, "roll.star"), filepath.Join(dir, "roll.lock")
	fleet := newTestFleet(t)
	journaled(t, file, base, rollingSrc, fleet, Options{LockPath: lockPath})
	id, _ := lastRun(t, base)
	cutAfterSent(t, filepath.Join(base, id), 2)
	j, _ := journal.ReadFile(filepath.Join(base, id))
	held := flock.New(lockPath)
	if ok, err := held.TryLock(); err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	defer func() { _ = held.Unlock() }()
	fleet.Reset()
	res := journaled(t, file, base, rollingSrc, fleet, Options{LockPath: lockPath, Resume: &Resume{ID: id, Journal: j}})
	if res.ExitCode != ExitLocked || len(fleet.Calls()) != 0 {
		t.Errorf("resume under a held lock: exit %d, %d calls\n%s", res.ExitCode, len(fleet.Calls()), res.stderr)
	}
	if runs, _ := journal.List(base); len(runs) != 1 {
		t.Errorf("%d runs: the skipped resume wrote a journal", len(runs))
	}
}

// loseReplies makes the nth rpc call come back as runtime/client returns a call whose
// broker connection dropped while replies were due: the given nodes missing, with
// client.ReasonConnectionLost, and no error.
type loseReplies struct {
	*fleettest.Fleet
	n    int
	lose func(targets []string) []string
}

func (l *loseReplies) Call(ctx context.Context, agent, action string, args map[string]any, opts client.CallOptions) (*client.Results, error) {
	res, err := l.Fleet.Call(ctx, agent, action, args, opts)
	if l.n--; l.n != 0 || err != nil {
		return res, err
	}
	lost := l.lose(res.Targets)
	gone := func(r client.Result) bool { return slices.Contains(lost, r.Sender) }
	res.OK = slices.DeleteFunc(res.OK, gone)
	res.Failed = slices.DeleteFunc(res.Failed, gone)
	res.Missing = append(res.Missing, lost...)
	slices.Sort(res.Missing)
	res.Reasons = map[string]string{}
	for _, id := range lost {
		res.Reasons[id] = client.ReasonConnectionLost
	}
	return res, nil
}

// TestResumeSendsLostRepliesAgain: the nodes a call lost with the broker connection are sent
// again on resume, and only they: the replies that came back are kept.
func TestResumeSendsLostRepliesAgain(t *testing.T) {
	base, file := t.TempDir(), filepath.Join(t.TempDir(), "roll.star")
	fleet := newTestFleet(t)
	var lost string
	lossy := &loseReplies{Fleet: fleet, n: 2, lose: func(targets []string) []string {
		lost = targets[0]
		return targets[:1]
	}}
	if err := os.WriteFile(file, []byte(rollingSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	first := runSource(t, context.Background(), "", Options{File: file, Journal: base, Fleet: lossy})
	if first.ExitCode == ExitOK {
		t.Fatalf("first run ended ok; the lost node should have stopped the rollout:\n%s", first.stderr)
	}
	sent := rpcNodes(fleet)
	if len(sent) != 2 {
		t.Fatalf("first run sent %v, want two batches", sent)
	}
	id, j := lastRun(t, base)
	var recorded *journal.Outcome
	for _, r := range j.Records {
		if r.Type == journal.TypeDone && r.Outcome != nil && len(r.Outcome.Reasons) > 0 {
			recorded = r.Outcome
		}
	}
	if recorded == nil || recorded.Reasons[lost] != client.ReasonConnectionLost {
		t.Fatalf("the journal does not record %s as lost with the connection: %+v", lost, recorded)
	}
	fleet.Reset()
	res := journaled(t, file, base, rollingSrc, fleet, Options{Resume: &Resume{ID: id, Journal: j}})
	if res.ExitCode != ExitOK {
		t.Fatalf("resume: %d %v\n%s", res.ExitCode, res.Err, res.stderr)
	}
	// the lost node alone is sent the second batch's call again, then the rollout goes on
	if got := rpcNodes(fleet); len(got) != 3 || got[0] != lost {
		t.Errorf("live rpc calls %v, want %s then the last two batches\n%s", got, lost, res.stderr)
	}
	want := "resume: live: rpc rpcutil.ping nodes=[" + strings.ReplaceAll(sent[1], ",", " ") + "]: lost with the broker connection in run " + id + ": sent again to " + lost
	if !strings.Contains(res.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
	}
	if !strings.Contains(res.stdout, "RollingReport(ok; 8 done") {
		t.Errorf("the resumed rollout did not complete: %s", res.stdout)
	}
}
