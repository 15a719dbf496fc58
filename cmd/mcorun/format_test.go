package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/marshal"
)

func TestFormatPing(t *testing.T) {
	got := formatPing([]pingReply{{"node1", 10 * time.Millisecond}, {"node2", 30 * time.Millisecond}})
	for _, want := range []string{
		"node1                                    time=10.00 ms\n",
		"\n\n---- ping statistics ----\n",
		"2 replies max: 30.00 min: 10.00 avg: 20.00",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ping output lacks %q:\n%s", want, got)
		}
	}
	if got := formatPing(nil); !strings.Contains(got, "No responses received") {
		t.Errorf("empty ping:\n%s", got)
	}
}

func TestAggregates(t *testing.T) {
	act := &ddl.Action{
		Output: map[string]*ddl.Output{
			"role": {DisplayAs: "Role"}, "load": {DisplayAs: "Load"}, "enabled": {DisplayAs: "Enabled"},
		},
		Aggregate: []ddl.Aggregate{
			{Function: "summary", Output: "role"},
			{Function: "average", Output: "load"},
			{Function: "sum", Output: "load", Args: map[string]any{"format": "Total: %d"}},
			{Function: "boolean_summary", Output: "enabled", Args: map[string]any{"true": "enabled", "false": "disabled"}},
			{Function: "summary", Output: "nosuch"},
		},
	}
	replies := []client.Result{
		{Sender: "a", Data: map[string]any{"role": "web", "load": int64(2), "enabled": true}},
		{Sender: "b", Data: map[string]any{"role": "web", "load": int64(3), "enabled": false}},
		{Sender: "c", Data: map[string]any{"role": "database", "load": int64(4), "enabled": true}},
		{Sender: "d", Code: 4, Data: map[string]any{"role": "ignored"}},
	}
	aggs := computeAggregates(act, replies)
	var text strings.Builder
	for _, a := range aggs {
		text.WriteString(a.text(colorizer{}))
	}
	// mco prints the summaries sorted by output name, whatever the DDL's order, and the
	// ones that could not be set up last.
	want := "Summary of Enabled:\n\n    enabled = 2\n   disabled = 1\n\n" +
		"Summary of Load:\n\n   Average of load: 3.000000\n\n" +
		"Summary of Load:\n\n   Total: 9\n\n" +
		"Summary of Role:\n\n        web = 2\n   database = 1\n\n" +
		"Summary of nosuch:\n\n     Could not compute summary - unspecified output 'nosuch' for the action\n\n"
	if text.String() != want {
		t.Errorf("aggregates:\n%s\nwant:\n%s", text.String(), want)
	}
	if role := aggs[3]; role.Output != "role" || role.Counts[0].Value != "web" || role.Counts[0].Count != 2 {
		t.Errorf("role summary = %+v", role)
	}
}

func TestFormatResult(t *testing.T) {
	a, _ := ddl.Builtin("rpcutil")
	act := a.Actions["get_fact"]
	got := formatResult(colorizer{}, act, client.Result{Sender: "node1", Message: "OK", Data: map[string]any{"fact": "role", "value": "web"}})
	want := "node1                                    \n    Fact: role\n   Value: web\n\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	got = formatResult(colorizer{}, act, client.Result{Sender: "node2", Code: 1, Message: "no such fact"})
	if !strings.HasPrefix(got, "node2                                    Request Aborted\n   no such fact\n") {
		t.Errorf("failed result:\n%q", got)
	}
	got = formatResult(colorizer{}, nil, client.Result{Sender: "n", Message: "OK", Data: map[string]any{"list": []any{"a", int64(1)}, "h": map[any]any{marshal.Symbol("k"): nil}}})
	if !strings.Contains(got, `list: ["a", 1]`) || !strings.Contains(got, `h: {:k=>nil}`) {
		t.Errorf("non-scalar values:\n%s", got)
	}
}

