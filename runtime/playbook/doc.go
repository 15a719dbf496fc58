// Package playbook runs mcorun playbooks (Run) and checks them statically (Check). The
// command line's run, check and verbs share its exit codes.
//
// Run executes one playbook file on a Fleet with the builtins of package starlib and does
// what a cron job needs around it:
//
//   - Args: --arg k=v values are typed by the playbook's params() declaration. When the
//     playbook's own file calls params() with literal defaults, unknown and ill-typed args
//     are rejected before anything runs (ExitUsage); otherwise params() rejects them when it
//     runs, which is also ExitUsage.
//   - Overlap lock: an exclusive flock, on by default, on DefaultLockPath(file), that is
//     <os.TempDir()>/mcorun-<first 16 hex digits of the sha256 of the playbook's absolute,
//     symlink-resolved path>.lock. Options.LockPath overrides it and Options.NoLock disables
//     it. When another run holds the lock, Run returns ExitLocked at once, without running
//     anything, and says which lock file is held and how to bypass it. The lock file is left
//     in place after the run: removing it would race with a run that is waiting to open it.
//   - Budgets: Options.MaxSteps bounds the Starlark steps (thread.SetMaxExecutionSteps) and
//     Options.Timeout the wall-clock time (a context deadline, which cancels the thread and
//     every in-flight discovery, rpc and wait). Running out of either is a playbook failure,
//     ExitFailed, with a message naming the budget.
//   - Signals: the caller cancels the context it passes (on SIGINT or SIGTERM). Run then
//     cancels the thread (thread.Cancel), which aborts in-flight fleet calls and waits, writes
//     the report and returns ExitInterrupted.
//   - Report: Options.ReportFile receives a JSON Report of every discover and rpc step, the
//     log lines and the outcome. It is written in every case, including failures, a held
//     lock and interrupts, atomically (a temporary file in the same directory, then rename).
//     Its directory is checked before the playbook runs.
//   - Output: print() goes to Stdout; log() lines, one progress line per discover or rpc
//     step and the final error (a Starlark backtrace that points at the playbook line) go to
//     Stderr. A wait_until prints one line (its polls, time and outcome) instead of a line
//     per call its function makes; the report keeps those calls, marked polled, and the
//     wait as a step of kind "wait". Options.Quiet (-q) prints no step line at all except
//     for a failed call; log() lines, print() and errors still show. With Options.Progress and a terminal on Stderr, an rpc call also shows a live
//     progress bar while replies arrive. NO_COLOR, or Stderr that is not a terminal, gives
//     plain text without colours or bars. With Options.JSON, print() also goes to Stderr and
//     Stdout receives only the Report as one JSON document.
//
// Dry run (Options.DryRun): discovery runs for real, and so do rpc calls to read-only
// actions, as listed by Options.ReadOnly (nil means DefaultReadOnly: every rpcutil and
// discovery action, puppet status and last_run_summary). Every other action is treated as
// changing state: it is not sent. Its targets are still found (the given nodes, or a real
// discovery with the call's filter), a "dry run: would call AGENT.ACTION on N nodes" line
// with the arguments and nodes is logged, the arguments are still validated against the DDL,
// and the call returns an all-ok ResultSet for the targets whose data holds the DDL's output
// defaults. A dry run cannot pass for a real one: it prints DryRunBanner first where print()
// output goes, the progress line of a call not sent shows "would-run=N" and "dry-run" in
// place of the ok counts and the time, its ResultSet prints as "dry run, N would run", and
// the report has dry_run true at the top and on each step not sent. sleep(), wait_until()
// and rolling()'s sleeps wait for real, so a dry run follows the same timeline.
//
// Exit codes (the README's table is the one list; these are the codes a run returns):
//
//	0    ExitOK               success, or exit(0)
//	1    ExitFailed           the playbook failed: fail(), exit(1), a Starlark error (with a
//	                          backtrace), a syntax or resolve error in a playbook or a loaded
//	                          file, --timeout or --max-steps exhausted, or the report could
//	                          not be written
//	2    ExitUsage            usage or configuration error: bad or unknown --arg, no playbook
//	                          file, no fleet, unusable lock or report path
//	3    ExitSomeFailed       exit(3): the playbook says some nodes failed
//	4    ExitSomeMissing      exit(4): the playbook says some nodes did not reply
//	5    ExitFailedAndMissing exit(5): both
//	6    ExitLocked           skipped: another run holds the overlap lock
//	7    ExitNothingToResume  resume: no interrupted run of that playbook, or the run ended ok
//	8    ExitMismatch         resume: the playbook's calls differ from the journal; nothing sent
//	130  ExitInterrupted      interrupted by SIGINT or SIGTERM; the report is still written
//
// A run exits 0 when the playbook ends, whatever its rpc calls returned: the playbook decides
// what its replies mean and says so with exit(3), exit(4) or exit(5), which end the run at
// once with that code (status "failed" in the report, the error naming the exit() call).
// exit() refuses 2, 6 and 130, which describe mcorun itself.
//
// Syntax errors are playbook failures (1), not usage errors: they are found when the file
// runs, like any other error in the playbook's text; `mcorun check` finds them without
// running anything.
package playbook

// The exit codes of mcorun; see the package documentation for the table.
const (
	ExitOK               = 0
	ExitFailed           = 1
	ExitUsage            = 2
	ExitSomeFailed       = 3
	ExitSomeMissing      = 4
	ExitFailedAndMissing = 5
	ExitLocked           = 6
	ExitNothingToResume  = 7
	ExitMismatch         = 8
	ExitInterrupted      = 130
)

// The statuses of Report.Outcome.Status.
const (
	StatusOK          = "ok"
	StatusFailed      = "failed"
	StatusInterrupted = "interrupted"
	StatusSkipped     = "skipped"
)
