// Package journal owns the run journal's format: one JSON object per line, appended as the
// run goes, the first a header naming the run. docs/journal.md describes every field.
//
// A Writer appends records and fsyncs the "sent" mark of a call before the caller sends it;
// Read reads a journal up to its last complete record, so a journal whose last line a crash
// cut short still reads. Runs live in a runs directory, one subdirectory per run id
// (Dir, List, Prune).
package journal

import (
	"encoding/json"
	"time"
)

// Version is the format version written in every header.
const Version = 1

// Record types.
const (
	TypeHeader     = "header"      // the first record: the run, its playbook and its config identity
	TypeLoad       = "load"        // a file the playbook load()ed, with its hash
	TypeSent       = "sent"        // a call about to go out (fsynced before it does)
	TypeDone       = "done"        // a call that returned: its outcome, and its result in the journal
	TypeNow        = "now"         // a reading of the playbook's clock (time.now(), waits, durations)
	TypeSleep      = "sleep"       // the playbook slept (sleep(), a rolling pause, a wait_until interval)
	TypeBatchStart = "batch_start" // a rolling() step starts: its index, kind and nodes
	TypeBatch      = "batch"       // a rolling() step ended: its nodes, per-node outcome, gate verdict
	TypeEnd        = "end"         // the run ended: status, exit code, error
)

// Record is one line of a journal. Type says which fields are set.
type Record struct {
	Type string    `json:"type"`
	Seq  int       `json:"seq"` // 0 for the header, then 1, 2, ... in the order written
	Time time.Time `json:"time"`

	Header *Header `json:"header,omitempty"`

	// load
	File string `json:"file,omitempty"`
	Hash string `json:"hash,omitempty"`

	// sent, done
	Call     *Call    `json:"call,omitempty"`
	Outcome  *Outcome `json:"outcome,omitempty"`
	Result   *Result  `json:"result,omitempty"` // done only, never in the events
	Error    string   `json:"error,omitempty"`
	Replayed bool     `json:"replayed,omitempty"` // answered from the original run's journal
	Polled   bool     `json:"polled,omitempty"`   // made by a wait_until's function
	DryRun   bool     `json:"dry_run,omitempty"`  // not sent: a dry run answered it

	// now
	Now *time.Time `json:"now,omitempty"`

	// sleep
	Seconds float64 `json:"seconds,omitempty"`

	// batch
	Batch *Batch `json:"batch,omitempty"`

	// end
	End *End `json:"end,omitempty"`
}

// Header is the first record of a journal.
type Header struct {
	Version  int               `json:"version"`
	RunID    string            `json:"run_id"`
	Playbook string            `json:"playbook"`      // the path as given
	Path     string            `json:"playbook_path"` // absolute, what runs of one playbook share
	Source   string            `json:"source,omitempty"`
	SHA256   string            `json:"sha256"` // of Source
	Args     map[string]string `json:"args"`
	Config   Identity          `json:"config"`
	DryRun   bool              `json:"dry_run,omitempty"`
	ResumeOf string            `json:"resume_of,omitempty"` // the run this one resumes
	Started  time.Time         `json:"started"`
}

// Identity is what a run ran against: never a secret.
type Identity struct {
	Collective string `json:"collective,omitempty"`
	Broker     string `json:"broker,omitempty"` // host:port, or "sandbox"
	Security   string `json:"security,omitempty"`
}

// Call is what a world-touching builtin asked for; two calls match when their JSON is the same.
type Call struct {
	Kind       string          `json:"kind"` // discover or rpc
	Agent      string          `json:"agent,omitempty"`
	Action     string          `json:"action,omitempty"`
	Args       json.RawMessage `json:"args,omitempty"` // EncodeValue of the arguments, DDL defaults in
	Filter     string          `json:"filter,omitempty"`
	Nodes      []string        `json:"nodes,omitempty"` // given targets (nodes=)
	Collective string          `json:"collective,omitempty"`
	Limit      string          `json:"limit,omitempty"`
	Batch      string          `json:"batch,omitempty"`
}

// Outcome is a call's per-node outcome: what the events carry of a result.
type Outcome struct {
	Targets []string `json:"targets"`
	OK      []string `json:"ok,omitempty"`
	Failed  []string `json:"failed,omitempty"`
	Missing []string `json:"missing,omitempty"`
	// Reasons says why a missing node did not reply when it was not simply silent: "broker
	// connection lost" or "not sent" (runtime/client's Results.Reasons).
	Reasons map[string]string `json:"reasons,omitempty"`
	Seconds float64           `json:"seconds"`
}

// Result is a call's whole result, from which a resume answers the same call.
type Result struct {
	Nodes     []string   `json:"nodes,omitempty"` // discover: the nodes found
	RequestID string     `json:"request_id,omitempty"`
	Batches   [][]string `json:"batches,omitempty"`
	OK        []Reply    `json:"ok,omitempty"`
	Failed    []Reply    `json:"failed,omitempty"`
	Discovery float64    `json:"discovery,omitempty"` // seconds
	Elapsed   float64    `json:"elapsed,omitempty"`   // seconds
}

// Reply is one node's reply.
type Reply struct {
	Sender  string          `json:"sender"`
	Code    int             `json:"code"`
	Message string          `json:"msg"`
	Data    json.RawMessage `json:"data,omitempty"` // EncodeValue of the reply data
	Elapsed float64         `json:"elapsed"`        // seconds
}

// Batch is one rolling() step.
type Batch struct {
	Index   int      `json:"index"`
	Kind    string   `json:"kind"` // canary or batch
	Nodes   []string `json:"nodes"`
	Done    []string `json:"done,omitempty"`
	Failed  []string `json:"failed,omitempty"`
	Missing []string `json:"missing,omitempty"`
	Gate    *bool    `json:"gate,omitempty"`
	Stopped string   `json:"stopped,omitempty"` // rolling stopped after this step, and why
}

// End is how a run ended.
type End struct {
	Status   string `json:"status"` // ok, failed, interrupted or skipped
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error,omitempty"`
	// Superseded: a resume that stopped before sending anything (a mismatch); the run it
	// resumed is still the one to resume.
	Superseded bool `json:"superseded,omitempty"`
}

// Event is r as the --events stream carries it: the same record without results or the
// playbook's source.
func (r Record) Event() Record {
	r.Result = nil
	if r.Header != nil {
		h := *r.Header
		h.Source = ""
		r.Header = &h
	}
	return r
}
