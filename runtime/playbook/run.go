package playbook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"time"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/journal"
	"github.com/mcorun/mcorun/starlib"

	"github.com/mcorun/mcorun/runtime/plural"
)

// Options are the settings of one playbook run. The zero value of every field but File and
// Fleet is the default.
type Options struct {
	File   string            // the playbook file
	Source []byte            // the playbook's text; nil reads File
	Args   map[string]string // raw --arg k=v values, typed by the playbook's params()
	Fleet  starlib.Fleet     // what discover() and rpc() act on; required
	// DataDDLs finds the data plugin DDLs that filter.compound checks its calls against;
	// nil means the built-in ones.
	DataDDLs ddl.DataFunc

	DryRun   bool                // send only read-only actions (see the package doc)
	ReadOnly map[string][]string // actions a dry run still sends; nil means DefaultReadOnly()

	ReportFile string // write the JSON Report here; empty for none
	LockPath   string // the overlap lock file; empty means DefaultLockPath(File)
	NoLock     bool   // run without the overlap lock

	MaxSteps uint64        // Starlark step budget; 0 for none
	Timeout  time.Duration // wall-clock budget; 0 for none

	Stdout   io.Writer     // print() output; nil means os.Stdout
	Stderr   io.Writer     // log and progress lines, errors; nil means os.Stderr
	Progress bool          // a live progress bar during rpc calls when Stderr is a terminal
	Quiet    bool          // no progress line for a step that did not fail; log() and errors still show
	JSON     bool          // write the Report to Stdout as the machine-readable outcome
	Clock    starlib.Clock // the playbook's clock (sleep, waits, time.now()); nil is the real one

	// Journal is the runs directory: the run's journal goes to Journal/RUN_ID (docs/journal.md).
	// Empty writes none; Events and Resume work without it.
	Journal  string
	Identity journal.Identity // the config the run acts through, for the journal's header
	Events   io.Writer        // the journal's records without results, one JSON line each; nil for none
	Resume   *Resume          // re-execute from an earlier run's journal
	// KeepRuns and MaxAge prune Journal after the run: the newest KeepRuns runs are kept and
	// none older than MaxAge (0: no limit).
	KeepRuns int
	MaxAge   time.Duration
}

// Outcome is the result of Run: the process exit code, the error (nil on success), already
// printed to Stderr, and the run's report.
type Outcome struct {
	ExitCode int
	Err      error
	Report   *Report
}

// Run executes a playbook as described in the package documentation and returns its
// outcome. It prints the error of a failed run to Stderr itself; the caller only exits with
// Outcome.ExitCode. Cancelling ctx interrupts the run (ExitInterrupted).
func Run(ctx context.Context, o Options) Outcome {
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	clock := o.Clock
	if clock == nil {
		clock = starlib.WallClock{}
	}
	rep := &Report{Playbook: o.File, Args: map[string]string{}, Data: map[string]any{}, DryRun: o.DryRun, Started: clock.Now().UTC(),
		Steps: []Step{}, Log: []LogLine{}}
	maps.Copy(rep.Args, o.Args)
	rec := &recorder{rep: rep}

	var jr *runJournal
	res := execute(ctx, o, clock, rec, &jr)

	rep.Finished = clock.Now().UTC()
	rep.Duration = rep.Finished.Sub(rep.Started).Seconds()
	rep.Outcome = ReportOutcome{ExitCode: res.code, Status: res.status, Backtrace: res.backtrace}
	if res.err != nil {
		rep.Outcome.Error = res.err.Error()
	}
	if jr != nil {
		if jr.rp != nil {
			jr.rp.finish()
		}
		var mismatch *MismatchError
		end := journal.End{Status: res.status, ExitCode: res.code, Error: rep.Outcome.Error,
			Superseded: errors.As(res.err, &mismatch)}
		if err := jr.end(end); err != nil {
			fmt.Fprintf(o.Stderr, "journal: %v\n", err)
		}
		if o.Journal != "" && (o.KeepRuns > 0 || o.MaxAge > 0) {
			if _, err := journal.Prune(o.Journal, o.KeepRuns, o.MaxAge, time.Now(), rep.RunID); err != nil {
				fmt.Fprintf(o.Stderr, "journal: %v\n", err)
			}
		}
	}
	if res.err != nil {
		msg := res.err.Error()
		if res.backtrace != "" {
			msg += "\n" + res.backtrace
		}
		fmt.Fprintln(o.Stderr, msg)
	}
	if o.ReportFile != "" && !res.noReport {
		err := writeReport(o.ReportFile, rep)
		if err != nil {
			err = fmt.Errorf("report: %w", err)
			fmt.Fprintln(o.Stderr, err)
			if res.code == ExitOK {
				res.code, res.err = ExitFailed, err
				rep.Outcome.ExitCode, rep.Outcome.Status, rep.Outcome.Error = ExitFailed, StatusFailed, err.Error()
			}
		}
	}
	if o.JSON {
		if b, err := encodeReport(rep); err == nil {
			_, _ = o.Stdout.Write(b)
		} else {
			fmt.Fprintf(o.Stderr, "json: %v\n", err)
		}
	}
	return Outcome{ExitCode: res.code, Err: res.err, Report: rep}
}

