package playbook

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/mcorun/mcorun/starlib"
)

// findParams returns the first params(...) call of a parsed file, or nil.
func findParams(f *syntax.File) *syntax.CallExpr {
	var found *syntax.CallExpr
	syntax.Walk(f, func(n syntax.Node) bool {
		if found != nil {
			return false
		}
		if c, ok := n.(*syntax.CallExpr); ok {
			if id, ok := c.Fn.(*syntax.Ident); ok && id.Name == "params" {
				found = c
				return false
			}
		}
		return true
	})
	return found
}

// precheckArgs checks raw --arg values against the params(...) call of a playbook's own
// file before anything runs, by evaluating that call alone with fresh builtins, no fleet
// and a cancelled context. It returns nil when the call cannot be evaluated on its own (its
// defaults refer to the playbook's globals, for instance): params() then checks the args
// when the playbook runs. pos is the position of the call when it was found.
func precheckArgs(filename string, src []byte, raw map[string]string) (pos syntax.Position, err error) {
	opts := starlib.FileOptions()
	f, perr := opts.Parse(filename, src, 0)
	if perr != nil {
		return pos, nil // the run reports syntax errors
	}
	call := findParams(f)
	if call == nil {
		return pos, nil
	}
	pos, _ = call.Span()
	if _, err := evalAlone(opts, call, raw); err != nil {
		if argErr := argError(err); argErr != nil {
			return pos, argErr
		}
	}
	return pos, nil
}

// CheckArgs checks raw --arg values against the params(...) call of a playbook's own file,
// as Run does before anything runs, so that a caller can refuse them before it even
// connects. It returns the error of an unknown or ill-typed arg, with the position of the
// call, or nil (also when the call cannot be evaluated on its own: Run checks then).
func CheckArgs(filename string, src []byte, raw map[string]string) error {
	if len(raw) == 0 {
		return nil
	}
	if pos, err := precheckArgs(filename, src, raw); err != nil {
		return fmt.Errorf("%s: %w", pos, err)
	}
	return nil
}

// evalAlone evaluates one expression of a playbook (its params(...) call, or one of that
// call's declarations) alone, with the raw args, fresh builtins, no fleet and a cancelled
// context.
func evalAlone(opts *syntax.FileOptions, e syntax.Expr, raw map[string]string) (starlark.Value, error) {
	thread := &starlark.Thread{Name: "params check", Print: func(*starlark.Thread, string) {}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // nothing may wait
	starlib.SetContext(thread, ctx)
	starlib.SetArgs(thread, raw)
	starlib.SetLogger(thread, discardLogger{})
	thread.SetMaxExecutionSteps(100000)
	return starlark.EvalExprOptions(opts, thread, e, starlib.Predeclared())
}

// argError returns the error in err's chain that is params() rejecting an --arg (unknown
// or ill-typed), or nil when err is an error of the playbook's own.
func argError(err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if _, ok := e.(*starlark.EvalError); ok {
			continue
		}
		msg := e.Error()
		if strings.HasPrefix(msg, "params: arg ") || strings.HasPrefix(msg, "params: unknown arg ") {
			return e
		}
	}
	return nil
}

// discardLogger drops log lines and events.
type discardLogger struct{}

func (discardLogger) Log(string, map[string]any) {}
func (discardLogger) Step(starlib.Event)         {}
