package starlib

import (
	"errors"
	"strings"
	"testing"
)

func TestExitAcceptsTheOutcomeCodes(t *testing.T) {
	for arg, want := range map[string]int{"0": 0, "1": 1, "3": 3, "4": 4, "5": 5, "code = 3": 3} {
		thread, f, l := newTestThread(t)
		err := runSrc(t, thread, "exit("+arg+")\nfail('exit() did not stop the playbook')\n", f, l)
		var ee *ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("exit(%s): got %v, want an *ExitError", arg, err)
		}
		if ee.Code != want {
			t.Errorf("exit(%s): code %d, want %d", arg, ee.Code, want)
		}
	}
}

func TestExitRefusesOtherCodes(t *testing.T) {
	for _, code := range []string{"2", "6", "130", "-1", "256", "1 << 80"} {
		thread, f, l := newTestThread(t)
		err := runSrc(t, thread, "exit("+code+")\n", f, l)
		var ee *ExitError
		if errors.As(err, &ee) {
			t.Fatalf("exit(%s) ended the run with code %d, want it refused", code, ee.Code)
		}
		if err == nil || !strings.Contains(err.Error(), "is not a playbook outcome: want 0 (ok), 1 (failed), 3") {
			t.Errorf("exit(%s): got %v, want the refusal naming the accepted codes", code, err)
		}
	}
	thread, f, l := newTestThread(t)
	if err := runSrc(t, thread, "exit('3')\n", f, l); err == nil || !strings.Contains(err.Error(), "want int") {
		t.Errorf("exit('3'): got %v, want a type error", err)
	}
}

func TestExitInsideARollingStep(t *testing.T) {
	thread, f, l := newTestThread(t)
	err := runSrc(t, thread, "rolling(['a'], lambda b: exit(4))\n", f, l)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 4 {
		t.Errorf("exit(4) in a step: got %v, want an *ExitError with code 4", err)
	}
}
