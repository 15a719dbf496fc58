package starlib

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

func evalError(t *testing.T, src string) *starlark.EvalError {
	t.Helper()
	_, err := starlark.ExecFileOptions(&syntax.FileOptions{Recursion: true}, &starlark.Thread{Name: "test"}, "pb.star", src, nil)
	var ee *starlark.EvalError
	if !errors.As(err, &ee) {
		t.Fatalf("want an EvalError, got %v", err)
	}
	return ee
}

func TestBacktraceShortensRecursion(t *testing.T) {
	ee := evalError(t, "def f(n):\n    return f(n + 1)\nf(0)\n")
	got := Backtrace(ee)
	lines := strings.Split(got, "\n")
	if len(lines) > 10 {
		t.Fatalf("%d lines:\n%s", len(lines), strings.Join(lines[:20], "\n"))
	}
	m := regexp.MustCompile(`\n  \[Previous line repeated (\d+) more times\]\n`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("no repeat line:\n%s", got)
	}
	// every frame is accounted for: the shown lines plus the repeated ones.
	shown := strings.Count(got, ": in ")
	if n, _ := strconv.Atoi(m[1]); n+shown != len(ee.CallStack) {
		t.Errorf("%d repeated + %d shown frames, stack has %d:\n%s", n, shown, len(ee.CallStack), got)
	}
	if strings.Count(got, "pb.star:2:13: in f\n") != 3 || !strings.HasPrefix(got, "Traceback (most recent call last):\n  pb.star:3:2: in <toplevel>\n") ||
		!strings.HasSuffix(got, "Error: Starlark stack overflow") {
		t.Errorf("traceback:\n%s", got)
	}
}

func TestBacktraceShortensMutualRecursion(t *testing.T) {
	ee := evalError(t, "def f(n):\n    return g(n + 1)\ndef g(n):\n    return f(n + 1)\nf(0)\n")
	got := Backtrace(ee)
	if n := strings.Count(got, "\n"); n > 2*edgeShown+3 {
		t.Fatalf("%d lines", n)
	}
	m := regexp.MustCompile(`\n  \[(\d+) more frames left out\]\n`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("no left-out line:\n%s", got)
	}
	if n, _ := strconv.Atoi(m[1]); n+2*edgeShown != len(ee.CallStack) {
		t.Errorf("%d left out + %d shown, stack has %d", n, 2*edgeShown, len(ee.CallStack))
	}
}

func TestBacktraceOfAShallowErrorIsStarlarks(t *testing.T) {
	ee := evalError(t, "def f(n):\n    return f(n - 1) if n else {}[n]\nf(3)\n")
	if got, want := Backtrace(ee), ee.Backtrace(); got != want {
		t.Errorf("Backtrace =\n%s\nwant Starlark's\n%s", got, want)
	}
	ee = evalError(t, "len(1)\n")
	if got, want := Backtrace(ee), ee.Backtrace(); got != want {
		t.Errorf("builtin error: Backtrace =\n%s\nwant Starlark's\n%s", got, want)
	}
}
