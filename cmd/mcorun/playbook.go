package main

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/playbook"
	"github.com/mcorun/mcorun/runtime/repl"
	"github.com/mcorun/mcorun/runtime/startest"
)

const runUsage = `Usage:
  mcorun PLAYBOOK.star [--arg key=value]... [flags]
  mcorun run PLAYBOOK.star [--arg key=value]... [flags]

Runs a Starlark playbook. Its discover(), rpc() and filter() calls become
MCollective requests; the replies come back as values it branches on.
--arg values are typed by the playbook's params() declaration; 'mcorun
PLAYBOOK.star --help' shows its header comment and its args first.

A run exits 0 when the playbook ends, whatever its calls returned; fail()
exits 1, and exit(code) ends it at once with 0, 1, 3 (some nodes failed),
4 (some did not reply) or 5 (both), so a script can tell them apart.

A run takes an overlap lock by default (--lock, --no-lock): a second run of
the same playbook while one holds the lock exits 6 at once. --max-steps and
--timeout bound a runaway playbook. SIGINT or SIGTERM cancels the script,
writes the report and exits 130.

Every run has an id and a journal of its calls and their results ('mcorun
runs' lists them; --journal DIR for another runs directory). --events FILE|-
writes the journal's records, without results, as JSON lines while the run
goes. --resume continues the last interrupted run of the playbook, answering
the calls it completed from its journal, or starts a new run when there is
none: for cron ('mcorun resume --help' describes resuming).

--dry-run performs discovery and read-only calls (rpcutil, discovery, puppet
status and last_run_summary) for real. Every other call is checked against
its DDL and its targets are resolved, but it is not sent: a "dry run: would
call" line is logged and the call returns all-ok results with the DDL's
output defaults. The run starts with a "DRY RUN" banner, and a call not sent
shows its nodes as "would run" and "dry-run" instead of a time.

docs/playbooks.md is the guide to writing playbooks: every builtin and value
type, with an example that runs on --sandbox 20.

Examples:
  mcorun playbooks/canary_rollout.star --arg window=5
  mcorun nightly.star --report /var/log/mcorun/nightly.json --timeout 20m
  mcorun --sandbox 20 playbooks/rolling_puppet.star --dry-run
`

const checkUsage = `Usage:
  mcorun check PATH... [--arg key=value]...

Checks playbooks without a broker. A PATH is a playbook or a directory, whose
*.star files (not *_test.star) are checked recursively, each reported on its
own ok or FAIL line. Checked are: syntax and unknown names, load() targets,
rpc() calls with literal agent, action and arguments against the DDLs, and
--arg names and values against its params(). Each problem is printed as
file:line:col: message; the exit code is 1 when there is any. Test files
(*_test.star) are skipped: 'mcorun test' runs them.

Examples:
  mcorun check playbooks/rolling_puppet.star
  mcorun check playbooks/
  mcorun check playbooks/canary_rollout.star --arg window=5
`

const replUsage = `Usage:
  mcorun repl [flags]

An interactive Starlark session with the playbook builtins (discover, rpc,
filter, rolling, ...). Values print as tables, cut to the terminal's width
(--wide: whole), their columns headed by the data keys code reads. help() (or
help or ? alone) lists the builtins, help(rpc) describes one. Ctrl-C cancels
the running call, not the session; Ctrl-D ends it.

TAB completes names, attributes after "x.", keyword arguments, and in rpc()
the agents, actions and inputs of the DDLs: rpc("ser<TAB> gives "service".

Blocks (def, if, for, while) may hold blank lines, so code pastes as it is: a
block ends at a line typed at the left margin, or at two empty lines (press
Enter twice). History is kept in ~/.mcorun_history; within a session the up
arrow recalls a whole block.

Without a terminal, statements are read from standard input; errors name the
input's line, every statement runs, and the exit code is 1 if any failed.
docs/playbooks.md is the guide to the builtins.

Examples:
  mcorun repl
  mcorun --sandbox 10 repl
  echo 'print(discover())' | mcorun repl
`

func runCommand() *command {
	return &command{name: "run", summary: "run a playbook (also: mcorun PLAYBOOK.star)", usage: runUsage, run: runPlaybook}
}

func checkCommand() *command {
	return &command{name: "check", summary: "check a playbook without running it", usage: checkUsage, run: runCheck}
}

func replCommand() *command {
	return &command{name: "repl", summary: "an interactive session with the playbook builtins", usage: replUsage, run: runRepl}
}

// argList is a repeatable --arg key=value flag.
type argList map[string]string

func (a argList) String() string { return "" }
func (a argList) Type() string   { return "key=value" }
func (a argList) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	a[strings.TrimSpace(k)] = val
	return nil
}

