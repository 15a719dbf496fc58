// Package repl is mcorun's interactive Starlark session: the builtins and values of a
// playbook (package starlib) on a fleet, with line editing and history on a terminal, and
// values that have a table form (NodeSet, ResultSet, RollingReport) printed as tables.
//
// Each input is one statement, or one compound statement (def, if, for, while). Blank
// lines inside a block are kept when the next line is indented, so that code pastes as it
// is; a block ends at a line at the left margin or at two empty lines (see input). The
// history keeps each statement whole: recalling a block recalls all its lines. An expression's value is printed and kept in _.
// An error, a syntax error included, is printed and the session goes on. Reading a script
// (not Interactive), errors name the script's line, and Run returns ErrFailed at the end
// when a statement failed. An interrupt
// (Ctrl-C) cancels the running statement through thread.Cancel, which also aborts its
// in-flight fleet calls and waits, and the session goes on; at the prompt, Ctrl-C clears
// the line and Ctrl-D (end of input) ends the session. Either way the session says
// "interrupted". help() (and "help" or "?" alone on a line) prints starlib's help table.
package repl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/chzyer/readline"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/playbook"
	"github.com/mcorun/mcorun/starlib"
)

// Options are the settings of a session. The zero value reads os.Stdin without line
// editing and writes to os.Stdout and os.Stderr.
type Options struct {
	Fleet starlib.Fleet // what discover() and rpc() act on
	In    io.Reader     // nil means os.Stdin
	Out   io.Writer     // values and print(); nil means os.Stdout
	Err   io.Writer     // errors, log() and step lines; nil means os.Stderr
	Clock starlib.Clock // nil is the real clock

	// Interactive turns on the prompt, line editing and history (stdin should be a
	// terminal). Otherwise statements are read from In silently, which suits scripts and
	// tests.
	Interactive bool
	// HistoryFile is where an interactive session keeps its history; empty means
	// ~/.mcorun_history.
	HistoryFile string
	// Agents are the agent DDLs completion offers in rpc() (agents, actions, inputs); nil
	// means the built-in ones.
	Agents map[string]*ddl.Agent
	// Width is the terminal's width: tables are cut to it, each cut cell marked. 0 means
	// no limit.
	Width int
	// Interrupts cancel the running statement. nil means SIGINT (Ctrl-C) in an interactive
	// session and nothing otherwise.
	Interrupts <-chan os.Signal
}

// ErrFailed is what Run returns, wrapped, after a script in which a statement failed.
var ErrFailed = errors.New("statements failed")

// DefaultHistoryFile returns ~/.mcorun_history, or "" when there is no home directory.
func DefaultHistoryFile() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".mcorun_history")
}

// Run runs a session until the input ends (nil, or ErrFailed when reading a script in which
// a statement failed) or ctx is done (ctx.Err()).
func Run(ctx context.Context, o Options) error {
	if o.In == nil {
		o.In = os.Stdin
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Err == nil {
		o.Err = os.Stderr
	}
	s := &session{o: o, opts: starlib.FileOptions()}
	s.opts.LoadBindsGlobally = true // load() in the REPL binds globals, as in go.starlark.net/repl
	if err := s.init(); err != nil {
		return err
	}
	var (
		read  func() ([]byte, error)
		reset func(prompt string)
	)
	if o.Interactive {
		rl, err := s.readline()
		if err != nil {
			return fmt.Errorf("repl: %w", err)
		}
		defer rl.Close()
		read = func() ([]byte, error) {
			line, err := rl.Readline()
			rl.SetPrompt("... ")
			if err != nil {
				return nil, err
			}
			return []byte(line + "\n"), nil
		}
		reset = rl.SetPrompt
		s.save = func(entry string) { _ = rl.SaveHistory(entry) }
		fmt.Fprintln(o.Err, Banner)
		if o.Interrupts == nil {
			ch := make(chan os.Signal, 1)
			signal.Notify(ch, os.Interrupt)
			defer signal.Stop(ch)
			s.o.Interrupts = ch
		}
	} else {
		br := bufio.NewReader(o.In)
		read = func() ([]byte, error) {
			line, err := br.ReadString('\n')
			if err == io.EOF && line != "" {
				return []byte(line + "\n"), nil
			}
			if err != nil {
				return nil, err
			}
			return []byte(line), nil
		}
		reset = func(string) {}
	}
	s.in = &input{read: read}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if o.Interactive {
			s.dropInterrupts()
		}
		reset(">>> ")
		err := s.rep(ctx, read)
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			if s.failed > 0 && !o.Interactive {
				return fmt.Errorf("%d of %d %w, the first on line %d", s.failed, s.statements, ErrFailed, s.firstFailed)
			}
			return nil
		case errors.Is(err, readline.ErrInterrupt):
			fmt.Fprintln(o.Err, "interrupted")
		default:
			return err
		}
	}
}