func TestFormatStats(t *testing.T) {
	got := formatStats(colorizer{}, nil, 2, 3, 12340*time.Microsecond, []string{"node3"}, nil)
	// mco pads the last row with empty fields: three columns of 30 characters.
	want := "\nFinished processing 2 / 3 hosts in 12.34 ms\n\n\nNo response from:\n\n    node3" + strings.Repeat(" ", 25+31+31) + "\n\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if got := formatStats(colorizer{}, nil, 3, 3, time.Millisecond, nil, nil); got != "\nFinished processing 3 / 3 hosts in 1.00 ms\n\n" {
		t.Errorf("no missing: %q", got)
	}
	// Nodes lost with the broker connection, or never sent to, are listed apart.
	got = formatStats(colorizer{}, nil, 1, 4, time.Millisecond, []string{"n2", "n3", "n4"},
		map[string]string{"n3": client.ReasonConnectionLost, "n4": client.ReasonNotSent})
	for _, want := range []string{"No response from:\n\n    n2 ", "No response from (broker connection lost; the request went out at most once):\n\n    n3 ",
		"Not sent to (the call failed first):\n\n    n4 "} {
		if !strings.Contains(got, want) {
			t.Errorf("got\n%s\nwant it to contain %q", got, want)
		}
	}
}

func TestRPCCommand(t *testing.T) {
	f := &fakeFleet{
		nodes: []string{"node1", "node2", "node3"},
		results: &client.Results{
			Agent: "rpcutil", Action: "get_fact", RequestID: "abc", Targets: []string{"node1", "node2", "node3"},
			OK: []client.Result{
				{Sender: "node1", Message: "OK", Data: map[string]any{"fact": "role", "value": "web"}},
				{Sender: "node2", Message: "OK", Data: map[string]any{"fact": "role", "value": "db"}},
			},
			Missing: []string{"node3"},
		},
	}
	e, out, errOut, cfg := testEnv(t, f, nil)
	code := run(context.Background(), e, []string{"rpc", "--config", cfg, "rpcutil", "get_fact", "fact=role"})
	if code != exitMissing {
		t.Errorf("exit %d, want %d; stderr %s", code, exitMissing, errOut)
	}
	for _, want := range []string{"   Value: web\n", "Summary of Value:\n\n    db = 1\n   web = 1\n", "Finished processing 2 / 3 hosts in", "No response from:\n\n    node3"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut.String(), "Discovering hosts using the mc method for 2 second(s) .... 3") {
		t.Errorf("stderr: %s", errOut)
	}
	if f.lastArgs["fact"] != "role" {
		t.Errorf("args sent = %v", f.lastArgs)
	}

	e, out, _, cfg = testEnv(t, f, nil)
	code = run(context.Background(), e, []string{"rpc", "--config", cfg, "--json", "rpcutil", "get_fact", "fact=role"})
	var doc rpcDocJSON
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("--json output is not one JSON document: %v\n%s", err, out)
	}
	if code != exitMissing || doc.RequestID != "abc" || len(doc.OK) != 2 || len(doc.Missing) != 1 || len(doc.Replies) != 2 || len(doc.Summaries) != 1 {
		t.Errorf("exit %d, doc %+v", code, doc)
	}
}

func TestFormatInventory(t *testing.T) {
	st := map[string]any{"version": "2.12.5", "starttime": int64(0), "configfile": "/etc/mcollective/server.cfg", "pid": int64(42),
		"total": int64(3), "passed": int64(3), "filtered": int64(0), "ttlexpired": int64(0), "replies": int64(2),
		"times": map[any]any{marshal.Symbol("utime"): 0.05, marshal.Symbol("stime"): 0.01}}
	inv := map[string]any{"agents": []any{"rpcutil", "discovery"}, "data_plugins": []any{"fstat_data", "agent_data"},
		"classes": []any{}, "facts": map[any]any{"role": "web"}, "collectives": []any{"mcollective"}, "main_collective": "mcollective"}
	got := formatInventory("node1", st, inv)
	for _, want := range []string{
		"Inventory for node1:\n\n   Server Statistics:\n                      Version: 2.12.5\n",
		"                  Config File: /etc/mcollective/server.cfg\n                  Collectives: mcollective\n              Main Collective: mcollective\n                   Process ID: 42\n",
		"         Total Processor Time: 0.05 seconds\n                  System Time: 0.01 seconds\n\n",
		"   Agents:\n      discovery       rpcutil" + strings.Repeat(" ", 24) + "\n\n",
		"   Data Plugins:\n      agent           fstat" + strings.Repeat(" ", 26) + "\n\n",
		"   Configuration Management Classes:\n      No classes applied\n\n",
		"   Facts:\n      role => web\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("inventory lacks %q:\n%s", want, got)
		}
	}
}

func TestRubyValues(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want string
	}{{1.0, "1.0"}, {0.05, "0.05"}, {int64(3), "3"}, {1e-5, "1.0e-05"}, {nil, ""}, {true, "true"}} {
		if got := rubyString(tt.v); got != tt.want {
			t.Errorf("rubyString(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
