package shell

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

// testShell is an agent over a state path of the test's own.
type testShell struct {
	t *testing.T
	s *Shell
	a *agent.Agent
}

func newTestShell(t *testing.T, tweak func(*Options)) *testShell {
	t.Helper()
	opts := Options{StatePath: t.TempDir(), KillGrace: 3 * time.Second}
	if tweak != nil {
		tweak(&opts)
	}
	s, err := newShell(opts)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.agent()
	if err != nil {
		t.Fatal(err)
	}
	return &testShell{t: t, s: s, a: a}
}

// call validates data against the DDL and runs the action as the server does: the reply
// starts with the DDL's output defaults.
func (ts *testShell) call(action string, data map[string]any) *agent.Reply {
	ts.t.Helper()
	rep := &agent.Reply{Data: ts.a.DDL.Defaults(action)}
	if err := ts.a.DDL.Validate(action, data); err != nil {
		rep.Fail(message.InvalidData, err.Error())
		return rep
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(ts.a.DDL.Metadata.Timeout)*time.Second)
	defer cancel()
	ts.a.Actions[action](ctx, &agent.Request{Agent: "shell", Action: action, Data: data}, rep)
	return rep
}

// mustOK calls the action and fails the test unless it succeeded.
func (ts *testShell) mustOK(action string, data map[string]any) map[string]any {
	ts.t.Helper()
	rep := ts.call(action, data)
	if rep.Status != message.OK {
		ts.t.Fatalf("%s %v: status %v: %s", action, data, rep.Status, rep.Message)
	}
	return rep.Data
}

// waitStatus polls the job's status until it is want, or fails the test after 15 seconds.
func (ts *testShell) waitStatus(handle, want string) map[string]any {
	ts.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		d := ts.mustOK("status", map[string]any{"handle": handle})
		if d["status"] == symbol(want) {
			return d
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("job %s: status %v, want %s", handle, d["status"], want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// symbol is a Ruby Symbol, as the statuses are.
func symbol(s string) marshal.Symbol { return marshal.Symbol(s) }

// live reports whether process pid exists and is not a zombie. (This machine's init may
// never reap the orphans of a killed group, so a zombie counts as gone.)
func live(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

// liveInGroup lists the live (not zombie) processes of process group pgid.
func liveInGroup(t *testing.T, pgid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		_, rest, _ := strings.Cut(string(b), ") ")
		f := strings.Fields(rest) // state, ppid, pgrp, ...
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitGone waits up to 5 seconds for every process of pids and group pgid to end.
func waitGone(t *testing.T, pgid int, pids ...int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var left []int
		for _, p := range pids {
			if live(p) {
				left = append(left, p)
			}
		}
		left = append(left, liveInGroup(t, pgid)...)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes %v (group %d) still run", left, pgid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pids parses the whitespace separated numbers a test command printed.
func pids(t *testing.T, s string) []int {
	t.Helper()
	var out []int
	for _, f := range strings.Fields(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("output %q: %v", s, err)
		}
		out = append(out, n)
	}
	return out
}
