package journal

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func nowUTC() time.Time { return time.Now().UTC() }

// DefaultBase is the runs directory: $XDG_STATE_HOME/mcorun/runs (stateHome, when absolute),
// else HOME/.local/state/mcorun/runs.
func DefaultBase(stateHome, home string) (string, error) {
	if stateHome != "" && filepath.IsAbs(stateHome) {
		return filepath.Join(stateHome, "mcorun", "runs"), nil
	}
	if home == "" {
		return "", errors.New("journal: no runs directory: set XDG_STATE_HOME or HOME, or give --journal DIR")
	}
	return filepath.Join(home, ".local", "state", "mcorun", "runs"), nil
}

// NewID returns a run id that sorts by start time: 20261206T193000Z-1a2b3c.
func NewID(start time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return start.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// validID reports whether id can name a run directory: no separators, no dots first.
func validID(id string) bool {
	return id != "" && !strings.ContainsAny(id, `/\`) && !strings.HasPrefix(id, ".")
}

// RunDir is the directory of run id under base.
func RunDir(base, id string) (string, error) {
	if !validID(id) {
		return "", fmt.Errorf("journal: %q is not a run id; 'mcorun runs' lists them", id)
	}
	return filepath.Join(base, id), nil
}

// Summary is one run as 'mcorun runs' lists it.
type Summary struct {
	ID       string    `json:"id"`
	Playbook string    `json:"playbook"`
	Path     string    `json:"playbook_path"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"` // zero: no end record
	Status   string    `json:"status"`            // the end's status, or "unfinished"
	ExitCode *int      `json:"exit_code,omitempty"`
	Stopped  string    `json:"stopped_at,omitempty"` // where a run that did not end ok stopped
	ResumeOf string    `json:"resume_of,omitempty"`
	DryRun   bool      `json:"dry_run,omitempty"`
	// Superseded: a resume that stopped on a mismatch before sending anything.
	Superseded bool `json:"superseded,omitempty"`
	Calls      int  `json:"calls"`
	// Resumable: the run was interrupted, killed, or ended on a call that failed as a whole.
	// A run that stopped on a failure threshold is not (resume it by id, with --retry-failed).
	Resumable bool   `json:"resumable"`
	Error     string `json:"error,omitempty"` // a journal that does not read
}

// StatusUnfinished is the status of a run without an end record: killed, crashed, or running.
const StatusUnfinished = "unfinished"

// Summarize describes a journal's run.
func Summarize(id string, j *Journal) Summary {
	s := Summary{ID: id, Playbook: j.Header.Playbook, Path: j.Header.Path, ResumeOf: j.Header.ResumeOf,
		DryRun: j.Header.DryRun, Status: StatusUnfinished}
	var first time.Time
	var last *Record
	for i := range j.Records {
		r := &j.Records[i]
		if first.IsZero() {
			first = r.Time
		}
		if r.Type == TypeSent {
			s.Calls++
		}
		if r.Type == TypeSent || r.Type == TypeDone || r.Type == TypeBatch {
			last = r
		}
	}
	s.Started = j.Header.Started
	if s.Started.IsZero() {
		s.Started = first
	}
	if end := j.End(); end != nil {
		s.Finished = j.Records[len(j.Records)-1].Time
		s.Status = end.Status
		code := end.ExitCode
		s.ExitCode = &code
		s.Superseded = end.Superseded
	}
	if s.Status != "ok" && last != nil {
		s.Stopped = Describe(*last)
	}
	switch s.Status {
	case StatusUnfinished, "interrupted":
		s.Resumable = true
	case "failed":
		s.Resumable = last != nil && last.Call != nil && (last.Type == TypeSent || last.Error != "")
	}
	return s
}

// Describe names a record's call or step as people read it: "rpc puppet.runonce on 2 nodes
// (sent, not completed)", "batch 3".
func Describe(r Record) string {
	switch {
	case r.Type == TypeBatch:
		d := fmt.Sprintf("%s %d", r.Batch.Kind, r.Batch.Index)
		if r.Batch.Stopped != "" {
			d += ": " + r.Batch.Stopped
		}
		return d
	case r.Call == nil:
		return r.Type
	}
	d := CallString(*r.Call)
	if r.Type == TypeSent {
		d += " (sent, not completed)"
	} else if r.Error != "" {
		d += ": " + r.Error
	}
	return d
}

// CallString is a call as people read it: rpc puppet.runonce {"force":true} nodes=[web1 web2].
func CallString(c Call) string {
	var b strings.Builder
	b.WriteString(c.Kind)
	if c.Agent != "" {
		b.WriteString(" " + c.Agent + "." + c.Action)
	}
	if len(c.Args) > 0 && string(c.Args) != "{}" {
		b.WriteString(" " + string(c.Args))
	}
	if c.Filter != "" {
		b.WriteString(" filter=" + c.Filter)
	}
	if len(c.Nodes) > 0 {
		b.WriteString(" nodes=[" + strings.Join(c.Nodes, " ") + "]")
	}
	for _, kv := range [][2]string{{"collective", c.Collective}, {"limit", c.Limit}, {"batch", c.Batch}} {
		if kv[1] != "" {
			b.WriteString(" " + kv[0] + "=" + kv[1])
		}
	}
	return b.String()
}

// List reads every run under base, newest first. A run whose journal does not read is listed
// with its Error. A missing base lists nothing.
func List(base string) ([]Summary, error) {
	ents, err := os.ReadDir(base)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var out []Summary
	for _, e := range ents {
		if !e.IsDir() || !validID(e.Name()) {
			continue
		}
		j, err := ReadFile(filepath.Join(base, e.Name(), FileName))
		if err != nil {
			out = append(out, Summary{ID: e.Name(), Status: "unreadable", Error: err.Error()})
			continue
		}
		out = append(out, Summarize(e.Name(), j))
	}
	slices.SortFunc(out, func(a, b Summary) int {
		if c := b.Started.Compare(a.Started); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

// Prune removes the runs under base beyond the newest keep (0: no count limit) and those that
// started more than maxAge before now (0: no age limit), never the run named by except.
// It returns the ids removed.
func Prune(base string, keep int, maxAge time.Duration, now time.Time, except string) ([]string, error) {
	ents, err := os.ReadDir(base)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && validID(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	slices.SortFunc(ids, func(a, b string) int { return strings.Compare(b, a) })
	var removed []string
	for i, id := range ids {
		if id == except {
			continue
		}
		old := false
		if maxAge > 0 {
			if st, err := os.Stat(filepath.Join(base, id)); err == nil && now.Sub(st.ModTime()) > maxAge {
				old = true
			}
		}
		if keep > 0 && i >= keep || old {
			if err := os.RemoveAll(filepath.Join(base, id)); err != nil {
				return removed, fmt.Errorf("journal: prune %s: %w", id, err)
			}
			removed = append(removed, id)
		}
	}
	return removed, nil
}

// Last returns the newest run of the playbook at path (absolute) when it can be resumed:
// it is Resumable, or with failed, it ended failed in any way. nil when there is none.
func Last(base, path string, failed bool) (*Summary, error) {
	runs, err := List(base)
	if err != nil {
		return nil, err
	}
	for i := range runs {
		s := &runs[i]
		if s.Path != path || s.Error != "" || s.DryRun || s.Superseded {
			continue
		}
		if s.Resumable || failed && s.Status == "failed" {
			return s, nil
		}
		return nil, nil
	}
	return nil, nil
}
