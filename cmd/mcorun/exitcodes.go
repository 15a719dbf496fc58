package main

import (
	"context"
	"fmt"
	"io"

	"github.com/mcorun/mcorun/runtime/client"
)

// Exit codes of every mcorun command. One table serves the mco verbs and the playbook
// commands, so a script or a cron job can rely on it whatever it runs:
//
//	0  ok: every discovered node replied and succeeded
//	1  nothing was discovered (verbs), or the command could not run: broker unreachable,
//	   a discovery source failed, or the playbook failed
//	2  usage or configuration error: bad flag, bad filter, bad key=value, missing or broken
//	   config file, a filter the discovery method cannot evaluate; nothing was sent
//	3  some nodes failed (replied with an error status)
//	4  some nodes did not reply (discovered but missing)
//	5  some nodes failed and some did not reply
//	6  skipped because another run holds the lock (playbooks)
//	130 interrupted by SIGINT or SIGTERM; a playbook's report is still written
//
// mco uses 1 nothing discovered, 2 some failed, 3 no replies and 4 neither; mcorun keeps 1
// and moves the others up by one so that 2 means a usage error, as for most Unix tools.
const (
	exitOK                = 0
	exitNothingDiscovered = 1
	exitFailure           = 1 // the same code: the command did not do its job
	exitUsage             = 2
	exitFailed            = 3
	exitMissing           = 4
	exitFailedAndMissing  = 5
	exitLocked            = 6
	exitInterrupted       = 130
)

// exitHelp is the exit code table as shown by mcorun --help.
const exitHelp = `Exit codes:
  0  ok
  1  nothing discovered, broker or discovery source failed, or playbook failed
  2  usage or configuration error (nothing was sent)
  3  some nodes failed
  4  some nodes did not reply
  5  some nodes failed and some did not reply
  6  skipped: another run holds the lock (playbooks)
  130 interrupted by SIGINT or SIGTERM (a playbook's report is still written)
`

// interruptedExit returns the exit code of a command that ended with code: a command that a
// signal cut short (ctx is done) and that did not succeed exits 130, whatever it returned, so
// that scripts can tell an interruption from a failure.
func interruptedExit(ctx context.Context, code int, stderr io.Writer) int {
	if ctx.Err() == nil || code == exitOK || code == exitInterrupted {
		return code
	}
	fmt.Fprintln(stderr, "mcorun: interrupted")
	return exitInterrupted
}

// exitForCounts maps the outcome of a request to an exit code.
func exitForCounts(targets, failed, missing int) int {
	switch {
	case targets == 0:
		return exitNothingDiscovered
	case failed > 0 && missing > 0:
		return exitFailedAndMissing
	case failed > 0:
		return exitFailed
	case missing > 0:
		return exitMissing
	}
	return exitOK
}

// exitForResults maps an RPC outcome to an exit code.
func exitForResults(r *client.Results) int {
	if r == nil {
		return exitNothingDiscovered
	}
	targets := len(r.Targets)
	if targets == 0 {
		targets = len(r.OK) + len(r.Failed) + len(r.Missing)
	}
	return exitForCounts(targets, len(r.Failed), len(r.Missing))
}
