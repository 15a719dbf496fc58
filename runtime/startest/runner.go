package startest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	"go.starlark.net/syntax"

	"github.com/mcorun/mcorun/starlib"
)

// The exit codes of Run.
const (
	ExitOK     = 0 // every test passed
	ExitFailed = 1 // a test failed, or a test file could not be loaded
	ExitUsage  = 2 // a missing path, a bad pattern or no test files
)

// Options are the settings of Run. The zero value runs every test of the current directory
// and writes to os.Stdout.
type Options struct {
	Paths   []string  // files or directories (searched recursively for *_test.star); none means "."
	Run     string    // a regular expression; only tests whose name matches run
	Verbose bool      // list every test, passing ones too, with their output
	Out     io.Writer // the report; nil means os.Stdout
	Err     io.Writer // usage errors (a missing path, a bad pattern); nil means Out
	// MaxSteps bounds the Starlark steps of each test; 0 means 100 million.
	MaxSteps uint64
}

// Run runs the tests of the files that opts names and writes a go-test-like report to
// opts.Out. It returns ExitOK, ExitFailed or ExitUsage.
func Run(ctx context.Context, opts Options) int {
	out := opts.Out
	if out == nil {
		out = os.Stdout
	}
	errw := opts.Err
	if errw == nil {
		errw = out
	}
	var pattern *regexp.Regexp
	if opts.Run != "" {
		re, err := regexp.Compile(opts.Run)
		if err != nil {
			fmt.Fprintf(errw, "mcorun test: -run: %v\n", err)
			return ExitUsage
		}
		pattern = re
	}
	files, err := Find(opts.Paths)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = fmt.Errorf("%s: no such file or directory", pe.Path)
			}
		}
		fmt.Fprintf(errw, "mcorun test: %v\n", err)
		return ExitUsage
	}
	if len(files) == 0 {
		fmt.Fprintf(errw, "mcorun test: no *_test.star files in %s\n", strings.Join(pathsOrDot(opts.Paths), " "))
		return ExitUsage
	}
	failed := false
	for _, file := range files {
		if ctx.Err() != nil {
			fmt.Fprintf(out, "test: %v\n", ctx.Err())
			return ExitFailed
		}
		if !runFile(ctx, file, pattern, opts, out) {
			failed = true
		}
	}
	if failed {
		fmt.Fprintln(out, "FAIL")
		return ExitFailed
	}
	return ExitOK
}

func pathsOrDot(paths []string) []string {
	if len(paths) == 0 {
		return []string{"."}
	}
	return paths
}

// Find returns the test files that paths name: each file as given, and every *_test.star
// below each directory, sorted. No paths means the current directory.
func Find(paths []string) ([]string, error) {
	return FindFiles(paths, func(name string) bool { return strings.HasSuffix(name, "_test.star") })
}

// FindFiles returns the files that paths name: each file as given, and every file below
// each directory whose base name want accepts, sorted per directory. It skips the
// directories test skips (hidden ones and testdata). No paths means the current directory.
func FindFiles(paths []string, want func(name string) bool) ([]string, error) {
	var files []string
	seen := map[string]bool{}
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			files = append(files, f)
		}
	}
	for _, p := range pathsOrDot(paths) {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			add(p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if !d.IsDir() && want(d.Name()) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		for _, f := range found {
			add(f)
		}
	}
	return files, nil
}

// testCase is one test_ function of a file.
type testCase struct {
	name string
	fn   *starlark.Function
}

// runFile runs the tests of one file and reports whether all passed.
func runFile(ctx context.Context, file string, pattern *regexp.Regexp, opts Options, out io.Writer) bool {
	start := time.Now()
	tests, err := loadFile(ctx, file, opts)
	if err != nil {
		fmt.Fprintf(out, "--- FAIL: %s (load)\n", file)
		writeIndented(out, describe(err))
		fmt.Fprintf(out, "FAIL\t%s\t%.2fs\n", file, time.Since(start).Seconds())
		return false
	}
	ok := true
	ran := 0
	for _, tc := range tests {
		if pattern != nil && !pattern.MatchString(tc.name) {
			continue
		}
		ran++
		if opts.Verbose {
			fmt.Fprintf(out, "=== RUN   %s\n", tc.name)
		}
		r := runTest(ctx, file, tc, opts)
		pos := tc.fn.Position()
		switch {
		case r.passed():
			if opts.Verbose {
				fmt.Fprintf(out, "--- PASS: %s (%.2fs)\n", tc.name, r.elapsed.Seconds())
				writeIndented(out, r.output.String())
			}
		default:
			ok = false
			fmt.Fprintf(out, "--- FAIL: %s (%s:%d)\n", tc.name, pos.Filename(), pos.Line)
			for _, f := range r.failures {
				writeIndented(out, f)
			}
			if r.err != nil {
				writeIndented(out, describe(r.err))
			}
			writeIndented(out, r.output.String())
		}
	}
	if ran == 0 && len(tests) == 0 {
		fmt.Fprintf(out, "--- FAIL: %s (no test_ functions)\n", file)
		ok = false
	}
	if ok {
		note := ""
		if ran == 0 {
			note = " [no tests to run]"
		}
		fmt.Fprintf(out, "ok  \t%s\t%.2fs%s\n", file, time.Since(start).Seconds(), note)
	} else {
		fmt.Fprintf(out, "FAIL\t%s\t%.2fs\n", file, time.Since(start).Seconds())
	}
	return ok
}

