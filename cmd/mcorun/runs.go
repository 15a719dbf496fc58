package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/spf13/pflag"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/journal"
	"github.com/mcorun/mcorun/runtime/listing"
	"github.com/mcorun/mcorun/runtime/playbook"
)

const runsUsage = `Usage:
  mcorun runs [--journal DIR] [--format table|json|jsonl|csv|yaml] [--wide]
  mcorun runs show ID [--journal DIR] [--json]

Lists the recent playbook runs, newest first: id, playbook, start, end, status,
and for a run that did not end ok the call or step where it stopped. 'runs
show ID' shows one run's calls and rolling steps with their per-node outcome.

Every playbook run keeps a journal in $XDG_STATE_HOME/mcorun/runs/ID/ (by
default ~/.local/state/mcorun/runs), or under --journal DIR, or under the
config's plugin.mcorun.journal.dir. Old runs are pruned after each run:
plugin.mcorun.journal.keep (default 100 runs) and
plugin.mcorun.journal.max_age_days (default 30). docs/journal.md describes
the format.

Examples:
  mcorun runs
  mcorun runs show 20261206T193000Z-1a2b3c
  mcorun resume 20261206T193000Z-1a2b3c
`

const resumeUsage = `Usage:
  mcorun resume ID [flags]
  mcorun resume --last PLAYBOOK.star [flags]
  mcorun PLAYBOOK.star --resume [--arg key=value]... [flags]   (for cron)

Re-executes a playbook from the journal of a run that stopped half-way, with
that run's args. While the playbook's calls match the journal (same builtin,
agent, action, args and targets), each call the run completed is answered
from the journal and nothing is sent, so nodes a rolling() finished are not
touched again. These go live, and the output names each with its nodes: the
call that ended the run (an error, a cancellation, every node missing), a
call that was sent but never completed (sent again: at least once), and with
--retry-failed the failed and missing nodes of the step where a rolling()
crossed its failure threshold. Without it, such a run replays to the same
stop and says so. After the journal's end the run goes on live.

A call that differs from the journal (the playbook, a file it loads or the
args changed, or it is not deterministic) stops the resume before anything
is sent, naming the call and both versions, with exit code 8; --force goes
on live from there. No run to resume exits 7. --dry-run replays and names
the first call that would go live, sending nothing.

A resume takes the playbook's overlap lock; its journal and report link to
the original run (resume_of). With --resume, a playbook run resumes the last
interrupted run of that playbook, or starts a new run when there is none.

Examples:
  mcorun resume 20261206T193000Z-1a2b3c
  mcorun resume --last playbooks/rolling_puppet.star --retry-failed
  mcorun playbooks/rolling_puppet.star --resume --report /var/log/mcorun/puppet.json
`

func runsCommand() *command {
	return &command{name: "runs", summary: "list recent playbook runs; 'runs show ID' shows one", usage: runsUsage, run: runRuns}
}

func resumeCommand() *command {
	return &command{name: "resume", summary: "resume a playbook run from its journal", usage: resumeUsage, run: runResume}
}

// journalConf is where run journals live and how many are kept.
type journalConf struct {
	base   string
	keep   int
	maxAge time.Duration
}

// journalSettings reads the runs directory (--journal, else plugin.mcorun.journal.dir, else
// the XDG state directory) and the pruning keys; cfg may be nil.
func journalSettings(e *env, cfg *config.Config, flag string) (journalConf, error) {
	js := journalConf{base: flag, keep: 100, maxAge: 30 * 24 * time.Hour}
	if cfg != nil {
		if js.base == "" {
			js.base = cfg.PluginString("mcorun.journal.dir", "")
		}
		keep, err := cfg.PluginInt("mcorun.journal.keep", js.keep)
		if err != nil {
			return js, err
		}
		days, err := cfg.PluginInt("mcorun.journal.max_age_days", 30)
		if err != nil {
			return js, err
		}
		if keep < 0 || days < 0 {
			return js, errors.New("plugin.mcorun.journal.keep and max_age_days: want 0 (no limit) or more")
		}
		js.keep, js.maxAge = keep, time.Duration(days)*24*time.Hour
	}
	if js.base == "" {
		b, err := journal.DefaultBase(e.getenv("XDG_STATE_HOME"), e.home)
		if err != nil {
			return js, err
		}
		js.base = b
	}
	return js, nil
}

