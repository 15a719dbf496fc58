package playbook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/journal"
	"github.com/mcorun/mcorun/runtime/plural"
)

// Resume makes a run re-execute a playbook from the journal of an earlier run (Options.Resume).
type Resume struct {
	ID      string           // the run being resumed
	Journal *journal.Journal // its journal
	// RetryFailed sends again, to its failed and missing nodes, the step at which a rolling()
	// stopped on its failure threshold; without it the resume replays to the same stop.
	RetryFailed bool
	Force       bool // on a mismatch, go on live instead of stopping
	// DryRun replays and stops at the first call that would go live, naming it; nothing is
	// sent and no journal is written.
	DryRun bool
}

var errNoResult = errors.New("no result recorded")

// MismatchError is a resume stopping before it sent anything: the playbook asked for another
// call than the journal holds at that point.
type MismatchError struct {
	ID       string // the run resumed
	N        int    // the call's number in the journal, from 1
	Journal  journal.Call
	Playbook journal.Call
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("journal mismatch at call %d of run %s, nothing sent:\n  the journal has:  %s\n  the playbook asks: %s\n"+
		"the playbook, a file it loads or the args changed since that run, or the playbook is not deterministic; "+
		"--force goes on live from this call", e.N, e.ID, journal.CallString(e.Journal), journal.CallString(e.Playbook))
}

// WouldGoLiveError ends a resume --dry-run where the run would start sending.
type WouldGoLiveError struct {
	Replayed int
	Call     journal.Call
	Why      string
}

func (e *WouldGoLiveError) Error() string {
	return fmt.Sprintf("resume --dry-run: %s replayed from the journal; the run would go live here: %s (%s)",
		plural.Count(e.Replayed, "call", "calls"), journal.CallString(e.Call), e.Why)
}

// entry is one call, clock reading or wait of the original run.
type entry struct {
	now   *time.Time
	sleep float64 // seconds of waiting left to replay
	call  *journal.Call
	done  *journal.Record // nil: sent, never completed
	retry bool            // a call of the step where a rolling() stopped on its threshold
}

// replay walks the original run's journal as the playbook runs again.
type replay struct {
	id      string
	entries []entry
	end     *journal.End
	stop    string // where a rolling() stopped on its threshold, if it did
	loads   map[string]string
	out     io.Writer

	force, retryFailed, dryRun bool

	mu       sync.Mutex
	pos      int
	calls    int // calls met so far in the journal
	replayed int
	live     bool
	// clockLive: a wait went live (the original's end cut it), so the clock is live too
	clockLive bool
	lastNow   time.Time
	offset    time.Duration
	shifted   bool
}

func newReplay(r *Resume, out io.Writer) *replay {
	rp := &replay{id: r.ID, out: out, force: r.Force, retryFailed: r.RetryFailed, dryRun: r.DryRun,
		loads: map[string]string{}, end: r.Journal.End()}
	stepStart := 0
	for i := range r.Journal.Records {
		rec := &r.Journal.Records[i]
		switch rec.Type {
		case journal.TypeLoad:
			rp.loads[rec.File] = rec.Hash
		case journal.TypeNow:
			rp.entries = append(rp.entries, entry{now: rec.Now})
		case journal.TypeSleep:
			rp.entries = append(rp.entries, entry{sleep: rec.Seconds})
		case journal.TypeSent:
			rp.entries = append(rp.entries, entry{call: rec.Call})
		case journal.TypeDone:
			if n := len(rp.entries); n > 0 && rp.entries[n-1].call != nil && rp.entries[n-1].done == nil &&
				sameCall(*rp.entries[n-1].call, *rec.Call) {
				rp.entries[n-1].done = rec
			} else if !rec.DryRun {
				rp.entries = append(rp.entries, entry{call: rec.Call, done: rec})
			}
		case journal.TypeBatch:
			if rec.Batch.Stopped != "" && rp.stop == "" {
				rp.stop = journal.Describe(*rec)
				for k := stepStart; k < len(rp.entries); k++ {
					rp.entries[k].retry = rp.entries[k].call != nil
				}
			}
			stepStart = len(rp.entries)
		}
	}
	return rp
}

func sameCall(a, b journal.Call) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// notef prints one line about the resume.
func (rp *replay) notef(format string, args ...any) {
	fmt.Fprintf(rp.out, "resume: "+format+"\n", args...)
}

