// Package audit writes one line per SimpleRPC request a node handles, in the format of
// MCollective's rpcaudit logfile plugin (audit/logfile.rb) or as JSON lines.
//
// The logfile format is the Ruby plugin's line with the outcome appended:
//
//	[2024-05-01 10:00:00 UTC] reqid=5f…: reqtime=1714557600 caller=cert=admin@client1 agent=service action=restart data={:process_results=>true, :service=>"nginx"} statuscode=0 outcome=ok
//
// The data is rendered as Ruby's inspect renders the request's data Hash, on one line (the
// Ruby plugin pretty-prints, which can wrap a large Hash over several lines). The JSON format
// writes an object per line with the fields of Record.
//
// Inputs whose names look secret (see Redacted) are written as "[redacted]", in both formats.
// In the logfile format, a requestid, callerid, sender, agent or action holding a space, a
// quote, a backslash or a control character is written Go-quoted, so that a request cannot
// forge a field or a line.
package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/mcorun/mcorun/runtime/config"
)

// Outcomes of a request, as Record.Outcome.
const (
	OutcomeOK      = "ok"      // the action ran and succeeded (status 0)
	OutcomeFailed  = "failed"  // the action, its DDL or its input failed (status 1-5)
	OutcomeDenied  = "denied"  // the authorization policy refused it (status 1)
	OutcomeTimeout = "timeout" // the action ran past its DDL timeout; no reply was sent
)

// Record is one audited request.
type Record struct {
	Time       time.Time      `json:"time"`
	RequestID  string         `json:"requestid"`
	RequestAt  int64          `json:"reqtime"` // the request's msgtime
	CallerID   string         `json:"callerid"`
	SenderID   string         `json:"senderid"`
	Collective string         `json:"collective"`
	Agent      string         `json:"agent"`
	Action     string         `json:"action"`
	Data       map[string]any `json:"data"` // the inputs, secrets redacted by Write
	StatusCode int            `json:"statuscode"`
	StatusMsg  string         `json:"statusmsg"`
	Outcome    string         `json:"outcome"`
}

// Format selects the line format.
type Format string

// The formats.
const (
	FormatLogfile Format = "logfile"
	FormatJSON    Format = "json"
)

// DefaultLogfile is the Ruby plugin's default path.
const DefaultLogfile = "/var/log/puppetlabs/mcollective/mcollective-audit.log"

// ProviderName is the rpcauditprovider value this package implements.
const ProviderName = "logfile"

// Options configures a Logger.
type Options struct {
	Path   string // the file lines are appended to (DefaultLogfile)
	Format Format // FormatLogfile by default
	// Redact adds input names, matched case-insensitively as whole names, to those Redacted
	// already hides.
	Redact []string
	Now    func() time.Time
}

// Logger appends audit lines to a file. The file is opened for every line, as the Ruby
// plugin does, so it survives log rotation. It is safe for concurrent use.
type Logger struct {
	opts Options
	mu   sync.Mutex
}