// identity is the config's identity for a journal's header: never a secret.
func identity(e *env, cfg *config.Config) journal.Identity {
	id := journal.Identity{Collective: cfg.MainCollective, Security: cfg.SecurityProvider}
	if e.sandboxConfig != nil {
		id.Broker = "sandbox"
	} else if r, err := cfg.RabbitMQ(); err == nil {
		var hosts []string
		for _, b := range r.Pool {
			hosts = append(hosts, net.JoinHostPort(b.Host, strconv.Itoa(b.Port)))
		}
		id.Broker = strings.Join(hosts, ",")
	}
	return id
}

// openEvents opens the --events stream: a file, or stdout for "-".
func openEvents(e *env, path string) (io.Writer, func(), error) {
	if path == "-" {
		return e.stdout, func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("--events: %w", err)
	}
	return f, func() { _ = f.Close() }, nil
}

// optionalConfig is the client config when one can be read: runs and resume's lookups need
// no broker.
func optionalConfig(e *env, configFlag string) *config.Config {
	cfg, err := loadConfig(e, &commonFlags{configFile: configFlag})
	if err != nil {
		return nil
	}
	return cfg
}

// lastRun finds the run of file that --resume or resume --last continues. With none, --resume
// starts a new run (nil, ok) and resume --last (required) exits 7.
func lastRun(e *env, js journalConf, file string, p playbookFlags, required bool) (*playbook.Resume, int, bool) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, usageErr(e, "resume", err), false
	}
	s, err := journal.Last(js.base, abs, p.retryFailed)
	if err != nil {
		return nil, usageErr(e, "resume", err), false
	}
	if s == nil {
		if required {
			fmt.Fprintf(e.stderr, "mcorun resume: nothing to resume: the last run of %s under %s ended ok, or there is none\n", file, js.base)
			return nil, exitNothingToResume, false
		}
		fmt.Fprintf(e.stderr, "mcorun: no interrupted run of %s to resume: starting a new run\n", file)
		return nil, 0, true
	}
	r, code, ok := readResume(e, js, s.ID, p)
	if ok {
		fmt.Fprintf(e.stderr, "mcorun: resuming run %s of %s (%s)\n", s.ID, file, s.Status)
	}
	return r, code, ok
}

// readResume reads run id's journal for a resume. A journal that does not read is a usage
// error; nothing is sent.
func readResume(e *env, js journalConf, id string, p playbookFlags) (*playbook.Resume, int, bool) {
	dir, err := journal.RunDir(js.base, id)
	if err != nil {
		return nil, usageErr(e, "resume", err), false
	}
	j, err := journal.ReadFile(dir)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(e.stderr, "mcorun resume: no run %s under %s; 'mcorun runs' lists them\n", id, js.base)
		return nil, exitNothingToResume, false
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "mcorun resume: %v; nothing sent\n", err)
		return nil, exitUsage, false
	}
	return &playbook.Resume{ID: id, Journal: j, RetryFailed: p.retryFailed, Force: p.force, DryRun: p.dryRun}, 0, true
}

