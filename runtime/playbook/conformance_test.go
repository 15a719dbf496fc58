package playbook

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/playbook/fleettest"
	"github.com/mcorun/mcorun/runtime/sandbox"
	"github.com/mcorun/mcorun/starlib"
)

// conformanceFleet is the fleet both sides of the conformance suite run.
const conformanceFleet = "../../testdata/fleets/conformance.yaml"

// outcome is what the suite compares of one run: the exit code and error, everything the
// case printed, and every step and log line of its report (kind, agent, action, filter,
// args, targets, ok, failed, missing, dry run, error; message and fields). Left out,
// because they measure the clock rather than what a call did: the report's times and
// durations (Started, Finished, Duration, Step.Time, Step.Duration, LogLine.Time) and, in
// the printed results, the fields testdata/conformance/lib/show.star lists.
type outcome struct {
	ExitCode int
	Error    string
	Stdout   []string
	Steps    []Step
	Log      []LogLine
}

func outcomeOf(t *testing.T, r run) outcome {
	t.Helper()
	b, err := os.ReadFile(r.report)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	for i := range rep.Steps {
		rep.Steps[i].Time, rep.Steps[i].Duration = time.Time{}, 0
	}
	for i := range rep.Log {
		rep.Log[i].Time = time.Time{}
	}
	return outcome{ExitCode: r.ExitCode, Error: rep.Outcome.Error, Stdout: strings.Split(r.stdout, "\n"), Steps: rep.Steps, Log: rep.Log}
}

// diff describes the first differences between two outcomes, or "" when they agree.
func diff(mem, sb outcome) string {
	var out []string
	if mem.ExitCode != sb.ExitCode || mem.Error != sb.Error {
		out = append(out, fmt.Sprintf("exit %d %q on the test fleet, %d %q on the sandbox", mem.ExitCode, mem.Error, sb.ExitCode, sb.Error))
	}
	for i := range max(len(mem.Stdout), len(sb.Stdout)) {
		var a, b string
		if i < len(mem.Stdout) {
			a = mem.Stdout[i]
		}
		if i < len(sb.Stdout) {
			b = sb.Stdout[i]
		}
		if a != b {
			out = append(out, fmt.Sprintf("output line %d:\n  test fleet: %s\n  sandbox:    %s", i+1, a, b))
		}
	}
	if len(mem.Steps) != len(sb.Steps) {
		out = append(out, fmt.Sprintf("%d steps on the test fleet, %d on the sandbox", len(mem.Steps), len(sb.Steps)))
	}
	for i := range min(len(mem.Steps), len(sb.Steps)) {
		if !reflect.DeepEqual(mem.Steps[i], sb.Steps[i]) {
			out = append(out, fmt.Sprintf("step %d:\n  test fleet: %+v\n  sandbox:    %+v", i+1, mem.Steps[i], sb.Steps[i]))
		}
	}
	if len(mem.Log) != len(sb.Log) {
		out = append(out, fmt.Sprintf("%d log lines on the test fleet, %d on the sandbox", len(mem.Log), len(sb.Log)))
	}
	for i := range min(len(mem.Log), len(sb.Log)) {
		if !reflect.DeepEqual(mem.Log[i], sb.Log[i]) {
			out = append(out, fmt.Sprintf("log line %d:\n  test fleet: %+v\n  sandbox:    %+v", i+1, mem.Log[i], sb.Log[i]))
		}
	}
	return strings.Join(out, "\n")
}

// TestConformance runs every testdata/conformance/*.star case on the in-memory test fleet
// and on a sandbox (real STOMP through the embedded broker) built from the same fleet file,
// and requires the same outcome from both.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts sandboxes")
	}
	cases, err := filepath.Glob(filepath.Join("..", "..", "testdata", "conformance", "*.star"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no conformance cases: %v", err)
	}
	fleet, err := sandbox.LoadFleet(conformanceFleet)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := fleet.Nodes(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range cases {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".star"), func(t *testing.T) {
			mem := closing(t, fleettest.FromSandbox(nodes))
			sb := sandboxClient(t, sandbox.Options{Fleet: fleet, Plugins: sandbox.SimulatedPuppet})
			ctx := context.Background()
			rm := runSource(t, ctx, "", Options{File: file, Fleet: mem, ReportFile: filepath.Join(t.TempDir(), "mem.json")})
			rs := runSource(t, ctx, "", Options{File: file, Fleet: sb, Clock: starlib.WallClock{}, ReportFile: filepath.Join(t.TempDir(), "sb.json")})
			om, os := outcomeOf(t, rm), outcomeOf(t, rs)
			if d := diff(om, os); d != "" {
				t.Errorf("the test fleet and the sandbox disagree on %s:\n%s\n\ntest fleet stderr:\n%s\nsandbox stderr:\n%s", file, d, rm.stderr, rs.stderr)
			}
			if om.ExitCode != ExitOK {
				t.Errorf("%s failed: %s\n%s", file, om.Error, rm.stderr)
			}
		})
	}
}
