package main

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/mcorun/mcorun/runtime/startest"
)

const testUsage = `Usage:
  mcorun test [-v] [-run REGEXP] [PATH]...

Runs playbook tests: the test_ functions of *_test.star files, each against a
simulated fleet and a fake clock, so nothing needs a broker and nothing
really waits. A PATH is a test file or a directory searched recursively;
none means the current directory.

A test file declares its fleet (fleet, node), canned replies and failures
(fleet.reply, fleet.fail, fleet.silence, fleet.on_call), runs a playbook
(run_playbook) or calls functions loaded from one, and checks the calls made
(calls) and the outcome with load("assert.star", "assert").

The output is go test's: "--- FAIL: test_name (file:line)" with the file:line
of each failed assertion, then "ok" or "FAIL" per file. The exit code is 0
when every test passed, 1 when one failed, 2 for a usage error.
docs/testing.md describes every helper, with examples.

Examples:
  mcorun test playbooks/
  mcorun test -v -run 'canary' playbooks/canary_rollout_test.star
`

func testCommand() *command {
	return &command{name: "test", summary: "run playbook tests (*_test.star) on a simulated fleet", usage: testUsage, run: runTest}
}

func runTest(ctx context.Context, e *env, args []string) int {
	var o startest.Options
	fs := pflag.NewFlagSet("mcorun test", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.BoolVarP(&o.Verbose, "verbose", "v", false, "list every test, passing ones too, with their output")
	fs.StringVar(&o.Run, "run", "", "run only the tests whose name matches this regular expression")
	fs.Uint64Var(&o.MaxSteps, "max-steps", 0, "Starlark step budget of each test (0: 100 million)")
	if done, err := parseFlags(e, fs, testUsage, goStyleFlags(args)); done {
		return exitOK
	} else if err != nil {
		return usageErr(e, "test", err)
	}
	o.Paths, o.Out, o.Err = fs.Args(), e.stdout, e.stderr
	return startest.Run(ctx, o)
}

// goStyleFlags accepts go test's single-dash spelling of the long flags: -run and
// -max-steps.
func goStyleFlags(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		for _, name := range []string{"-run", "-max-steps"} {
			if a == name || len(a) > len(name) && a[:len(name)+1] == name+"=" {
				a = "-" + a
			}
		}
		out[i] = a
	}
	return out
}