type playbookFlags struct {
	common      commonFlags
	args        argList
	report      string
	dryRun      bool
	lock        string
	noLock      bool
	maxSteps    uint64
	timeout     time.Duration
	quiet       bool
	journal     string
	events      string
	resume      bool // run: resume the last interrupted run of the playbook, or start one
	retryFailed bool
	force       bool
}

// addRunFlags defines the flags that run and resume share.
func addRunFlags(fs *pflag.FlagSet, p *playbookFlags) {
	fs.StringVar(&p.report, "report", "", "write a JSON record of every step and the outcome to this file")
	fs.StringVar(&p.lock, "lock", "", "overlap lock file (default: one per playbook in the temp directory)")
	fs.BoolVar(&p.noLock, "no-lock", false, "run without the overlap lock")
	fs.Uint64Var(&p.maxSteps, "max-steps", 0, "stop after this many Starlark steps (0: no limit)")
	fs.DurationVar(&p.timeout, "timeout", 0, "stop the playbook after this long, e.g. 20m (0: no limit)")
	fs.StringVar(&p.journal, "journal", "", "the runs directory of the run journals (default $XDG_STATE_HOME/mcorun/runs)")
	fs.StringVar(&p.events, "events", "", "write one JSON line per journal record, without results, to FILE or - (stdout)")
	fs.BoolVarP(&p.common.json, "json", "j", false, "print the run's JSON record on stdout")
	fs.BoolVarP(&p.common.verbose, "verbose", "v", false, "more detail, including config warnings")
	fs.BoolVar(&p.common.noProgress, "np", false, "no progress bar")
	fs.BoolVarP(&p.quiet, "quiet", "q", false, "no progress lines nor bar; log(), print() and errors still show")
}

