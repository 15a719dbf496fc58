package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/journal"
)

// cutJournal leaves run id's journal as a crash in its second rpc leaves it: up to that
// call's sent mark, and half a line.
func cutJournal(t *testing.T, base, id string) {
	t.Helper()
	path := filepath.Join(base, id, journal.FileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	sent := 0
	for i, l := range lines {
		if strings.Contains(l, `"type":"sent"`) && strings.Contains(l, `"kind":"rpc"`) {
			if sent++; sent == 2 {
				if err := os.WriteFile(path, []byte(strings.Join(lines[:i+1], "")+`{"type":"do`), 0o600); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
	}
	t.Fatalf("no second rpc in %s", path)
}

func listed(t *testing.T, base string) []journal.Summary {
	t.Helper()
	stdout, stderr, code := runSandbox(context.Background(), t, "runs", "--journal", base, "--json")
	var runs []journal.Summary
	if code != exitOK || json.Unmarshal([]byte(stdout.String()), &runs) != nil {
		t.Fatalf("runs --json: exit %d\n%s%s", code, stdout, stderr)
	}
	return runs
}

func TestRunsAndResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, base := t.TempDir(), t.TempDir()
	file := filepath.Join(dir, "pb.star")
	src := "nodes = discover()\nfor n in nodes.list():\n    rpc('rpcutil', 'ping', nodes = [n])\nprint('pinged', len(nodes))\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(dir, "events.jsonl")
	stdout, stderr, code := runSandbox(ctx, t, "run", file, "--journal", base, "--events", events, "--json")
	if code != exitOK {
		t.Fatalf("run: %d\n%s", code, stderr)
	}
	rep := decodeJSON(t, stdout.String()[strings.Index(stdout.String(), "{"):])
	runs := listed(t, base)
	if len(runs) != 1 || rep["run_id"] != runs[0].ID || runs[0].Status != "ok" || runs[0].Calls != 5 {
		t.Fatalf("runs %+v, report run_id %v", runs, rep["run_id"])
	}
	if out, _, code := runSandbox(ctx, t, "runs", "--journal", base, "--format", "csv"); code != exitOK ||
		out.String() != "id,playbook,started,finished,status,stopped_at\n"+runs[0].ID+","+file+","+runs[0].Started.Local().Format("2006-01-02 15:04:05")+","+runs[0].Finished.Local().Format("2006-01-02 15:04:05")+",ok,\n" {
		t.Errorf("runs --format csv: exit %d\n%s", code, out)
	}
	ev, _ := os.ReadFile(events)
	if n := strings.Count(string(ev), "\n"); n < 12 || strings.Contains(string(ev), `"result"`) {
		t.Errorf("--events wrote %d lines, or results:\n%s", n, ev)
	}
	first := runs[0].ID
	if _, stderr, code := runSandbox(ctx, t, "resume", first, "--journal", base); code != exitNothingToResume ||
		!strings.Contains(stderr.String(), "ended ok: nothing to resume") {
		t.Errorf("resume of an ok run: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := runSandbox(ctx, t, "run", file, "--journal", base, "--resume"); code != exitOK ||
		!strings.Contains(stderr.String(), "no interrupted run of "+file+" to resume: starting a new run") {
		t.Errorf("--resume without an interrupted run: exit %d\n%s", code, stderr)
	}

	// the newest run died in its second ping
	crashed := listed(t, base)[0].ID
	cutJournal(t, base, crashed)
	stdout, _, _ = runSandbox(ctx, t, "runs", "--journal", base)
	if !strings.Contains(stdout.String(), "unfinished") || !strings.Contains(stdout.String(), "(sent, not completed)") {
		t.Errorf("runs does not show the crashed run:\n%s", stdout)
	}
	stdout, _, _ = runSandbox(ctx, t, "runs", "show", crashed, "--journal", base)
	if !strings.Contains(stdout.String(), "sent, never completed") || !strings.Contains(stdout.String(), "cut short") {
		t.Errorf("runs show:\n%s", stdout)
	}

	// an edited playbook is refused before anything is sent
	edited := strings.Replace(src, "'ping'", "'get_fact', {'fact': 'role'}", 1)
	if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runSandbox(ctx, t, "resume", crashed, "--journal", base); code != exitMismatch ||
		!strings.Contains(stderr.String(), "journal mismatch at call 2") {
		t.Errorf("resume after an edit: exit %d\n%s", code, stderr)
	}
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = runSandbox(ctx, t, "run", file, "--journal", base, "--resume")
	if code != exitOK || !strings.Contains(stderr.String(), "resuming run "+crashed) ||
		!strings.Contains(stderr.String(), "sent but never completed in run "+crashed) ||
		!strings.Contains(stdout.String(), "pinged 4") {
		t.Errorf("cron resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if got := listed(t, base)[0]; got.ResumeOf != crashed || got.Status != "ok" {
		t.Errorf("the resumed run: %+v", got)
	}
	if _, stderr, code := runSandbox(ctx, t, "resume", "--last", file, "--journal", base); code != exitNothingToResume {
		t.Errorf("resume --last after the resume: exit %d\n%s", code, stderr)
	}

	// a corrupt journal: a clear error, nothing sent
	bad := filepath.Join(base, "20260101T000000Z-bad000")
	if err := os.MkdirAll(bad, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, journal.FileName), []byte("{\"type\":\"now\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runSandbox(ctx, t, "resume", "20260101T000000Z-bad000", "--journal", base); code != exitUsage ||
		!strings.Contains(stderr.String(), "corrupt journal: line 1 is not a header; nothing sent") {
		t.Errorf("corrupt journal: exit %d\n%s", code, stderr)
	}
}