// slept reports whether the original run did this wait (its journal has the sleep next),
// using it up; a wait that the original's end cut short is waited again.
func (rp *replay) slept(d time.Duration) bool {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.live || rp.pos >= len(rp.entries) || rp.entries[rp.pos].sleep <= 0 {
		// the original run never got past this wait: time runs live from here
		rp.clockLive = !rp.dryRun
		return false
	}
	e := &rp.entries[rp.pos]
	if e.sleep -= d.Seconds(); e.sleep < 1e-3 {
		rp.pos++
	}
	return true
}

// checkLoad warns when a loaded file changed since the original run; its calls decide
// whether the resume can go on.
func (rp *replay) checkLoad(name, hash string) {
	if old, ok := rp.loads[name]; ok && old != hash {
		rp.notef("warning: %s changed since run %s", name, rp.id)
	}
}

// now is the next clock reading of the original run, while the playbook replays it.
func (rp *replay) now() (time.Time, bool) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.live || rp.clockLive || rp.pos >= len(rp.entries) || rp.entries[rp.pos].now == nil {
		return time.Time{}, false
	}
	t := *rp.entries[rp.pos].now
	rp.pos++
	rp.lastNow = t
	return t, true
}

// shift makes the live clock go on from the last time replayed, so that a wait_until that
// straddles the resume keeps its deadline: time stood still while the run was down.
func (rp *replay) shift(t time.Time) time.Time {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if !rp.shifted {
		rp.shifted = true
		if !rp.lastNow.IsZero() && t.After(rp.lastNow) {
			rp.offset = t.Sub(rp.lastNow)
		}
	}
	return t.Add(-rp.offset)
}

// decision is how one call of a resumed run is answered.
type decision struct {
	answer *journal.Record // replay: the original run's completed call
	retry  []string        // send again to these nodes only, keeping the replies in keep
	keep   *journal.Record
}

// goLive switches the rest of the run to live calls; the caller holds mu.
func (rp *replay) goLive(c journal.Call, why string) error {
	if rp.dryRun {
		return &WouldGoLiveError{Replayed: rp.replayed, Call: c, Why: why}
	}
	if !rp.live {
		rp.notef("%s replayed from run %s; live from here", plural.Count(rp.replayed, "call", "calls"), rp.id)
	}
	rp.live = true
	rp.notef("live: %s: %s", journal.CallString(c), why)
	return nil
}

// next decides how to answer call c: from the journal, live, or (with --retry-failed) live to
// the failed and missing nodes of the step that stopped a rolling(). A call that differs from
// the journal's is a *MismatchError unless --force.
func (rp *replay) next(c journal.Call) (decision, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.live {
		if rp.dryRun {
			return decision{}, rp.goLive(c, "after the journal's end")
		}
		return decision{}, nil
	}
	for rp.pos < len(rp.entries) && rp.entries[rp.pos].call == nil {
		rp.pos++
	}
	if rp.pos >= len(rp.entries) {
		return decision{}, rp.goLive(c, fmt.Sprintf("the journal of run %s ends here", rp.id))
	}
	e := rp.entries[rp.pos]
	rp.calls++
	if !sameCall(*e.call, c) {
		if !rp.force {
			return decision{}, &MismatchError{ID: rp.id, N: rp.calls, Journal: *e.call, Playbook: c}
		}
		rp.notef("warning: call %d differs from run %s's (%s), going on live (--force)", rp.calls, rp.id, journal.CallString(*e.call))
		return decision{}, rp.goLive(c, "differs from the journal")
	}
	rp.pos++
	last := !slices.ContainsFunc(rp.entries[rp.pos:], func(x entry) bool { return x.call != nil })
	switch {
	case e.done == nil:
		return decision{}, rp.goLive(c, "sent but never completed in run "+rp.id+"; sent again (at least once)")
	case e.done.Error != "":
		return decision{}, rp.goLive(c, "ended run "+rp.id+": "+e.done.Error)
	case e.done.Result == nil || e.done.Outcome == nil:
		return decision{}, rp.goLive(c, "run "+rp.id+" kept no result of it")
	case last && rp.lostAll(e.done):
		return decision{}, rp.goLive(c, fmt.Sprintf("every node missing when run %s ended", rp.id))
	case c.Kind == "rpc" && len(lostNodes(e.done.Outcome)) > 0:
		lost := lostNodes(e.done.Outcome)
		why := fmt.Sprintf("lost with the broker connection in run %s: sent again to %s (at least once)", rp.id, strings.Join(lost, ", "))
		if len(c.Nodes) == 0 {
			return decision{}, rp.goLive(c, why)
		}
		if err := rp.goLive(c, why); err != nil {
			return decision{}, err
		}
		return decision{retry: lost, keep: e.done}, nil
	case e.retry && rp.retryFailed && c.Kind == "rpc":
		o := e.done.Outcome
		again := slices.Concat(o.Failed, o.Missing)
		slices.Sort(again)
		if len(again) == 0 {
			break
		}
		if len(c.Nodes) == 0 {
			return decision{}, rp.goLive(c, "the step that stopped rolling(), sent again (--retry-failed)")
		}
		if err := rp.goLive(c, fmt.Sprintf("the step that stopped rolling(): sent again to %s (--retry-failed)",
			strings.Join(again, ", "))); err != nil {
			return decision{}, err
		}
		return decision{retry: again, keep: e.done}, nil
	}
	rp.replayed++
	return decision{answer: e.done}, nil
}

