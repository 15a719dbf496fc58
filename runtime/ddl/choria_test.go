package ddl

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A hand-written DDL in Choria's format exercising every difference from ours.
const choriaSample = `{
  "$schema": "https://choria.io/schemas/mcorpc/ddl/v1/agent.json",
  "metadata": {
    "name": "widget",
    "description": "Manage widgets",
    "author": "nobody",
    "license": "Apache-2.0",
    "version": "0.1.0",
    "url": "https://example.invalid/widget",
    "timeout": 42,
    "provider": "golang",
    "service": false
  },
  "future_top_level": {"anything": [1, 2]},
  "actions": [
    {
      "action": "spin",
      "description": "Spin a widget",
      "display": "failed",
      "input": {
        "name": {"prompt": "Name", "description": "Widget", "type": "string",
                 "default": null, "optional": false, "validation": "shellsafe", "maxlength": 20,
                 "future_input_field": true},
        "speed": {"prompt": "Speed", "description": "How fast", "type": "list",
                  "list": ["slow", "fast"], "default": "slow", "optional": true},
        "tag": {"prompt": "Tag", "description": "A tag", "type": "string",
                "default": null, "optional": true, "validation": "^[a-z]+$", "maxlength": 0}
      },
      "output": {
        "state": {"description": "State", "display_as": "State", "default": null},
        "turns": {"description": "Turns", "display_as": "Turns", "default": 0, "type": "integer"}
      },
      "aggregate": [
        {"function": "summary", "args": ["state"]},
        {"function": "average", "args": ["turns", {"format": "Mean: %d"}]}
      ],
      "future_action_field": "ignored"
    },
    {
      "action": "idle",
      "input": {},
      "output": {},
      "display": "always",
      "description": "Do nothing"
    }
  ]
}`

func TestParseChoriaFormat(t *testing.T) {
	a, err := ParseAgent([]byte(choriaSample))
	if err != nil {
		t.Fatalf("ParseAgent(choria sample): %v", err)
	}
	wantMeta := Metadata{Name: "widget", Description: "Manage widgets", Author: "nobody",
		License: "Apache-2.0", Version: "0.1.0", URL: "https://example.invalid/widget", Timeout: 42}
	if a.Metadata != wantMeta {
		t.Errorf("metadata = %+v, want %+v", a.Metadata, wantMeta)
	}
	if len(a.Actions) != 2 || a.Actions["spin"] == nil || a.Actions["idle"] == nil {
		t.Fatalf("actions = %v, want spin and idle", a.Actions)
	}
	spin := a.Actions["spin"]
	if spin.Description != "Spin a widget" || spin.Display != "failed" {
		t.Errorf("spin = %q %q", spin.Description, spin.Display)
	}
	name := spin.Input["name"]
	if name == nil || name.Default != nil || name.Optional || name.MaxLength != 20 || name.Validation != ":shellsafe" {
		t.Errorf("input name = %+v, want required, nil default, :shellsafe, maxlength 20", name)
	}
	if sp := spin.Input["speed"]; sp == nil || sp.Default != "slow" || !reflect.DeepEqual(sp.List, []string{"slow", "fast"}) {
		t.Errorf("input speed = %+v", sp)
	}
	if tag := spin.Input["tag"]; tag == nil || tag.Validation != "^[a-z]+$" {
		t.Errorf("input tag = %+v, want the regexp kept", tag)
	}
	if st := spin.Output["state"]; st == nil || st.Default != nil || st.DisplayAs != "State" {
		t.Errorf("output state = %+v", st)
	}
	if tu := spin.Output["turns"]; tu == nil || tu.Default != int64(0) {
		t.Errorf("output turns = %+v, want default int64 0", tu)
	}
	wantAgg := []Aggregate{
		{Function: "summary", Output: "state"},
		{Function: "average", Output: "turns", Args: map[string]any{"format": "Mean: %d"}},
	}
	if !reflect.DeepEqual(spin.Aggregate, wantAgg) {
		t.Errorf("aggregates = %#v, want %#v", spin.Aggregate, wantAgg)
	}
	if d := a.Defaults("spin"); len(d) != 2 || d["state"] != nil || d["turns"] != int64(0) {
		t.Errorf("Defaults(spin) = %v", d)
	}
	// The normalized input validates as ours does: the named validator runs.
	if err := a.Validate("spin", map[string]any{"name": "a;b"}); err == nil {
		t.Error("Validate accepted a name that fails shellsafe")
	}
	if err := a.Validate("spin", map[string]any{"name": "ok", "speed": "warp"}); err == nil {
		t.Error("Validate accepted a speed outside its list")
	}
	if err := a.Validate("spin", map[string]any{"name": "ok", "speed": "fast", "tag": "abc"}); err != nil {
		t.Errorf("Validate(good input) = %v", err)
	}
}