// New returns a Logger. It checks that the file can be opened for appending.
func New(opts Options) (*Logger, error) {
	if opts.Path == "" {
		opts.Path = DefaultLogfile
	}
	switch opts.Format {
	case "":
		opts.Format = FormatLogfile
	case FormatLogfile, FormatJSON:
	default:
		return nil, fmt.Errorf("audit: format %q: want logfile or json", opts.Format)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	for i, r := range opts.Redact {
		opts.Redact[i] = strings.ToLower(strings.TrimSpace(r))
	}
	f, err := os.OpenFile(opts.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &Logger{opts: opts}, nil
}

// FromConfig returns the Logger a node's config asks for, or nil when rpcaudit is off. It
// reads plugin.rpcaudit.logfile, plugin.rpcaudit.format (logfile or json) and
// plugin.rpcaudit.redact (extra comma-separated input names to hide). Only the logfile
// provider exists; any other rpcauditprovider is an error.
func FromConfig(cfg *config.Config) (*Logger, error) {
	if !cfg.RPCAudit {
		return nil, nil
	}
	if p := cfg.RPCAuditProvider; p != ProviderName {
		return nil, fmt.Errorf("audit: rpcauditprovider = %q: only %q is supported", p, ProviderName)
	}
	var redact []string
	for r := range strings.SplitSeq(cfg.PluginString("rpcaudit.redact", ""), ",") {
		if r = strings.TrimSpace(r); r != "" {
			redact = append(redact, r)
		}
	}
	return New(Options{
		Path:   cfg.PluginString("rpcaudit.logfile", DefaultLogfile),
		Format: Format(strings.ToLower(cfg.PluginString("rpcaudit.format", string(FormatLogfile)))),
		Redact: redact,
	})
}

// Path returns the file the Logger appends to.
func (l *Logger) Path() string { return l.opts.Path }

// Write appends one line for r, redacting secret inputs. A zero r.Time is set to now.
func (l *Logger) Write(r Record) error {
	if r.Time.IsZero() {
		r.Time = l.opts.Now()
	}
	r.Data = l.redact(r.Data)
	line, err := l.format(r)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.OpenFile(l.opts.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	_, werr := f.Write(line)
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("audit: %w", werr)
	}
	if cerr != nil {
		return fmt.Errorf("audit: %w", cerr)
	}
	return nil
}

func (l *Logger) format(r Record) ([]byte, error) {
	if l.opts.Format == FormatJSON {
		if r.Data != nil {
			r.Data = jsonValue(r.Data).(map[string]any)
		}
		b, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		return append(b, '\n'), nil
	}
	s := fmt.Sprintf("[%s] reqid=%s: reqtime=%d caller=%s@%s agent=%s action=%s data=%s statuscode=%d outcome=%s\n",
		r.Time.UTC().Format("2006-01-02 15:04:05 UTC"), field(r.RequestID), r.RequestAt,
		field(r.CallerID), field(r.SenderID), field(r.Agent), field(r.Action),
		oneLine(inspect(r.Data)), r.StatusCode, field(r.Outcome))
	return []byte(s), nil
}

// field renders a wire-supplied value of the logfile line. A value of printable characters
// other than space, '"' and '\\' is written as it is, as the Ruby plugin writes it; any other
// value is written as a Go-quoted string, so that it can neither end the line nor forge a
// "key=value" field of its own line (a sender "c1 agent=puppet"), nor carry terminal escapes.
func field(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '"' || r == '\\' || r == unicode.ReplacementChar {
			return strconv.Quote(s)
		}
	}
	return s
}

// lineBreaks are the characters that could end an audit line early: CR, LF, NEL (which
// Ruby's inspect prints as it is), and the Unicode line and paragraph separators.
var lineBreaks = strings.NewReplacer("\r", `\r`, "\n", `\n`, "\u0085", `\u0085`, "\u2028", `\u2028`, "\u2029", `\u2029`)

// oneLine keeps a wire-supplied string from breaking the one-line format.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\u0085\u2028\u2029") {
		return s
	}
	return lineBreaks.Replace(s)
}

// RedactedValue replaces the value of a secret input.
const RedactedValue = "[redacted]"

// secretRE matches input names Redacted hides.
var secretRE = regexp.MustCompile(`(?i)pass|secret|token|psk|credential|private_?key|api_?key`)

// Redacted reports whether an input named name is hidden in audit lines by default: its name
// contains pass (password, passwd, passphrase), secret, token, psk, credential, private_key
// or privatekey, api_key or apikey, in any case.
func Redacted(name string) bool { return secretRE.MatchString(name) }

// redact returns a copy of data with secret inputs replaced, in nested Hashes too.
func (l *Logger) redact(data map[string]any) map[string]any {
	if data == nil {
		return nil
	}
	out := make(map[string]any, len(data))
	for k, v := range data {
		out[k] = l.redactValue(k, v)
	}
	return out
}

func (l *Logger) redactValue(name string, v any) any {
	if Redacted(name) || slices.Contains(l.opts.Redact, strings.ToLower(name)) {
		return RedactedValue
	}
	switch t := v.(type) {
	case map[string]any:
		return l.redact(t)
	case map[any]any:
		out := make(map[any]any, len(t))
		for k, x := range t {
			ks, _ := mapKey(k)
			out[k] = l.redactValue(ks, x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = l.redactValue("", x)
		}
		return out
	}
	return v
}
