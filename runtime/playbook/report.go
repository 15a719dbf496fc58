package playbook

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mcorun/mcorun/starlib"
)

// Report is the JSON record of one run, written by --report and printed by --json.
// Durations are in seconds.
type Report struct {
	RunID    string            `json:"run_id,omitempty"`    // the run's journal id
	ResumeOf string            `json:"resume_of,omitempty"` // the run this one resumed
	Journal  string            `json:"journal,omitempty"`   // the run's journal directory
	Playbook string            `json:"playbook"`
	Args     map[string]string `json:"args"`
	Started  time.Time         `json:"started"`
	Finished time.Time         `json:"finished"`
	Duration float64           `json:"duration"`
	DryRun   bool              `json:"dry_run"`
	Steps    []Step            `json:"steps"`
	Log      []LogLine         `json:"log"`
	// Data is what the playbook attached with report.set: its results, for the programs
	// that read the report.
	Data    map[string]any `json:"data"`
	Outcome ReportOutcome  `json:"outcome"`
}

// Step is one discover or rpc call of the run, or one wait_until (a starlib.Event).
type Step struct {
	Time    time.Time      `json:"time"`
	Kind    string         `json:"kind"` // discover, rpc or wait (a whole wait_until)
	Agent   string         `json:"agent,omitempty"`
	Action  string         `json:"action,omitempty"`
	Filter  string         `json:"filter"`
	Args    map[string]any `json:"args,omitempty"`
	Targets []string       `json:"targets"`
	OK      []string       `json:"ok"`
	Failed  []string       `json:"failed"`
	Missing []string       `json:"missing"`
	// MissingReasons says why a missing node did not reply, when it is not simply silent:
	// "broker connection lost".
	MissingReasons map[string]string `json:"missing_reasons,omitempty"`
	// NotSent are targets the step failed before sending to: never "missing".
	NotSent  []string `json:"not_sent,omitempty"`
	Duration float64  `json:"duration"`
	DryRun   bool     `json:"dry_run"`
	Error    string   `json:"error,omitempty"`
	Polls    int      `json:"polls,omitempty"`  // wait: how many times its function ran
	Polled   bool     `json:"polled,omitempty"` // a call made by a wait_until's function
}

// LogLine is one log() or print() line of the run.
type LogLine struct {
	Time   time.Time      `json:"time"`
	Kind   string         `json:"kind"` // log or print
	Msg    string         `json:"msg"`
	Fields map[string]any `json:"fields,omitempty"`
}

// ReportOutcome is how the run ended.
type ReportOutcome struct {
	ExitCode  int    `json:"exit_code"`
	Status    string `json:"status"` // ok, failed, interrupted or skipped
	Error     string `json:"error,omitempty"`
	Backtrace string `json:"backtrace,omitempty"` // Starlark call stack of the error
}

// recorder collects a Report's steps and lines; the thread and the progress display may
// call it from different goroutines.
type recorder struct {
	mu  sync.Mutex
	rep *Report
}

func (r *recorder) step(at time.Time, ev starlib.Event) {
	s := Step{Time: at, Kind: ev.Kind, Agent: ev.Agent, Action: ev.Action, Filter: ev.Filter,
		Args: jsonSafe(ev.Args), Targets: nonNil(ev.Targets), OK: nonNil(ev.OK), Failed: nonNil(ev.Failed),
		Missing: nonNil(ev.Missing), MissingReasons: ev.MissingReasons, NotSent: ev.NotSent, Duration: ev.Duration.Seconds(), DryRun: ev.DryRun, Error: ev.Err,
		Polls: ev.Polls, Polled: ev.Polled}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Steps = append(r.rep.Steps, s)
}

func (r *recorder) line(at time.Time, kind, msg string, fields map[string]any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Log = append(r.rep.Log, LogLine{Time: at, Kind: kind, Msg: msg, Fields: jsonSafe(fields)})
}

// data records what the playbook attached with report.set.
func (r *recorder) data(d map[string]any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Data = jsonSafe(d)
	if r.rep.Data == nil {
		r.rep.Data = map[string]any{}
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// jsonSafe returns m when it encodes as JSON, otherwise m with every value that does not
// encode replaced by its fmt form (NaN, for instance).
func jsonSafe(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	if _, err := json.Marshal(m); err == nil {
		return m
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if _, err := json.Marshal(v); err != nil {
			v = fmt.Sprint(v)
		}
		out[k] = v
	}
	return out
}

// writeFileAtomic writes b to path through a temporary file in the same directory and a
// rename, so that a reader never sees a partial report.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, werr := tmp.Write(b)
	if err := tmp.Sync(); werr == nil {
		werr = err
	}
	if err := tmp.Close(); werr == nil {
		werr = err
	}
	if err := os.Chmod(name, 0o644); werr == nil {
		werr = err
	}
	if werr == nil {
		werr = os.Rename(name, path)
	}
	if werr != nil {
		_ = os.Remove(name)
		return werr
	}
	return nil
}

// checkWritableDir makes sure a report can be created beside path, before the run.
func checkWritableDir(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_ = tmp.Close()
	return os.Remove(name)
}

// encodeReport is the report as indented JSON with a final newline.
func encodeReport(rep *Report) ([]byte, error) {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
