package playbook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"sync"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/filter"
	"github.com/mcorun/mcorun/runtime/journal"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/starlib"
)

// runJournal is the one recorder of a run. The builtins that touch the world reach the fleet,
// the clock and the logger through it (it is the thread's starlib.Fleet, starlib.Clock and
// starlib.Logger), so production, dry runs and 'mcorun test' record the same way. Every record
// goes to the journal file, when there is one, and to the --events stream without its result.
// When resuming, it answers the calls the original run completed from that run's journal
// (replay) and sends the others.
type runJournal struct {
	w     *journal.Writer
	fleet starlib.Fleet  // the live fleet
	clock starlib.Clock  // the live clock
	log   starlib.Logger // the progress display
	rp    *replay        // nil unless resuming

	mu    sync.Mutex
	sleep time.Duration // slept and not yet recorded: consecutive sleeps make one record
}

var (
	_ starlib.Fleet       = (*runJournal)(nil)
	_ starlib.Clock       = (*runJournal)(nil)
	_ starlib.BatchLogger = (*runJournal)(nil)
)

// hashOf is the hex SHA-256 of b.
func hashOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// eventSink writes each record, without its result, as one JSON line to w.
func eventSink(w io.Writer) journal.Sink {
	return func(r journal.Record) {
		b, err := json.Marshal(r.Event())
		if err != nil {
			return
		}
		_, _ = w.Write(append(b, '\n'))
	}
}

// write records r, after any sleep not yet recorded; sync fsyncs it (a sent mark).
func (j *runJournal) write(r journal.Record, sync bool) {
	j.mu.Lock()
	d := j.sleep
	j.sleep = 0
	j.mu.Unlock()
	if d > 0 {
		_ = j.w.Write(journal.Record{Type: journal.TypeSleep, Seconds: d.Seconds()}, false)
	}
	// A journal that cannot be written does not stop the run: the records still reach the
	// events, and the run's end says the journal failed.
	_ = j.w.Write(r, sync)
}

// end writes the end record and closes the journal.
func (j *runJournal) end(e journal.End) error {
	j.write(journal.Record{Type: journal.TypeEnd, End: &e}, true)
	if err := j.w.Err(); err != nil {
		_ = j.w.Close()
		return fmt.Errorf("%w: the journal is incomplete, and a resume of this run would replay only what it holds", err)
	}
	return j.w.Close()
}

// readFile reads a file the playbook loads and records its hash.
func (j *runJournal) readFile(read func(string) ([]byte, error)) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		b, err := read(name)
		if err == nil {
			j.write(journal.Record{Type: journal.TypeLoad, File: name, Hash: hashOf(b)}, false)
			if j.rp != nil {
				j.rp.checkLoad(name, hashOf(b))
			}
		}
		return b, err
	}
}

// DDL passes through: it reads local files, nothing is sent.
func (j *runJournal) DDL(agent string) (*ddl.Agent, error) { return j.fleet.DDL(agent) }

// Plan passes through: it decides a call without sending it.
func (j *runJournal) Plan(agent, action string, args map[string]any, opts client.CallOptions) (*client.Plan, error) {
	return j.fleet.Plan(agent, action, args, opts)
}

func filterText(f message.Filter) string {
	if f.Empty() {
		return ""
	}
	return filter.String(f)
}

// Discover records a discovery, or answers it from the journal being resumed.
func (j *runJournal) Discover(ctx context.Context, opts client.DiscoverOptions) ([]string, error) {
	call := journal.Call{Kind: "discover", Filter: filterText(opts.Filter), Nodes: opts.Nodes,
		Collective: opts.Collective, Limit: opts.Limit}
	if j.rp != nil {
		d, err := j.rp.next(call)
		if err != nil {
			return nil, err
		}
		if d.answer != nil {
			j.write(journal.Record{Type: journal.TypeDone, Call: &call, Outcome: d.answer.Outcome, Result: d.answer.Result,
				Replayed: true}, false)
			return d.answer.Result.Nodes, nil
		}
	}
	j.write(journal.Record{Type: journal.TypeSent, Call: &call}, true)
	start := j.clock.Now()
	ids, err := j.fleet.Discover(ctx, opts)
	rec := journal.Record{Type: journal.TypeDone, Call: &call,
		Outcome: &journal.Outcome{Targets: nonNil(ids), Seconds: j.clock.Now().Sub(start).Seconds()}}
	if err != nil {
		rec.Error = err.Error()
	} else {
		rec.Result = &journal.Result{Nodes: nonNil(ids)}
	}
	j.write(rec, false)
	return ids, err
}

