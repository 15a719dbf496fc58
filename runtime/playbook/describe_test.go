package playbook

import (
	"os"
	"strings"
	"testing"
)

func TestDescribeCanaryRollout(t *testing.T) {
	src, err := os.ReadFile("../../playbooks/canary_rollout.star")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Describe("canary_rollout.star", src)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"canary_rollout.star: a change rolled out canaries first",
		"  max_failures  failures tolerated", // the header's Args section, "# " marks gone
		"Args (--arg NAME=VALUE):\n  NAME",
		"  filter        \"\"             string\n",
		"  select        None           string, optional\n",
		"  input         [\"noop=true\"]  list of strings, comma-separated\n",
		"  window        2              int\n",
		"  max_failures  0              size (N or \"N%\")\n",
		"  sleep         0s             duration\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("description lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "p = params") || strings.Contains(out, "\n# ") {
		t.Errorf("description has code or comment marks:\n%s", out)
	}
}

func TestDescribeEdges(t *testing.T) {
	for _, c := range []struct{ src, want, wantErr string }{
		{"#!/usr/bin/env mcorun\n# one line\nprint(1)\n", "one line\n\nArgs: none; the playbook declares no params()", ""},
		{"N = 3\nparams(n = N, d = time.parse_duration(\"5s\"))\n", "  n     (computed)  ?\n  d     5s          duration\n", ""},
		{"params(d = time.parse_duration(\"5s\"), on = False)\n", "  d     5s       duration\n  on    False    bool\n", ""},
		{"params(m = param.choice(\"a\", \"b\"), b = param.size(None))\n", "  m     \"a\"      one of a, b\n  b     None     size (N or \"N%\")\n", ""},
		{"params(x = = 1)\n", "", "'mcorun check x.star' lists every problem"},
	} {
		out, err := Describe("x.star", []byte(c.src))
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: error %v, want %q", c.src, err, c.wantErr)
			}
			continue
		}
		if err != nil || !strings.Contains(out, c.want) {
			t.Errorf("%q: %v, output lacks %q:\n%s", c.src, err, c.want, out)
		}
	}
}