func runResume(ctx context.Context, e *env, args []string) int {
	p := playbookFlags{args: argList{}}
	var last string
	fs := pflag.NewFlagSet("mcorun resume", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringVar(&p.common.configFile, "config", "", "client config file (default ~/.mcollective, else /etc/mcollective/client.cfg)")
	fs.StringVar(&last, "last", "", "resume the last interrupted run of this playbook")
	fs.BoolVar(&p.retryFailed, "retry-failed", false, "send the step that stopped a rolling() again to its failed and missing nodes")
	fs.BoolVar(&p.force, "force", false, "on a call that differs from the journal, go on live instead of stopping")
	fs.BoolVar(&p.dryRun, "dry-run", false, "replay, and name the first call that would go live; send nothing")
	addRunFlags(fs, &p)
	if done, err := parseFlags(e, fs, resumeUsage, args); done {
		return exitOK
	} else if err != nil {
		return usageErr(e, "resume", err)
	}
	switch {
	case last == "" && fs.NArg() != 1:
		return usageErr(e, "resume", errors.New("want a run id ('mcorun runs' lists them) or --last PLAYBOOK"))
	case last != "" && fs.NArg() != 0:
		return usageErr(e, "resume", errors.New("give a run id or --last PLAYBOOK, not both"))
	}
	js, err := journalSettings(e, optionalConfig(e, p.common.configFile), p.journal)
	if err != nil {
		return usageErr(e, "resume", err)
	}
	var (
		resume *playbook.Resume
		code   int
		ok     bool
	)
	if last != "" {
		resume, code, ok = lastRun(e, js, last, p, true)
	} else {
		resume, code, ok = readResume(e, js, fs.Arg(0), p)
		if ok && resume.Journal.End() != nil && resume.Journal.End().Status == playbook.StatusOK {
			fmt.Fprintf(e.stderr, "mcorun resume: run %s ended ok: nothing to resume\n", resume.ID)
			return exitNothingToResume
		}
	}
	if !ok {
		return code
	}
	h := resume.Journal.Header
	if _, err := os.Stat(h.Path); err != nil {
		fmt.Fprintf(e.stderr, "mcorun resume: run %s's playbook %s: %v; nothing sent\n", resume.ID, h.Path, err)
		return exitUsage
	}
	for k, v := range h.Args {
		p.args[k] = v
	}
	// the resumed run's dry-run flag is the replay's: the playbook itself runs as it did
	p.dryRun = false
	s, code, ok := prepare(e, "resume", &p.common)
	if !ok {
		return code
	}
	fl, closeFn, code, ok := s.connect(ctx)
	if !ok {
		return code
	}
	defer closeFn()
	return runWith(ctx, e, s, fl, js, h.Path, p, resume)
}

func runRuns(_ context.Context, e *env, args []string) int {
	var c commonFlags
	var dir string
	fs := pflag.NewFlagSet("mcorun runs", pflag.ContinueOnError)
	fs.StringVar(&c.configFile, "config", "", "client config file, for plugin.mcorun.journal.* (optional)")
	fs.StringVar(&dir, "journal", "", "the runs directory (default $XDG_STATE_HOME/mcorun/runs)")
	fs.BoolVarP(&c.json, "json", "j", false, "print JSON")
	fs.BoolVar(&c.wide, "wide", false, "do not cut tables to the terminal's width")
	addFormatFlag(fs, &c)
	if done, err := parseFlags(e, fs, runsUsage, args); done {
		return exitOK
	} else if err != nil {
		return usageErr(e, "runs", err)
	}
	format, err := c.listFormat()
	if err != nil {
		return usageErr(e, "runs", err)
	}
	js, err := journalSettings(e, optionalConfig(e, c.configFile), dir)
	if err != nil {
		return usageErr(e, "runs", err)
	}
	switch {
	case fs.NArg() == 0:
		return listRuns(e, js.base, format, tableStyle(e, &c))
	case fs.NArg() == 2 && fs.Arg(0) == "show":
		return showRun(e, js.base, fs.Arg(1), c.json)
	}
	return usageErr(e, "runs", fmt.Errorf("unexpected arguments %q: want none, or show ID", strings.Join(fs.Args(), " ")))
}

func listRuns(e *env, base string, format listing.Format, st listing.Style) int {
	runs, err := journal.List(base)
	if err != nil {
		fmt.Fprintf(e.stderr, "mcorun runs: %v\n", err)
		return exitFailure
	}
	if runs == nil {
		runs = []journal.Summary{}
	}
	if len(runs) == 0 && !format.Machine() {
		fmt.Fprintf(e.stderr, "no runs under %s\n", base)
		return exitOK
	}
	header := []string{"ID", "Playbook", "Started", "Finished", "Status", "Stopped at"}
	l := listing.List{Columns: []string{"id", "playbook", "started", "finished", "status", "stopped_at"}, Doc: runs}
	var table [][]string
	for _, r := range runs {
		status := r.Status
		if r.ResumeOf != "" {
			status += " (resumes " + r.ResumeOf + ")"
		}
		if r.Error != "" {
			status = "unreadable: " + r.Error
		}
		row := []string{r.ID, r.Playbook, stamp(r.Started), stamp(r.Finished), status, r.Stopped}
		table = append(table, row)
		l.Rows = append(l.Rows, []any{row[0], row[1], row[2], row[3], row[4], row[5]})
	}
	if format.Machine() {
		err = listing.Write(e.stdout, format, l)
	} else {
		err = listing.Render(e.stdout, header, table, st)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "mcorun runs: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// printJSON writes v to stdout as JSON and returns the exit code.
func printJSON(e *env, v any) int {
	if err := writeJSON(e.stdout, v); err != nil {
		fmt.Fprintf(e.stderr, "mcorun: json: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func showRun(e *env, base, id string, asJSON bool) int {
	dir, err := journal.RunDir(base, id)
	if err != nil {
		return usageErr(e, "runs", err)
	}
	j, err := journal.ReadFile(dir)
	if err != nil {
		fmt.Fprintf(e.stderr, "mcorun runs: %v\n", err)
		return exitFailure
	}
	sum := journal.Summarize(id, j)
	if asJSON {
		steps := []journal.Record{}
		for _, r := range j.Records {
			if r.Type == journal.TypeDone || r.Type == journal.TypeSent || r.Type == journal.TypeBatch || r.Type == journal.TypeEnd {
				steps = append(steps, r.Event())
			}
		}
		return printJSON(e, map[string]any{"run": sum, "args": j.Header.Args, "config": j.Header.Config, "steps": steps})
	}
	fmt.Fprintf(e.stdout, "run %s of %s: %s\n", id, j.Header.Playbook, sum.Status)
	if sum.ResumeOf != "" {
		fmt.Fprintf(e.stdout, "resumes run %s\n", sum.ResumeOf)
	}
	fmt.Fprintf(e.stdout, "started %s, finished %s\n", stamp(sum.Started), stamp(sum.Finished))
	if sum.Stopped != "" {
		fmt.Fprintf(e.stdout, "stopped at: %s\n", sum.Stopped)
	}
	if j.Truncated {
		fmt.Fprintln(e.stdout, "the journal's last line was cut short (a crash while writing it)")
	}
	t := tablewriter.NewTable(e.stdout)
	t.Header("#", "Step", "OK", "Failed", "Missing", "Note")
	for i, r := range j.Records {
		switch r.Type {
		case journal.TypeDone:
			note := r.Error
			if r.Replayed {
				note = strings.TrimSpace("replayed " + note)
			}
			if r.DryRun {
				note = "dry run"
			}
			var ok, failed, missing []string
			if r.Outcome != nil {
				ok, failed, missing = r.Outcome.OK, r.Outcome.Failed, r.Outcome.Missing
				if r.Call.Kind == "discover" {
					ok = r.Outcome.Targets
				}
			}
			_ = t.Append(strconv.Itoa(r.Seq), journal.CallString(*r.Call), nodeList(ok), nodeList(failed), nodeList(missing), note)
		case journal.TypeSent:
			if i+1 < len(j.Records) && j.Records[i+1].Type == journal.TypeDone {
				continue
			}
			_ = t.Append(strconv.Itoa(r.Seq), journal.CallString(*r.Call), "", "", "", "sent, never completed")
		case journal.TypeBatch:
			b := r.Batch
			note := ""
			if b.Gate != nil {
				note = "gate " + map[bool]string{true: "passed", false: "failed"}[*b.Gate]
			}
			if b.Stopped != "" {
				note = strings.TrimSpace(note + " stopped: " + b.Stopped)
			}
			_ = t.Append(strconv.Itoa(r.Seq), fmt.Sprintf("rolling %s %d", b.Kind, b.Index), nodeList(b.Done), nodeList(b.Failed), nodeList(b.Missing), note)
		}
	}
	if err := t.Render(); err != nil {
		fmt.Fprintf(e.stderr, "mcorun runs: %v\n", err)
		return exitFailure
	}
	if end := j.End(); end != nil {
		fmt.Fprintf(e.stdout, "ended %s, exit code %d", end.Status, end.ExitCode)
		if end.Error != "" {
			fmt.Fprintf(e.stdout, ": %s", firstLine(end.Error))
		}
		fmt.Fprintln(e.stdout)
	}
	return exitOK
}

func nodeList(ids []string) string {
	const most = 3
	if len(ids) > most {
		return strings.Join(ids[:most], " ") + fmt.Sprintf(" (+%d)", len(ids)-most)
	}
	return strings.Join(ids, " ")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
