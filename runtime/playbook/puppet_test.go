package playbook

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/sandbox"
	"github.com/mcorun/mcorun/starlib"
)

// runRollingPuppet runs playbooks/rolling_puppet.star on a sandbox of the fleet file
// testdata/fleets/NAME, whose nodes serve the real puppet agent over a simulated Puppet.
func runRollingPuppet(t *testing.T, fleetFile string, args map[string]string) run {
	t.Helper()
	fleet := sandboxClient(t, sandbox.Options{
		FleetFile: filepath.Join("..", "..", "testdata", "fleets", fleetFile),
		Plugins:   sandbox.SimulatedPuppet,
	})
	all := map[string]string{"poll": "20ms", "timeout": "5s"}
	for k, v := range args {
		all[k] = v
	}
	return runSource(t, context.Background(), "", Options{File: filepath.Join("..", "..", "playbooks", "rolling_puppet.star"),
		Fleet: fleet, Args: all, ReportFile: filepath.Join(t.TempDir(), "report.json"), Clock: starlib.WallClock{}})
}

// runonceTargets lists the targets of each puppet runonce step of a report.
func runonceTargets(rep *Report) [][]string {
	var out [][]string
	for _, s := range rep.Steps {
		if s.Kind == "rpc" && s.Agent == "puppet" && s.Action == "runonce" {
			out = append(out, s.Targets)
		}
	}
	return out
}

// web lists the identities webNN.example.net for the numbers given.
func web(nums ...int) []string {
	out := make([]string, len(nums))
	for i, n := range nums {
		out[i] = fmt.Sprintf("web%02d.example.net", n)
	}
	return out
}

func TestRollingPuppetOnSandbox(t *testing.T) {
	if testing.Short() {
		t.Skip("starts sandboxes")
	}
	tests := []struct {
		name    string
		fleet   string
		args    map[string]string
		code    int
		status  string
		runonce [][]string // the targets of each runonce step
		stdout  []string
		stderr  []string
	}{
		{
			name: "all green", fleet: "puppet_green.yaml", args: map[string]string{"window": "2"},
			code: ExitOK, status: StatusOK,
			runonce: [][]string{web(1), web(2, 3), web(4, 5)},
			stdout: []string{
				"Node               Status  Failed  Changed  Run time  Message\n",
				"web05.example.net  ok      0",
				"RollingReport(ok; 5 done, 0 failed, 0 missing, 0 skipped in 3 batches)\n",
				"not run, Puppet disabled: web06.example.net (maintenance)\n",
			},
			stderr: []string{"discover [select puppet().enabled=true]  found=5"},
		},
		{
			name: "canary fails", fleet: "puppet_canary_fail.yaml", args: map[string]string{"window": "2"},
			code: ExitFailed, status: StatusFailed,
			runonce: [][]string{web(1)},
			stdout: []string{
				"web01.example.net  failed   2       ",
				"  2 failed resources\n",
				"web02.example.net  skipped  -       -        -         not reached: canary failed\n",
				"RollingReport(stopped: canary failed; 0 done, 1 failed, 0 missing, 5 skipped in 1 batch)\n",
			},
			stderr: []string{"fail: puppet rollout stopped: canary failed; 0 done, 1 failed, 0 missing, 5 skipped"},
		},
		{
			name: "threshold exceeded", fleet: "puppet_threshold.yaml",
			args: map[string]string{"window": "2", "max_failures": "1", "timeout": "300ms"},
			code: ExitFailed, status: StatusFailed,
			runonce: [][]string{web(1), web(2, 3), web(4, 5)},
			stdout: []string{
				"web04.example.net  failed   1 ",
				"web05.example.net  timeout  -       -        -         run not finished after 300ms\n",
				"web08.example.net  skipped",
				"RollingReport(stopped: 2 failures exceed max_failures 1; 3 done, 2 failed, 0 missing, 3 skipped in 3 batches)\n",
			},
			stderr: []string{"fail: puppet rollout stopped: 2 failures exceed max_failures 1; 3 done, 2 failed, 0 missing, 3 skipped"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runRollingPuppet(t, tt.fleet, tt.args)
			if r.ExitCode != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.ExitCode, tt.code, r.stdout, r.stderr)
			}
			wantLines(t, r.stdout, tt.stdout...)
			wantLines(t, r.stderr, tt.stderr...)
			rep := readReport(t, r.report)
			if rep.Outcome.Status != tt.status || rep.Outcome.ExitCode != tt.code {
				t.Errorf("report outcome %+v, want %s", rep.Outcome, tt.status)
			}
			if got := runonceTargets(rep); !slices.EqualFunc(got, tt.runonce, slices.Equal) {
				t.Errorf("runonce targets %v, want %v", got, tt.runonce)
			}
			if len(rep.Steps) == 0 || rep.Steps[0].Kind != "discover" || !strings.Contains(rep.Steps[0].Filter, "puppet().enabled=true") {
				t.Errorf("first step %+v, want discovery of enabled agents", rep.Steps)
			}
			for _, s := range rep.Steps {
				if s.Kind == "rpc" && s.Agent == "puppet" && s.Action == "status" && len(s.Missing) > 0 {
					t.Errorf("status poll missed nodes: %+v", s)
				}
			}
		})
	}
}