func runPlaybook(ctx context.Context, e *env, args []string) int {
	p := playbookFlags{args: argList{}}
	fs := pflag.NewFlagSet("mcorun run", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringVar(&p.common.configFile, "config", "", "client config file (default ~/.mcollective, else /etc/mcollective/client.cfg)")
	fs.Var(p.args, "arg", "a playbook argument, key=value (repeatable), typed by the playbook's params()")
	fs.BoolVar(&p.dryRun, "dry-run", false, "send discovery and read-only calls only; see above")
	fs.BoolVar(&p.resume, "resume", false, "resume the last interrupted run of this playbook, or start a new run (for cron)")
	fs.BoolVar(&p.retryFailed, "retry-failed", false, "with --resume: send the step that stopped a rolling() again to its failed nodes")
	addRunFlags(fs, &p)
	if code, ok := playbookHelp(e, args); !ok {
		return code
	}
	s, fl, closeFn, code, ok := startVerb(ctx, e, "run", runUsage, fs, &p.common, args, func(fs *pflag.FlagSet) error {
		if fs.NArg() != 1 {
			return errors.New("want exactly one playbook file")
		}
		src, err := os.ReadFile(fs.Arg(0))
		if errors.Is(err, iofs.ErrNotExist) {
			return fmt.Errorf("playbook %s: no such file", fs.Arg(0))
		} else if err != nil {
			return fmt.Errorf("playbook %s: %w", fs.Arg(0), err)
		}
		// ill-typed or unknown --args are refused before connecting to the broker
		return playbook.CheckArgs(fs.Arg(0), src, p.args)
	})
	if !ok {
		return code
	}
	defer closeFn()
	js, err := journalSettings(e, s.cfg, p.journal)
	if err != nil {
		return usageErr(e, "run", err)
	}
	var resume *playbook.Resume
	if p.resume && !p.dryRun {
		if resume, code, ok = lastRun(e, js, fs.Arg(0), p, false); !ok {
			return code
		}
	}
	return runWith(ctx, e, s, fl, js, fs.Arg(0), p, resume)
}

// runWith runs a playbook, or resumes a run of it, with the run flags.
func runWith(ctx context.Context, e *env, s *session, fl fleet, js journalConf, file string, p playbookFlags, resume *playbook.Resume) int {
	o := playbook.Options{
		File: file, Args: p.args, Fleet: fl, DataDDLs: ddl.DataFromLibDirs(s.cfg.LibDir),
		DryRun: p.dryRun, ReportFile: p.report,
		LockPath: p.lock, NoLock: p.noLock, MaxSteps: p.maxSteps, Timeout: p.timeout,
		Stdout: e.stdout, Stderr: e.stderr, Progress: e.stderrTTY && !p.common.noProgress, Quiet: p.quiet,
		JSON: p.common.json, Journal: js.base, KeepRuns: js.keep, MaxAge: js.maxAge,
		Identity: identity(e, s.cfg), Resume: resume,
	}
	if p.events != "" {
		w, closeEvents, err := openEvents(e, p.events)
		if err != nil {
			return usageErr(e, "run", err)
		}
		defer closeEvents()
		o.Events = w
	}
	return playbook.Run(ctx, o).ExitCode
}

func runCheck(_ context.Context, e *env, args []string) int {
	var c commonFlags
	vals := argList{}
	fs := pflag.NewFlagSet("mcorun check", pflag.ContinueOnError)
	fs.StringVar(&c.configFile, "config", "", "client config file, for DDLs in its libdir (optional)")
	fs.Var(vals, "arg", "a playbook argument to check against params(), key=value (repeatable)")
	if done, err := parseFlags(e, fs, checkUsage, args); done {
		return exitOK
	} else if err != nil {
		return usageErr(e, "check", err)
	}
	if fs.NArg() == 0 {
		return usageErr(e, "check", errors.New("want one or more playbook files or directories"))
	}
	files, perFile, err := checkFiles(fs.Args())
	if err != nil {
		return usageErr(e, "check", err)
	}
	find, data := checkDDLs(e, c.configFile)
	failed := false
	for _, file := range files {
		if strings.HasSuffix(file, "_test.star") {
			// Test files use the test builtins (fleet, run_playbook, assert.star), which
			// only 'mcorun test' provides: checking them would report every one as unknown.
			fmt.Fprintf(e.stderr, "mcorun check: %s: a test file, skipped; run it with 'mcorun test %s'\n", file, file)
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			return usageErr(e, "check", err)
		}
		diags := playbook.CheckData(file, src, find, data, vals)
		for _, d := range diags {
			fmt.Fprintln(e.stderr, d)
		}
		failed = failed || len(diags) > 0
		if perFile {
			status := "ok  "
			if len(diags) > 0 {
				status = "FAIL"
			}
			fmt.Fprintf(e.stdout, "%s\t%s\n", status, file)
		}
	}
	if failed {
		return exitFailure
	}
	return exitOK
}

// checkFiles expands check's operands: a file as given, a directory into every playbook
// (*.star but not *_test.star) below it, found as 'mcorun test' finds its files. perFile
// is true when a directory was given: check then prints one ok or FAIL line per file, so
// the files it found are visible.
func checkFiles(paths []string) (files []string, perFile bool, err error) {
	isPlaybook := func(name string) bool {
		return strings.HasSuffix(name, ".star") && !strings.HasSuffix(name, "_test.star")
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if errors.Is(err, iofs.ErrNotExist) {
			return nil, false, fmt.Errorf("playbook %s: no such file or directory", p)
		} else if err != nil {
			return nil, false, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		found, err := startest.FindFiles([]string{p}, isPlaybook)
		if err != nil {
			return nil, false, err
		}
		if len(found) == 0 {
			return nil, false, fmt.Errorf("no playbooks (*.star files other than *_test.star) in %s", p)
		}
		files, perFile = append(files, found...), true
	}
	return files, perFile, nil
}

// checkDDLs finds agent and data plugin DDLs for check: JSON DDLs in the libdir of the
// config when one can be read, then the built-in ones. check never needs a broker.
func checkDDLs(e *env, configFlag string) (playbook.DDLFunc, ddl.DataFunc) {
	var dirs []string
	if cfg, err := loadConfig(e, &commonFlags{configFile: configFlag}); err == nil {
		dirs = cfg.LibDir
	}
	find, warnings := ddl.FromLibDirs(dirs)
	for _, w := range warnings {
		fmt.Fprintf(e.stderr, "mcorun check: warning: %v\n", w)
	}
	return find, ddl.DataFromLibDirs(dirs)
}

func runRepl(ctx context.Context, e *env, args []string) int {
	var c commonFlags
	fs := pflag.NewFlagSet("mcorun repl", pflag.ContinueOnError)
	fs.StringVar(&c.configFile, "config", "", "client config file (default ~/.mcollective, else /etc/mcollective/client.cfg)")
	fs.BoolVarP(&c.verbose, "verbose", "v", false, "more detail, including config warnings")
	fs.BoolVar(&c.wide, "wide", false, "do not cut tables to the terminal's width")
	s, fl, closeFn, code, ok := startVerb(ctx, e, "repl", replUsage, fs, &c, args, noOperands)
	if !ok {
		return code
	}
	defer closeFn()
	err := repl.Run(ctx, repl.Options{Fleet: fl, In: e.stdin, Out: e.stdout, Err: e.stderr, Interactive: e.stdinTTY && e.stdoutTTY,
		Width: tableStyle(e, &c).Width, Agents: knownAgents(s.cfg)})
	if err != nil {
		fmt.Fprintf(e.stderr, "mcorun repl: %v\n", err)
		return exitFailure
	}
	return exitOK
}