// Call records an rpc: a sent mark, fsynced before the request leaves, then its outcome and
// result. When resuming, a call the original run completed is answered from its journal.
func (j *runJournal) Call(ctx context.Context, agent, action string, args map[string]any, opts client.CallOptions) (*client.Results, error) {
	enc, err := journal.EncodeValue(args)
	if err != nil {
		return nil, err
	}
	call := journal.Call{Kind: "rpc", Agent: agent, Action: action, Args: enc, Filter: filterText(opts.Filter),
		Nodes: opts.Nodes, Collective: opts.Collective, Limit: opts.Limit, Batch: opts.Batch}
	var kept *client.Results // resuming with --retry-failed: the replies not sent again
	if j.rp != nil {
		d, err := j.rp.next(call)
		if err != nil {
			return nil, err
		}
		if d.answer != nil {
			res, err := fromJournal(agent, action, d.answer)
			if err == nil {
				j.write(journal.Record{Type: journal.TypeDone, Call: &call, Outcome: d.answer.Outcome,
					Result: d.answer.Result, Replayed: true}, false)
				return res, nil
			}
			j.rp.notef("the result of %s does not read (%v): it is sent again", journal.CallString(call), err)
		}
		if d.retry != nil {
			opts.Nodes = d.retry
			if kept, err = fromJournal(agent, action, d.keep); err != nil {
				kept = nil
				opts.Nodes = call.Nodes
			}
		}
	}
	j.write(journal.Record{Type: journal.TypeSent, Call: &call}, true)
	res, err := j.fleet.Call(ctx, agent, action, args, opts)
	if kept != nil && res != nil {
		res = merge(kept, res)
	}
	rec := journal.Record{Type: journal.TypeDone, Call: &call}
	if res != nil {
		rec.Outcome = callOutcome(res)
		if err == nil {
			rec.Result, _ = toJournal(res) // a result that cannot be recorded is sent again on resume
		}
	}
	if err != nil {
		rec.Error = err.Error()
	}
	j.write(rec, false)
	return res, err
}

// Now records each reading of the playbook's clock, or replays the original run's.
func (j *runJournal) Now() time.Time {
	if j.rp != nil {
		if t, ok := j.rp.now(); ok {
			j.write(journal.Record{Type: journal.TypeNow, Now: &t}, false)
			return t
		}
	}
	t := j.clock.Now()
	if j.rp != nil {
		t = j.rp.shift(t)
	}
	t = t.UTC()
	j.write(journal.Record{Type: journal.TypeNow, Now: &t}, false)
	return t
}

// Sleep waits on the live clock, except for a wait a resume replays: the original run
// already waited. Consecutive sleeps are recorded as one.
func (j *runJournal) Sleep(ctx context.Context, d time.Duration) error {
	live := j.rp == nil || !j.rp.slept(d) && !j.rp.dryRun
	if live && j.rp != nil {
		j.rp.shift(j.clock.Now()) // the time down ends here, before this wait's time passes
	}
	if live {
		if err := j.clock.Sleep(ctx, d); err != nil {
			return err
		}
	} else if err := ctx.Err(); err != nil {
		return err
	}
	j.mu.Lock()
	j.sleep += d
	j.mu.Unlock()
	return nil
}

// Log passes a log() line to the display.
func (j *runJournal) Log(msg string, fields map[string]any) { j.log.Log(msg, fields) }

// Step passes a call event to the display, and records the rpc a dry run did not send.
func (j *runJournal) Step(ev starlib.Event) {
	if ev.Kind == "rpc" && ev.DryRun {
		args, _ := journal.EncodeValue(ev.Args)
		j.write(journal.Record{Type: journal.TypeDone, DryRun: true, Polled: ev.Polled,
			Call:    &journal.Call{Kind: "rpc", Agent: ev.Agent, Action: ev.Action, Args: args},
			Outcome: &journal.Outcome{Targets: nonNil(ev.Targets), OK: ev.OK, Seconds: ev.Duration.Seconds()}}, false)
	}
	j.log.Step(ev)
}

// BatchStart records the start of a rolling() step.
func (j *runJournal) BatchStart(b starlib.BatchReport) {
	j.write(journal.Record{Type: journal.TypeBatchStart, Batch: &journal.Batch{Index: b.Index, Kind: b.Kind,
		Nodes: nonNil(b.Nodes.IDs())}}, false)
}

// Batch records a rolling() step.
func (j *runJournal) Batch(b starlib.BatchReport, stopped string) {
	j.write(journal.Record{Type: journal.TypeBatch, Batch: &journal.Batch{Index: b.Index, Kind: b.Kind,
		Nodes: nonNil(b.Nodes.IDs()), Done: b.Done.IDs(), Failed: b.Failed.IDs(), Missing: b.Missing.IDs(),
		Gate: b.Gate, Stopped: stopped}}, false)
}

func callOutcome(res *client.Results) *journal.Outcome {
	o := &journal.Outcome{Targets: nonNil(res.Targets), Missing: res.Missing, Seconds: res.Elapsed.Seconds()}
	if len(res.Reasons) > 0 {
		o.Reasons = maps.Clone(res.Reasons)
	}
	for _, r := range res.OK {
		o.OK = append(o.OK, r.Sender)
	}
	for _, r := range res.Failed {
		o.Failed = append(o.Failed, r.Sender)
	}
	return o
}

