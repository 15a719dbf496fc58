package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// FileName is the journal's file in a run's directory.
const FileName = "journal.jsonl"

// Sink receives every record as it is written; the --events stream is one (Record.Event).
type Sink func(Record)

// Writer appends records to a journal file. Its methods are safe for concurrent use.
type Writer struct {
	mu    sync.Mutex
	f     *os.File // nil: only the sinks receive records
	seq   int
	sinks []Sink
	err   error // the first write error; later writes are skipped
}

// Create makes dir (the run's directory) and starts its journal with the header record.
// An empty dir writes no file: the records reach the sinks only.
func Create(dir string, h Header, sinks ...Sink) (*Writer, error) {
	w := &Writer{sinks: sinks}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(dir, FileName), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		w.f = f
	}
	h.Version = Version
	if err := w.Write(Record{Type: TypeHeader, Header: &h, Time: nowUTC()}, true); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Write appends r, numbering it, and with sync fsyncs the file before returning: a "sent"
// mark is synced so that even a crashed host knows what may have gone out. The sinks receive
// r even when the file write failed.
func (w *Writer) Write(r Record, sync bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if r.Type != TypeHeader {
		w.seq++
	}
	r.Seq = w.seq
	if r.Time.IsZero() {
		r.Time = nowUTC()
	}
	for _, s := range w.sinks {
		s(r)
	}
	if w.f == nil || w.err != nil {
		return w.err
	}
	b, err := json.Marshal(r)
	if err != nil {
		w.err = fmt.Errorf("journal: record %d: %w", r.Seq, err)
		return w.err
	}
	if _, err := w.f.Write(append(b, '\n')); err != nil {
		w.err = fmt.Errorf("journal: %w", err)
		return w.err
	}
	if sync {
		if err := w.f.Sync(); err != nil {
			w.err = fmt.Errorf("journal: %w", err)
		}
	}
	return w.err
}

// Err returns the first error writing the file; the records after it reached only the sinks.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// MaxLine bounds one record; a longer line is corrupt.
const MaxLine = 64 << 20

// Journal is a journal as read: its header and the records after it.
type Journal struct {
	Header    Header
	Records   []Record
	Truncated bool // the last line was cut short (a crash while writing it) and was skipped
}

// End returns the end record, or nil when the run never wrote one (it was killed or is still
// running).
func (j *Journal) End() *End {
	if n := len(j.Records); n > 0 && j.Records[n-1].Type == TypeEnd {
		return j.Records[n-1].End
	}
	return nil
}

// ReadFile reads the journal of a run directory (or a journal file).
func ReadFile(path string) (*Journal, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, FileName)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	j, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return j, nil
}

// ErrCorrupt is wrapped by every error about a journal's content.
var ErrCorrupt = errors.New("corrupt journal")

// Read reads a journal up to its last complete record. A last line without its newline that
// does not parse is a write cut short and is skipped (Truncated); any other line that does not
// parse, a missing header, or records out of order is an error wrapping ErrCorrupt. Read never
// panics.
func Read(r io.Reader) (*Journal, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	j := &Journal{}
	line := 0
	for {
		b, err := readLine(br)
		if len(b) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		line++
		complete := err == nil
		var rec Record
		if uerr := json.Unmarshal(bytes.TrimSpace(b), &rec); uerr != nil {
			if !complete && line > 1 {
				j.Truncated = true
				break
			}
			return nil, fmt.Errorf("%w: line %d: %v", ErrCorrupt, line, uerr)
		}
		if err := j.add(line, rec); err != nil {
			return nil, err
		}
		if !complete {
			break
		}
	}
	if line == 0 {
		return nil, fmt.Errorf("%w: empty, no header", ErrCorrupt)
	}
	return j, nil
}

// readLine returns one line without its newline; io.EOF with a non-empty line means the last
// line had no newline.
func readLine(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		b, err := br.ReadSlice('\n')
		out = append(out, b...)
		if len(out) > MaxLine {
			return nil, fmt.Errorf("%w: a line longer than %d bytes", ErrCorrupt, MaxLine)
		}
		switch {
		case err == nil:
			return out[:len(out)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return out, err
		}
	}
}

func (j *Journal) add(line int, rec Record) error {
	if line == 1 {
		if rec.Type != TypeHeader || rec.Header == nil {
			return fmt.Errorf("%w: line 1 is not a header", ErrCorrupt)
		}
		if rec.Header.Version != Version {
			return fmt.Errorf("%w: format version %d, want %d", ErrCorrupt, rec.Header.Version, Version)
		}
		if rec.Header.RunID == "" {
			return fmt.Errorf("%w: the header has no run id", ErrCorrupt)
		}
		j.Header = *rec.Header
		return nil
	}
	if rec.Seq != line-1 {
		return fmt.Errorf("%w: line %d: record %d out of order", ErrCorrupt, line, rec.Seq)
	}
	switch rec.Type {
	case TypeLoad, TypeNow, TypeSleep, TypeEnd:
	case TypeSent, TypeDone:
		if rec.Call == nil {
			return fmt.Errorf("%w: line %d: a %s record without its call", ErrCorrupt, line, rec.Type)
		}
	case TypeBatch, TypeBatchStart:
		if rec.Batch == nil {
			return fmt.Errorf("%w: line %d: a batch record without its batch", ErrCorrupt, line)
		}
	default:
		return fmt.Errorf("%w: line %d: unknown record type %q", ErrCorrupt, line, rec.Type)
	}
	if rec.Type == TypeNow && rec.Now == nil {
		return fmt.Errorf("%w: line %d: a now record without its time", ErrCorrupt, line)
	}
	if rec.Type == TypeEnd && rec.End == nil {
		return fmt.Errorf("%w: line %d: an end record without its outcome", ErrCorrupt, line)
	}
	if n := len(j.Records); n > 0 && j.Records[n-1].Type == TypeEnd {
		return fmt.Errorf("%w: line %d: a record after the end", ErrCorrupt, line)
	}
	j.Records = append(j.Records, rec)
	return nil
}
