package main

import (
	"context"
	"strings"
	"testing"
)

// find and ping apply --limit-nodes and -1 to the list they print.
func TestFindAndPingHonourLimit(t *testing.T) {
	cases := []struct {
		args []string
		want int
	}{
		{[]string{"find"}, 4},
		{[]string{"find", "--limit-nodes", "2"}, 2},
		{[]string{"find", "-1"}, 1},
		{[]string{"find", "--ln", "75%"}, 3},
		{[]string{"ping", "--limit-nodes", "3"}, 3},
		{[]string{"ping", "-1"}, 1},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			stdout, stderr, code := runSandbox(context.Background(), t, tc.args...)
			if code != exitOK {
				t.Fatalf("exit %d, stderr %s", code, stderr)
			}
			got := 0
			for _, line := range strings.Split(stdout.String(), "\n") {
				if strings.HasSuffix(line, ".net") || strings.Contains(line, " time=") {
					got++
				}
			}
			if got != tc.want {
				t.Errorf("%d nodes listed, want %d:\n%s", got, tc.want, stdout)
			}
		})
	}
}

// inventory names its node, so the flags that choose nodes are refused, not ignored.
func TestInventoryRefusesSelectionFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-F", "role=web"}, {"-C", "apache"}, {"-S", "role=web"}, {"--limit-nodes", "1"}, {"-1"}, {"--batch", "2"},
	} {
		e, out, errOut, cfg := testEnv(t, okFleet(nil), nil)
		code := run(context.Background(), e, append([]string{"inventory", "--config", cfg, "a.example.net"}, args...))
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
		if out.Len() != 0 || !strings.Contains(errOut.String(), args[0]+" does not apply to inventory") || !strings.Contains(errOut.String(), "mcorun find") {
			t.Errorf("%v: stdout %q, stderr %q", args, out, errOut)
		}
	}
	e, _, errOut, cfg := testEnv(t, okFleet(map[string]any{}), nil)
	if code := run(context.Background(), e, []string{"inventory", "--config", cfg, "a.example.net", "--json"}); code != exitOK {
		t.Errorf("plain inventory: exit %d, stderr %s", code, errOut)
	}
}