// lostNodes are the nodes of a call whose replies were lost with the broker connection
// (client.ReasonConnectionLost), sorted.
func lostNodes(o *journal.Outcome) []string {
	var lost []string
	for _, id := range o.Missing {
		if o.Reasons[id] == client.ReasonConnectionLost {
			lost = append(lost, id)
		}
	}
	return lost
}

// lostAll reports whether the original run ended, not ok, with every target of the call
// missing: the signature of a lost broker connection.
func (rp *replay) lostAll(done *journal.Record) bool {
	o := done.Outcome
	return (rp.end == nil || rp.end.Status != StatusOK) && len(o.Targets) > 0 && len(o.Missing) == len(o.Targets)
}

// finish says what the resume did once the run ended.
func (rp *replay) finish() {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.live || rp.dryRun {
		return
	}
	left := 0
	for _, e := range rp.entries[rp.pos:] {
		if e.call != nil {
			left++
		}
	}
	switch {
	case rp.stop != "" && !rp.retryFailed && left == 0:
		rp.notef("%s replayed from run %s: it replays to the same stop (%s); --retry-failed sends that step again to its failed and missing nodes",
			plural.Count(rp.replayed, "call", "calls"), rp.id, rp.stop)
	case left > 0:
		rp.notef("%s replayed from run %s; the run ended before %s of its journal", plural.Count(rp.replayed, "call", "calls"), rp.id,
			plural.Count(left, "call", "calls"))
	default:
		rp.notef("%s replayed from run %s; nothing was sent", plural.Count(rp.replayed, "call", "calls"), rp.id)
	}
}

// merge is a call sent again to some nodes: the replies kept from the original run, and the
// new ones.
func merge(kept, again *client.Results) *client.Results {
	out := *kept
	redo := map[string]bool{}
	for _, id := range again.Targets {
		redo[id] = true
	}
	out.OK = slices.DeleteFunc(slices.Clone(kept.OK), func(r client.Result) bool { return redo[r.Sender] })
	out.OK = append(out.OK, again.OK...)
	out.Failed = slices.DeleteFunc(slices.Clone(kept.Failed), func(r client.Result) bool { return redo[r.Sender] })
	out.Failed = append(out.Failed, again.Failed...)
	out.Missing = slices.DeleteFunc(slices.Clone(kept.Missing), func(id string) bool { return redo[id] })
	out.Missing = append(out.Missing, again.Missing...)
	out.Reasons = nil
	for id, why := range kept.Reasons {
		if !redo[id] {
			out.Reasons = setReason(out.Reasons, id, why)
		}
	}
	for id, why := range again.Reasons {
		out.Reasons = setReason(out.Reasons, id, why)
	}
	byID := func(a, b client.Result) int { return strings.Compare(a.Sender, b.Sender) }
	slices.SortFunc(out.OK, byID)
	slices.SortFunc(out.Failed, byID)
	slices.Sort(out.Missing)
	out.RequestID, out.Elapsed = again.RequestID, again.Elapsed
	return &out
}

func setReason(m map[string]string, id, why string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[id] = why
	return m
}