// session is the state of one REPL: its thread and globals.
type session struct {
	o       Options
	opts    *syntax.FileOptions
	thread  *starlark.Thread
	globals starlark.StringDict
	mu      sync.Mutex // serialises writes to Out and Err
	// hit is set when an interrupt cancelled the running statement; its errors then say
	// "interrupted" rather than how the cancellation reached them.
	hit atomic.Bool

	in   *input       // the statements' lines
	save func(string) // adds a statement to the history; nil when there is none

	lines       int32 // input lines read so far
	statements  int   // statements run, failed or not
	failed      int   // statements that failed
	firstFailed int32 // the input line of the first failed statement
}

func (s *session) init() error {
	s.thread = &starlark.Thread{Name: "repl", Print: func(_ *starlark.Thread, msg string) { s.println(s.o.Out, msg) }}
	predeclared := starlib.Predeclared()
	// Run with an empty file installs the playbook loader (load() of relative paths and
	// @mcorun//) on the thread.
	if _, err := starlib.Run(s.thread, "<repl>", []byte{}, starlib.RunOptions{Predeclared: predeclared}); err != nil {
		return fmt.Errorf("repl: %w", err)
	}
	if s.o.Fleet != nil {
		starlib.SetFleet(s.thread, s.o.Fleet)
	}
	if s.o.Clock != nil {
		starlib.SetClock(s.thread, s.o.Clock)
	}
	starlib.SetLogger(s.thread, logger{s})
	starlib.SetArgs(s.thread, nil)
	s.globals = make(starlark.StringDict, len(predeclared)+1)
	for k, v := range predeclared {
		s.globals[k] = v
	}
	s.globals["help"] = starlib.NewHelp()
	return nil
}

func (s *session) readline() (*readline.Instance, error) {
	history := s.o.HistoryFile
	if history == "" {
		history = DefaultHistoryFile()
	}
	cfg := &readline.Config{Prompt: ">>> ", HistoryFile: history, Stdout: s.o.Out, Stderr: s.o.Err,
		InterruptPrompt: "^C", EOFPrompt: "", HistorySearchFold: true,
		// Each statement goes in the history whole, a block as one entry (Run's save).
		DisableAutoSaveHistory: true, AutoComplete: completer{s}}
	if rc, ok := s.o.In.(io.ReadCloser); ok && s.o.In != os.Stdin {
		cfg.Stdin = rc
	}
	return readline.NewEx(cfg)
}

// dropInterrupts discards interrupts that arrived after the last statement had finished,
// so that a Ctrl-C pressed just as a statement ends does not cancel the next one. At the
// prompt the terminal is in raw mode and Ctrl-C reaches the line editor, not the signal.
func (s *session) dropInterrupts() {
	for {
		select {
		case <-s.o.Interrupts:
		default:
			return
		}
	}
}

func (s *session) println(w io.Writer, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintln(w, msg)
}