func writeReport(path string, rep *Report) error {
	b, err := encodeReport(rep)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

// DryRunBanner is the first line a dry run prints where print() output goes.
const DryRunBanner = "DRY RUN: no change is sent; read-only calls run for real"

// result is what execute decided.
type result struct {
	code      int
	status    string
	err       error
	backtrace string
	noReport  bool // the report path itself is unusable
}

func usage(err error) result { return result{code: ExitUsage, status: StatusFailed, err: err} }

// execute runs the playbook between the checks and the report.
func execute(ctx context.Context, o Options, clock starlib.Clock, rec *recorder, jrOut **runJournal) result {
	if o.File == "" {
		return usage(errors.New("playbook: no playbook file given"))
	}
	src := o.Source
	if src == nil {
		b, err := os.ReadFile(o.File)
		if err != nil {
			return usage(fmt.Errorf("playbook: %w", err))
		}
		src = b
	}
	if o.Fleet == nil {
		return usage(errors.New("playbook: no fleet to run on"))
	}
	if o.ReportFile != "" {
		if err := checkWritableDir(o.ReportFile); err != nil {
			r := usage(fmt.Errorf("report: %s: cannot write beside it: %w", o.ReportFile, err))
			r.noReport = true
			return r
		}
	}
	if err := CheckArgs(o.File, src, o.Args); err != nil {
		return usage(err)
	}
	if !o.NoLock {
		path := o.LockPath
		if path == "" {
			p, err := DefaultLockPath(o.File)
			if err != nil {
				return usage(err)
			}
			path = p
		}
		unlock, err := acquire(path)
		var locked *errLocked
		if errors.As(err, &locked) {
			return result{code: ExitLocked, status: StatusSkipped, err: err}
		}
		if err != nil {
			return usage(err)
		}
		defer unlock()
	}

	printOut := o.Stdout
	if o.JSON || o.Events != nil && o.Events == o.Stdout {
		printOut = o.Stderr // stdout carries the machine-readable document or events
	}
	jr, failed := startJournal(o, src, clock, rec.rep)
	if failed != nil {
		return *failed
	}
	*jrOut = jr
	if o.DryRun {
		fmt.Fprintln(printOut, DryRunBanner)
	}
	logger := &progress{w: o.Stderr, color: colorAllowed(o.Stderr), quiet: o.Quiet, clock: clock, rec: rec}
	jr.log = logger
	thread := &starlark.Thread{
		Name: "playbook " + o.File,
		Print: func(_ *starlark.Thread, msg string) {
			rec.line(clock.Now(), "print", msg, nil)
			logger.mu.Lock()
			defer logger.mu.Unlock()
			fmt.Fprintln(printOut, msg)
		},
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.Timeout > 0 {
		runCtx, cancel = context.WithTimeout(runCtx, o.Timeout)
		defer cancel()
	}
	var fleet starlib.Fleet = o.Fleet
	if o.Progress && !o.Quiet && isTerminal(o.Stderr) {
		fleet = barFleet{Fleet: o.Fleet, w: o.Stderr, color: logger.color}
	}
	jr.fleet = fleet
	starlib.SetFleet(thread, jr)
	if o.DataDDLs != nil {
		starlib.SetDataDDLs(thread, o.DataDDLs)
	}
	starlib.SetContext(thread, runCtx)
	starlib.SetClock(thread, jr)
	starlib.SetLogger(thread, jr)
	if o.DryRun {
		ro := o.ReadOnly
		if ro == nil {
			ro = DefaultReadOnly()
		}
		starlib.SetDryRun(thread, changesState(ro))
	}
	starlib.SetArgs(thread, o.Args)
	if o.MaxSteps > 0 {
		thread.SetMaxExecutionSteps(o.MaxSteps)
	}

	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-runCtx.Done():
			thread.Cancel(cancelReason(ctx, runCtx, o.Timeout))
		case <-done:
		}
	}()
	_, err := starlib.Run(thread, o.File, src, starlib.RunOptions{ReadFile: jr.readFile(os.ReadFile)})
	close(done)
	<-stopped
	rec.data(starlib.ReportData(thread))
	var exit *starlib.ExitError
	if err == nil || errors.As(err, &exit) && exit.Code == ExitOK && ctx.Err() == nil {
		if err := starlib.CheckArgs(thread); err != nil {
			return usage(err)
		}
		return result{code: ExitOK, status: StatusOK}
	}
	return classify(err, ctx, runCtx, o)
}

