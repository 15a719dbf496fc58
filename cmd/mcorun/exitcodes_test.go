package main

import (
	"testing"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/playbook"
)

func TestExitForResults(t *testing.T) {
	ok := client.Result{Sender: "a"}
	bad := client.Result{Sender: "b", Code: 1}
	tests := []struct {
		name string
		res  *client.Results
		want int
	}{
		{"nil", nil, exitNothingDiscovered},
		{"nothing", &client.Results{}, exitNothingDiscovered},
		{"all ok", &client.Results{Targets: []string{"a"}, OK: []client.Result{ok}}, exitOK},
		{"failed", &client.Results{Targets: []string{"a", "b"}, OK: []client.Result{ok}, Failed: []client.Result{bad}}, exitFailed},
		{"missing", &client.Results{Targets: []string{"a", "c"}, OK: []client.Result{ok}, Missing: []string{"c"}}, exitMissing},
		{"no replies", &client.Results{Targets: []string{"c"}, Missing: []string{"c"}}, exitMissing},
		{"both", &client.Results{Targets: []string{"b", "c"}, Failed: []client.Result{bad}, Missing: []string{"c"}}, exitFailedAndMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitForResults(tt.res); got != tt.want {
				t.Errorf("exitForResults = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestExitCodesDistinct(t *testing.T) {
	codes := []int{exitOK, exitNothingDiscovered, exitUsage, exitFailed, exitMissing, exitFailedAndMissing, exitLocked,
		exitNothingToResume, exitMismatch, exitInterrupted}
	if exitNothingToResume != playbook.ExitNothingToResume || exitMismatch != playbook.ExitMismatch {
		t.Errorf("resume's exit codes differ from the playbook package's")
	}
	seen := map[int]bool{}
	for _, c := range codes {
		if seen[c] {
			t.Errorf("exit code %d used twice", c)
		}
		seen[c] = true
	}
}