// loadFile executes a test file and returns its test_ functions in the order of the file.
func loadFile(ctx context.Context, file string, opts Options) ([]testCase, error) {
	st := newState(ctx, file)
	defer st.close()
	thread := st.thread("load " + file)
	var output strings.Builder
	thread.Print = func(_ *starlark.Thread, msg string) { output.WriteString(msg + "\n") }
	thread.SetMaxExecutionSteps(maxSteps(opts))
	rep := &reporter{thread: thread}
	setReporter(thread, rep)
	globals, err := starlib.Run(thread, file, nil, runOptions())
	if err != nil {
		if output.Len() > 0 {
			return nil, fmt.Errorf("%s\noutput:\n%s", describe(err), strings.TrimRight(output.String(), "\n"))
		}
		return nil, err
	}
	if len(rep.failures) > 0 {
		return nil, errors.New(strings.Join(rep.failures, "\n"))
	}
	var tests []testCase
	for name, v := range globals {
		fn, ok := v.(*starlark.Function)
		if !ok || !strings.HasPrefix(name, "test_") {
			continue
		}
		if fn.NumParams() > 0 && fn.ParamDefault(0) == nil {
			return nil, fmt.Errorf("%s: %s takes parameters; a test takes none", fn.Position(), name)
		}
		tests = append(tests, testCase{name: name, fn: fn})
	}
	sort.SliceStable(tests, func(i, j int) bool {
		a, b := tests[i].fn.Position(), tests[j].fn.Position()
		if a.Filename() != b.Filename() {
			return a.Filename() < b.Filename()
		}
		return a.Line < b.Line
	})
	return tests, nil
}

func maxSteps(opts Options) uint64 {
	if opts.MaxSteps > 0 {
		return opts.MaxSteps
	}
	return 100_000_000
}

// runOptions are the starlib.RunOptions of a test file: the builtins, the helpers and
// assert.star.
func runOptions() starlib.RunOptions {
	assert, err := starlarktest.LoadAssertModule()
	if err != nil {
		panic(err) // the module is embedded in go.starlark.net
	}
	pre := starlib.Predeclared()
	for k, v := range helpers() {
		pre[k] = v
	}
	return starlib.RunOptions{Predeclared: pre, Modules: map[string]starlark.StringDict{"assert.star": assert}}
}

// testResult is the outcome of one test.
type testResult struct {
	failures []string
	err      error
	output   strings.Builder
	elapsed  time.Duration
}

func (r *testResult) passed() bool { return len(r.failures) == 0 && r.err == nil }

// runTest calls one test function on a fresh thread with a fresh fleet and clock.
func runTest(ctx context.Context, file string, tc testCase, opts Options) *testResult {
	r := &testResult{}
	start := time.Now()
	st := newState(ctx, file)
	defer st.close()
	thread := st.thread(tc.name)
	thread.Print = func(_ *starlark.Thread, msg string) { r.output.WriteString(msg + "\n") }
	thread.SetMaxExecutionSteps(maxSteps(opts))
	rep := &reporter{thread: thread}
	setReporter(thread, rep)
	stop := context.AfterFunc(ctx, func() { thread.Cancel("interrupted") })
	_, err := starlark.Call(thread, tc.fn, nil, nil)
	stop()
	r.failures, r.err = rep.failures, err
	r.elapsed = time.Since(start)
	return r
}

// setReporter makes r the thread's assertion reporter.
func setReporter(thread *starlark.Thread, r starlarktest.Reporter) {
	starlarktest.SetReporter(thread, r)
	thread.SetLocal(stateReporterKey, r)
}

// reporter collects assertion failures with the file:line of the failing assertion.
type reporter struct {
	thread   *starlark.Thread
	failures []string
}

// Error implements starlarktest.Reporter. assert.star's error() passes a traceback and the
// message; the failure keeps the message and the innermost position outside assert.star.
func (r *reporter) Error(args ...any) {
	msg := fmt.Sprint(args...)
	if i := strings.LastIndex(msg, "Error: "); i >= 0 {
		msg = msg[i+len("Error: "):]
	}
	r.failures = append(r.failures, fmt.Sprintf("%s: %s", assertPos(r.thread), msg))
}

// assertPos finds the test's line of an assertion: the innermost frame of the call stack
// that is neither a builtin nor in assert.star.
func assertPos(thread *starlark.Thread) string {
	stack := thread.CallStack()
	for i := len(stack) - 1; i >= 0; i-- {
		pos := stack[i].Pos
		name := pos.Filename()
		if name == "assert.star" || name == "<builtin>" || !pos.IsValid() {
			continue
		}
		return fmt.Sprintf("%s:%d", name, pos.Line)
	}
	return "?"
}

// describe renders an error of a test or a test file: the message and, for a Starlark
// error, its backtrace.
func describe(err error) string {
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		return starlib.Backtrace(ee)
	}
	var se syntax.Error
	if errors.As(err, &se) {
		return se.Error()
	}
	return err.Error()
}

// writeIndented writes text with every line indented by four spaces.
func writeIndented(w io.Writer, text string) {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return
	}
	for line := range strings.SplitSeq(text, "\n") {
		fmt.Fprintf(w, "    %s\n", line)
	}
}
