package main

import (
	"context"
	"strings"
	"testing"
)

func TestPlaybookHelp(t *testing.T) {
	e, out, errOut, _ := testEnv(t, &fakeFleet{}, nil)
	if code := run(context.Background(), e, []string{"../../playbooks/canary_rollout.star", "--help"}); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	s := out.String()
	for _, want := range []string{
		"canary_rollout.star: a change rolled out canaries first",
		"Args (--arg NAME=VALUE):",
		"  window        2              int\n",
		"  select        None           string, optional\n",
		"Usage:\n  mcorun PLAYBOOK.star",
		"--dry-run",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("PLAYBOOK.star --help lacks %q:\n%s", want, s)
		}
	}
	if i, j := strings.Index(s, "Args (--arg"), strings.Index(s, "Usage:"); i > j {
		t.Errorf("the playbook's args should come before the run flags:\n%s", s)
	}

	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), e, []string{"run", "nosuch.star", "-h"}); code != exitUsage ||
		!strings.Contains(errOut.String(), "playbook nosuch.star: no such file") {
		t.Errorf("help of a missing playbook: exit %d, %s", code, errOut)
	}
}