func TestParseChoriaFormatErrors(t *testing.T) {
	for name, body := range map[string]string{
		"no action name":    `{"$schema":"x","metadata":{"name":"w"},"actions":[{"description":"d"}]}`,
		"duplicate action":  `{"$schema":"x","metadata":{"name":"w"},"actions":[{"action":"a"},{"action":"a"}]}`,
		"aggregate no args": `{"$schema":"x","metadata":{"name":"w"},"actions":[{"action":"a","aggregate":[{"function":"summary"}]}]}`,
		"aggregate bad arg": `{"$schema":"x","metadata":{"name":"w"},"actions":[{"action":"a","aggregate":[{"function":"summary","args":[1]}]}]}`,
		"aggregate bad opt": `{"$schema":"x","metadata":{"name":"w"},"actions":[{"action":"a","aggregate":[{"function":"summary","args":["s","fmt"]}]}]}`,
		"bad input type":    `{"$schema":"x","metadata":{"name":"w"},"actions":[{"action":"a","input":{"i":{"type":"weird"}}}]}`,
		"no name":           `{"$schema":"x","metadata":{},"actions":[]}`,
		"actions an object": `{"$schema":"x","metadata":{"name":"w"},"actions":{"a":{}}}`,
	} {
		if _, err := ParseAgent([]byte(body)); err == nil {
			t.Errorf("%s: ParseAgent accepted %s", name, body)
		}
	}
	// An actions array alone, without $schema, is Choria's format too.
	a, err := ParseAgent([]byte(`{"metadata":{"name":"w"},"extra":1,"actions":[{"action":"a"}]}`))
	if err != nil || a.Actions["a"] == nil {
		t.Errorf("ParseAgent(actions array without $schema) = %v, %v", a, err)
	}
}

// Our own format stays strict, and every built-in DDL is read by that path unchanged.
func TestOurFormatUnchanged(t *testing.T) {
	if _, err := ParseAgent([]byte(`{"metadata":{"name":"x"},"actions":{"a":{"description":"d","bogus":1}}}`)); err == nil {
		t.Error("ParseAgent accepted an unknown field in our format")
	}
	for _, n := range BuiltinAgents() {
		b, err := builtinFS.ReadFile("builtin/" + n + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if isChoriaAgent(b) {
			t.Errorf("builtin %s is taken for Choria's format", n)
		}
		var strict Agent
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		dec.UseNumber()
		if err := dec.Decode(&strict); err != nil {
			t.Fatalf("builtin %s: %v", n, err)
		}
		if err := normalizeAgent(&strict); err != nil {
			t.Fatal(err)
		}
		got, err := Builtin(n)
		if err != nil {
			t.Fatalf("Builtin(%s): %v", n, err)
		}
		if !reflect.DeepEqual(got, &strict) {
			t.Errorf("builtin %s parses differently from a strict decode", n)
		}
	}
}

// ChoriaDDLDirEnv names a directory holding the choria-plugins' own JSON DDLs
// (package.json, service.json, shell.json, nettest.json), copied from their repositories.
// They are not committed here; without it the reference test skips, also under CI.
const ChoriaDDLDirEnv = "MCORUN_CHORIA_DDL_DIR"

func TestChoriaReferenceDDLs(t *testing.T) {
	dir := os.Getenv(ChoriaDDLDirEnv)
	if dir == "" {
		t.Skipf("reference tier: set %s to a directory with the choria-plugins' package.json, service.json and shell.json", ChoriaDDLDirEnv)
	}
	want := map[string][]string{
		"package": {"apt_checkupdates", "apt_update", "checkupdates", "count", "install", "md5", "purge", "refresh", "search", "status", "uninstall", "update", "yum_checkupdates", "yum_clean"},
		"service": {"restart", "start", "status", "stop"},
		"shell":   {"kill", "list", "run", "start", "status"},
		"nettest": {"connect", "ping"},
	}
	seen := 0
	for name, actions := range want {
		b, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if os.IsNotExist(err) && name == "nettest" {
			continue // optional
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		seen++
		a, err := ParseAgent(b)
		if err != nil {
			t.Errorf("ParseAgent(%s.json): %v", name, err)
			continue
		}
		if a.Metadata.Name != name || a.Metadata.Timeout == 0 {
			t.Errorf("%s metadata = %+v", name, a.Metadata)
		}
		var got []string
		for _, n := range sortedKeys(a.Actions) {
			got = append(got, n)
			for _, ag := range a.Actions[n].Aggregate {
				if _, ok := a.Actions[n].Output[ag.Output]; !ok {
					t.Errorf("%s %s: aggregate %s over undeclared output %q", name, n, ag.Function, ag.Output)
				}
			}
		}
		if !reflect.DeepEqual(got, actions) {
			t.Errorf("%s actions = %v, want %v", name, got, actions)
		}
	}
	if seen < 3 {
		t.Errorf("%s: found %d of package, service and shell", ChoriaDDLDirEnv, seen)
	}
}