// rep reads, evaluates and prints one statement. It returns only input errors (io.EOF at
// the end); Starlark errors are printed.
func (s *session) rep(ctx context.Context, read func() ([]byte, error)) error {
	eof, interrupted, first, bareHelp := false, false, true, false
	start := s.lines // the lines before this statement
	st := &statement{in: s.in}
	f, err := s.opts.ParseCompoundStmt("<stdin>", func() ([]byte, error) {
		b, err := st.read()
		switch {
		case errors.Is(err, io.EOF):
			eof = true
		case errors.Is(err, readline.ErrInterrupt):
			interrupted = true
			s.in.queue = nil // Ctrl-C drops the block being typed
		case err == nil && first && isBareHelp(b):
			// "help" or "?" alone: the overview, as help() prints it
			bareHelp = true
			b = []byte("\n")
		}
		first = false
		return b, err
	})
	s.lines += st.used
	if s.save != nil && !interrupted && !isEmpty(st.text) {
		s.save(strings.TrimRight(string(st.text), "\n"))
	}
	// A script's errors name its lines; an interactive statement's, as in Python, its own.
	shift := start
	if s.o.Interactive {
		shift = 0
	}
	line := func(l int32) int32 { return shift + st.inputLine(l) }
	if err != nil {
		if eof {
			return io.EOF
		}
		if interrupted {
			return readline.ErrInterrupt
		}
		if se, ok := err.(syntax.Error); ok && se.Pos.Line > 0 {
			se.Pos.Line = line(se.Pos.Line)
			err = se
		}
		s.statements++
		s.fail(start, err)
		return nil
	}
	if bareHelp {
		s.println(s.o.Out, starlib.HelpOverview())
		return nil
	}
	if len(f.Stmts) == 0 {
		return nil
	}
	mapLines(f, line)
	s.statements++

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	starlib.SetContext(s.thread, runCtx)
	s.thread.Uncancel()
	done := make(chan struct{})
	stopped := make(chan struct{})
	s.hit.Store(false)
	go func() {
		defer close(stopped)
		select {
		case <-s.o.Interrupts:
			s.hit.Store(true)
			cancel()
			s.thread.Cancel("interrupted")
		case <-runCtx.Done():
			s.thread.Cancel("interrupted")
		case <-done:
		}
	}()
	defer func() {
		close(done)
		<-stopped
	}()

	if expr := soleExpr(f); expr != nil {
		v, err := starlark.EvalExprOptions(f.Options, s.thread, expr, s.globals)
		if err != nil {
			s.fail(start, err)
			return nil
		}
		s.globals["_"] = v
		if v != starlark.None {
			s.println(s.o.Out, formatWidth(v, s.o.Width))
		}
		return nil
	}
	if err := starlark.ExecREPLChunk(f, s.thread, s.globals); err != nil {
		s.fail(start, err)
	}
	return nil
}

// fail prints the error of the statement that began after line start and counts it.
func (s *session) fail(start int32, err error) {
	if s.failed == 0 {
		s.firstFailed = start + 1
	}
	s.failed++
	s.printFailure(err, s.hit.Load())
}

// printFailure prints the error of a statement, or only that it was interrupted (and in
// which call) when an interrupt cancelled it: the cancellation's own error ("context
// canceled") says nothing a person at the prompt needs.
func (s *session) printFailure(err error, interrupted bool) {
	if !interrupted {
		s.printError(err)
		return
	}
	msg := "interrupted"
	var evalErr *starlark.EvalError
	if errors.As(err, &evalErr) && len(evalErr.CallStack) > 0 {
		if fr := evalErr.CallStack[len(evalErr.CallStack)-1]; !strings.HasPrefix(fr.Name, "<") {
			msg += " in " + fr.Name
		}
	}
	s.println(s.o.Err, msg)
}

// Format renders a value as the REPL prints it: a table when it has one (starlib.Table),
// otherwise its repr.
func Format(v starlark.Value) string { return formatWidth(v, 0) }

// formatWidth is Format with tables cut to width columns (0: no limit).
func formatWidth(v starlark.Value, width int) string {
	if t, ok := starlib.TableWidth(v, width); ok {
		return strings.TrimRight(t, "\n")
	}
	return v.String()
}

func soleExpr(f *syntax.File) syntax.Expr {
	if len(f.Stmts) == 1 {
		if stmt, ok := f.Stmts[0].(*syntax.ExprStmt); ok {
			return stmt.X
		}
	}
	return nil
}

func (s *session) printError(err error) {
	var evalErr *starlark.EvalError
	if errors.As(err, &evalErr) {
		s.println(s.o.Err, starlib.Backtrace(evalErr))
		return
	}
	s.println(s.o.Err, err.Error())
}

// logger prints log() lines and one progress line per call to Err.
type logger struct{ s *session }

func (l logger) Log(msg string, fields map[string]any) {
	l.s.println(l.s.o.Err, starlib.FormatLog(msg, fields))
}

func (l logger) Step(ev starlib.Event) {
	if ev.Err != "" && l.s.hit.Load() {
		ev.Err = "interrupted"
	}
	l.s.println(l.s.o.Err, playbook.FormatStep(ev))
}