// cancelReason is the thread.Cancel reason for a done run context.
func cancelReason(parent, run context.Context, timeout time.Duration) string {
	if parent.Err() != nil {
		return "interrupted"
	}
	if errors.Is(run.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("timeout after %s (--timeout)", timeout)
	}
	return "cancelled"
}

// builtinFile is the file name of a builtin's frame in a Starlark call stack.
const builtinFile = "<builtin>"

// traceback is the Starlark call stack of an evaluation error without its message, which
// the run prints just above it: EvalError.Backtrace ends with "Error in fn: <message>", and
// printing both showed the message twice. A builtin's own frame (fail, rpc, ...) is left out,
// as Backtrace does; the message names the builtin.
// callSite is the playbook position of the innermost Starlark call of an evaluation error,
// such as the exit() call that ended the run.
func callSite(e *starlark.EvalError) string {
	for i := len(e.CallStack) - 1; i >= 0; i-- {
		if pos := e.CallStack[i].Pos; pos.Filename() != builtinFile {
			return pos.String()
		}
	}
	return "<unknown>"
}

// classify turns the error of a run into its exit code, status and message.
func classify(err error, parent, run context.Context, o Options) result {
	r := result{code: ExitFailed, status: StatusFailed, err: err}
	var evalErr *starlark.EvalError
	if errors.As(err, &evalErr) {
		r.backtrace = starlib.Stack(evalErr)
	}
	var (
		syntaxErr  syntax.Error
		resolveErr resolve.ErrorList
		exitErr    *starlib.ExitError
		mismatch   *MismatchError
		wouldLive  *WouldGoLiveError
	)
	switch {
	case errors.As(err, &mismatch):
		r.code, r.err, r.backtrace = ExitMismatch, mismatch, ""
	case errors.As(err, &wouldLive):
		r.code, r.status, r.err, r.backtrace = ExitOK, StatusOK, wouldLive, ""
	case parent.Err() != nil:
		r.code, r.status = ExitInterrupted, StatusInterrupted
		r.err = fmt.Errorf("interrupted: %w", err)
	case errors.As(err, &exitErr):
		// the playbook chose its outcome: say where, without a traceback
		r.code, r.backtrace = exitErr.Code, ""
		if evalErr != nil {
			r.err = fmt.Errorf("%s: %w", callSite(evalErr), exitErr)
		}
	case errors.Is(run.Err(), context.DeadlineExceeded):
		r.err = fmt.Errorf("timeout: the playbook ran longer than %s (--timeout): %w", o.Timeout, err)
	case o.MaxSteps > 0 && strings.Contains(err.Error(), "too many steps"):
		r.err = fmt.Errorf("step budget exhausted: more than %s (--max-steps): %w", plural.Count(int(o.MaxSteps), "step", "steps"), err)
	case errors.As(err, &resolveErr):
		msgs := make([]string, len(resolveErr))
		for i, e := range resolveErr {
			msgs[i] = e.Error()
		}
		r.err = errors.New(strings.Join(msgs, "\n"))
	case errors.As(err, &syntaxErr):
	case argError(err) != nil:
		r.code = ExitUsage
		r.err = argError(err)
		r.backtrace = ""
	}
	return r
}
