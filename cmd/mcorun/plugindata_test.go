package main

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestPluginDocDataPlugins(t *testing.T) {
	lib := t.TempDir()
	writeFiles(t, lib, map[string]string{"mcollective/data/uptime_data.json": `{"metadata": {"name": "uptime", "description": "Uptime of the node"},
		"description": "d", "output": {"days": {"description": "Days up", "display_as": "Days"}}}`})
	doc := func(args ...string) (string, string, int) {
		e, out, errOut, cfg := testEnv(t, nil, nil)
		src, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfg, append(src, "libdir = "+lib+"\n"...), 0o600); err != nil {
			t.Fatal(err)
		}
		code := run(context.Background(), e, append([]string{"plugin", "doc", "--config", cfg}, args...))
		return out.String(), errOut.String(), code
	}
	tests := []struct {
		name string
		want []string
	}{
		{"fstat", []string{"File Stat\n=========", "QUERY:", "| query | string", "| size ", "-S 'fstat(\"...\").atime=...'"}},
		{"uptime", []string{"Uptime of the node", "This data plugin takes no query", "| days   | Days ", "-S 'uptime().days=...'"}},
		{"service_data", []string{"QUERY:", "| status "}},
		{"service", []string{"ACTIONS:"}},
	}
	for _, tt := range tests {
		out, errOut, code := doc(tt.name)
		if code != exitOK {
			t.Errorf("doc %s: exit %d: %s", tt.name, code, errOut)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("doc %s lacks %q:\n%s", tt.name, w, out)
			}
		}
	}
	if _, errOut, code := doc("nosuch"); code != exitUsage || !strings.Contains(errOut, `no DDL for an agent or data plugin named "nosuch"`) {
		t.Errorf("doc nosuch: exit %d: %s", code, errOut)
	}
	out, _, _ := doc()
	if _, data, ok := strings.Cut(out, "Data plugins:"); !ok || !strings.Contains(data, "| uptime ") || !strings.Contains(data, "| fstat ") {
		t.Errorf("the list lacks the libdir's data plugin:\n%s", out)
	}
	out, _, _ = doc("--json")
	var list struct {
		DataPlugins []string `json:"data_plugins"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || !slices.Contains(list.DataPlugins, "uptime") {
		t.Errorf("--json: %v %s", err, out)
	}
	out, _, _ = doc("fstat", "--json")
	if !strings.Contains(out, `"output"`) || !strings.Contains(out, `"size"`) {
		t.Errorf("doc fstat --json:\n%s", out)
	}
}