func replies(rs []client.Result) ([]journal.Reply, error) {
	var out []journal.Reply
	for _, r := range rs {
		data, err := journal.EncodeValue(r.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, journal.Reply{Sender: r.Sender, Code: int(r.Code), Message: r.Message, Data: data,
			Elapsed: r.Elapsed.Seconds()})
	}
	return out, nil
}

// toJournal is a call's result as the journal keeps it.
func toJournal(res *client.Results) (*journal.Result, error) {
	ok, err := replies(res.OK)
	if err != nil {
		return nil, err
	}
	failed, err := replies(res.Failed)
	if err != nil {
		return nil, err
	}
	return &journal.Result{RequestID: res.RequestID, Batches: res.Batches, OK: ok, Failed: failed,
		Discovery: res.Discovery.Seconds(), Elapsed: res.Elapsed.Seconds()}, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func fromReplies(rs []journal.Reply) ([]client.Result, error) {
	var out []client.Result
	for _, r := range rs {
		v, err := journal.DecodeValue(r.Data)
		if err != nil {
			return nil, err
		}
		data, _ := v.(map[string]any)
		out = append(out, client.Result{Sender: r.Sender, Code: message.Status(r.Code), Message: r.Message,
			Data: data, Elapsed: seconds(r.Elapsed)})
	}
	return out, nil
}

// fromJournal is the result a completed call returned, as the client returned it.
func fromJournal(agent, action string, rec *journal.Record) (*client.Results, error) {
	if rec.Result == nil || rec.Outcome == nil {
		return nil, errNoResult
	}
	ok, err := fromReplies(rec.Result.OK)
	if err != nil {
		return nil, err
	}
	failed, err := fromReplies(rec.Result.Failed)
	if err != nil {
		return nil, err
	}
	return &client.Results{Agent: agent, Action: action, RequestID: rec.Result.RequestID,
		Targets: rec.Outcome.Targets, Batches: rec.Result.Batches, OK: ok, Failed: failed,
		Missing: rec.Outcome.Missing, Reasons: maps.Clone(rec.Outcome.Reasons), Discovery: seconds(rec.Result.Discovery), Elapsed: seconds(rec.Result.Elapsed)}, nil
}

// startJournal starts the run's recorder: its id, its journal file under o.Journal (none for
// a resume --dry-run), the --events stream, and the replay of o.Resume.
func startJournal(o Options, src []byte, clock starlib.Clock, rep *Report) (*runJournal, *result) {
	abs, err := filepath.Abs(o.File)
	if err != nil {
		r := usage(fmt.Errorf("playbook: %w", err))
		return nil, &r
	}
	id := journal.NewID(rep.Started)
	h := journal.Header{RunID: id, Playbook: o.File, Path: abs, Source: string(src), SHA256: hashOf(src),
		Args: rep.Args, Config: o.Identity, DryRun: o.DryRun}
	var notify io.Writer = o.Stderr
	if o.Resume != nil {
		rj := o.Resume.Journal
		if rj.Header.Path != abs {
			r := result{code: ExitMismatch, status: StatusFailed, err: fmt.Errorf(
				"resume: run %s is a run of %s, not of %s; nothing sent", o.Resume.ID, rj.Header.Path, abs)}
			return nil, &r
		}
		if rj.Header.DryRun {
			r := usage(fmt.Errorf("resume: run %s was a dry run: nothing to resume from it", o.Resume.ID))
			return nil, &r
		}
		h.ResumeOf = o.Resume.ID
		rep.ResumeOf = o.Resume.ID
		if rj.Header.SHA256 != h.SHA256 {
			fmt.Fprintf(notify, "resume: warning: %s changed since run %s; its calls are checked against the journal\n", o.File, o.Resume.ID)
		}
		if rj.Truncated {
			fmt.Fprintf(notify, "resume: run %s's journal ends in a cut-short line (a crash while writing it); read up to its last complete record\n", o.Resume.ID)
		}
	}
	var sinks []journal.Sink
	if o.Events != nil {
		sinks = append(sinks, eventSink(o.Events))
	}
	dir := ""
	if o.Journal != "" && (o.Resume == nil || !o.Resume.DryRun) {
		if dir, err = journal.RunDir(o.Journal, id); err != nil {
			r := usage(err)
			return nil, &r
		}
		rep.Journal = dir
	}
	h.Started = rep.Started
	w, err := journal.Create(dir, h, sinks...)
	if err != nil {
		r := usage(fmt.Errorf("%w; give another runs directory with --journal", err))
		return nil, &r
	}
	rep.RunID = id
	jr := &runJournal{w: w, clock: clock}
	if o.Resume != nil {
		jr.rp = newReplay(o.Resume, notify)
		if jr.rp.stop != "" && !o.Resume.RetryFailed {
			jr.rp.notef("run %s stopped at its failure threshold (%s): without --retry-failed the resume replays to the same stop", o.Resume.ID, jr.rp.stop)
		}
	}
	return jr, nil
}
