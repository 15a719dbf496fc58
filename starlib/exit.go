package starlib

import (
	"fmt"

	"go.starlark.net/starlark"
)

// exitMeanings are the codes a playbook may end with through exit(), by meaning; they are
// the README's exit codes for a run's outcome. 2 (usage), 6 (locked) and 130 (interrupted)
// describe mcorun itself, never what a playbook found.
var exitMeanings = map[int]string{
	0: "ok",
	1: "the playbook failed",
	3: "some nodes failed",
	4: "some nodes did not reply",
	5: "some nodes failed and some did not reply",
}

// ExitError is the error of exit(code): the playbook ended itself on purpose with an exit
// code of the README's table. Find it in an evaluation error with errors.As; code 0 is a
// success, not a failure.
type ExitError struct{ Code int }

// Error returns "exit(CODE): MEANING".
func (e *ExitError) Error() string { return fmt.Sprintf("exit(%d): %s", e.Code, exitMeanings[e.Code]) }

// CheckExitCode returns an error unless code is one that exit() accepts: 0, 1, 3, 4 or 5.
func CheckExitCode(code int64) error {
	if code >= 0 && code <= 5 {
		if _, ok := exitMeanings[int(code)]; ok {
			return nil
		}
	}
	return refuseExitCode(fmt.Sprint(code))
}

func refuseExitCode(code string) error {
	return fmt.Errorf("exit: code %s is not a playbook outcome: want 0 (ok), 1 (failed), 3 (some nodes failed), "+
		"4 (some nodes did not reply) or 5 (both); 2, 6 and 130 are mcorun's own (usage, locked, interrupted)", code)
}

// exit(code)
func exitBuiltin(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var code starlark.Int
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "code", &code); err != nil {
		return nil, err
	}
	n, ok := code.Int64()
	if !ok {
		return nil, refuseExitCode(code.String())
	}
	if err := CheckExitCode(n); err != nil {
		return nil, err
	}
	return nil, &ExitError{Code: int(n)}
}
