package repl

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// A script's errors name the script's lines, also inside a function an earlier statement
// defined, and Run reports that statements failed.
func TestScriptErrorsNameTheirLine(t *testing.T) {
	script := "x = 1\n" +
		"y = 2\n" +
		"z = 1 / 0\n" +
		"\n" +
		"def f():\n" +
		"    return {}[\"k\"]\n" +
		"\n" +
		"f()\n" +
		"x = = 1\n" +
		"print(\"end\", x + y)\n"
	var out, errOut bytes.Buffer
	err := Run(context.Background(), Options{Fleet: testFleet(t), In: strings.NewReader(script), Out: &out, Err: &errOut})
	if !errors.Is(err, ErrFailed) || err.Error() != "3 of 7 statements failed, the first on line 3" {
		t.Errorf("Run = %v, want ErrFailed for 3 of 7 statements, the first on line 3", err)
	}
	for _, want := range []string{
		"<stdin>:3:7: in <toplevel>\nError: floating-point division by zero",
		"<stdin>:8:2: in <expr>\n  <stdin>:6:14: in f\n",
		"<stdin>:9:5: got '=', want primary expression",
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	if strings.Contains(errOut.String(), "<stdin>:1:") || out.String() != "end 3\n" {
		t.Errorf("stdout %q, stderr:\n%s", out.String(), errOut.String())
	}
}

func TestScriptWithoutErrorsSucceeds(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), Options{Fleet: testFleet(t), In: strings.NewReader("x = 1\n\nx + 1\n"), Out: &out, Err: &out})
	if err != nil || out.String() != "2\n" {
		t.Errorf("Run = %v, output %q", err, out.String())
	}
}
