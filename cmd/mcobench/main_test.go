package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFlagsRefused(t *testing.T) {
	for _, args := range [][]string{{"--brokers", "activemq"}, {"--rounds", "0"}, {"--nodes", "x"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errb.String())
		}
	}
}

func TestLostRepliesAreReportedNotAveraged(t *testing.T) {
	calls := 0
	s := &suite{o: options{rounds: 3}}
	got := s.repeat(func() row {
		calls++
		r := row{tool: "mcorun", op: "rpc ping", expected: 10, replies: 10, wall: time.Duration(calls) * time.Millisecond}
		if calls == 2 {
			r.replies = 9
		}
		return r
	})
	if got.replies != 9 || calls != 2 {
		t.Fatalf("repeat returned %+v after %d calls, want the run that lost a reply", got, calls)
	}
	res := &result{broker: "embedded", nodes: 10, conns: 10, floor: 5 * time.Millisecond, rows: []row{got}}
	if !res.lost() {
		t.Fatal("a run with 9 of 10 replies does not count as lost")
	}
	path := filepath.Join(t.TempDir(), "r.tsv")
	if err := writeTSV(path, []*result{res}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "embedded\t10\t10\tfloor\ttwo-rounds\t10.0\t") ||
		!strings.HasPrefix(lines[2], "embedded\t10\t10\tmcorun\trpc ping\t2.0\t10.0\t0.20\t") {
		t.Fatalf("tsv:\n%s", b)
	}
}

func TestMedianRunIsReturned(t *testing.T) {
	walls := []time.Duration{30, 10, 20}
	i := 0
	s := &suite{o: options{rounds: 3}}
	got := s.repeat(func() row {
		r := row{expected: 1, replies: 1, wall: walls[i]}
		i++
		return r
	})
	if got.wall != 20 {
		t.Fatalf("median run %v, want 20", got.wall)
	}
}
