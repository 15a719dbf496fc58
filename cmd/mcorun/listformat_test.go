package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/golden"
)

func rpcFleet() *fakeFleet {
	return &fakeFleet{
		nodes: []string{"db1", "lb1", "web1"},
		results: &client.Results{
			Agent: "rpcutil", Action: "get_fact", Targets: []string{"db1", "lb1", "web1"},
			OK:      []client.Result{{Sender: "web1", Message: "OK", Data: map[string]any{"fact": "role", "value": "web"}, Elapsed: 1500 * time.Microsecond}},
			Failed:  []client.Result{{Sender: "db1", Code: 1, Message: "no such fact", Data: map[string]any{"fact": "role"}, Elapsed: 3 * time.Millisecond}},
			Missing: []string{"lb1"},
		},
	}
}

// Each verb that prints a list prints it in every --format, through the one formatter.
func TestListFormatsGolden(t *testing.T) {
	cases := []struct {
		name string
		fl   *fakeFleet
		args []string
		code int
	}{
		{"find.jsonl", &fakeFleet{nodes: []string{"a.example", "b.example"}}, []string{"find", "--format", "jsonl"}, exitOK},
		{"find.csv", &fakeFleet{nodes: []string{"a.example", "b.example"}}, []string{"find", "-o", "csv"}, exitOK},
		{"ping.csv", &fakeFleet{pings: []pingReply{{"a.example", 2 * time.Millisecond}, {"b.example", time.Millisecond}}}, []string{"ping", "--format", "csv"}, exitOK},
		{"rpc.csv", rpcFleet(), []string{"rpc", "rpcutil", "get_fact", "fact=role", "--format", "csv"}, exitFailedAndMissing},
		{"rpc.jsonl", rpcFleet(), []string{"rpc", "rpcutil", "get_fact", "fact=role", "--format", "jsonl"}, exitFailedAndMissing},
		{"inventory.csv", &fakeFleet{results: &client.Results{Targets: []string{"web1"}, OK: []client.Result{{Sender: "web1", Message: "OK", Data: map[string]any{
			"agents": []any{"rpcutil", "discovery"}, "classes": []any{"web"}, "facts": map[string]any{"role": "web", "cpus": int64(2)},
			"version": "2.12.5", "times": map[string]any{"utime": 0.5},
		}}}}}, []string{"inventory", "web1", "--format", "csv"}, exitOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, out, errOut, cfg := testEnv(t, tc.fl, nil)
			code := run(context.Background(), e, append(tc.args, "--config", cfg))
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, errOut)
			}
			if errOut.Len() > 0 {
				t.Errorf("machine output wrote to stderr:\n%s", errOut)
			}
			golden.Check(t, "format/"+tc.name, out.String())
		})
	}
}

// json and yaml print the same document; --json is --format json.
func TestListFormatsJSONAndYAMLAgree(t *testing.T) {
	docs := map[string]map[string]any{}
	for _, args := range [][]string{{"--format", "json"}, {"--json"}, {"--format", "yaml"}} {
		e, out, errOut, cfg := testEnv(t, rpcFleet(), nil)
		code := run(context.Background(), e, append([]string{"rpc", "rpcutil", "get_fact", "fact=role", "--config", cfg}, args...))
		if code != exitFailedAndMissing {
			t.Fatalf("%v: exit %d; stderr:\n%s", args, code, errOut)
		}
		var doc map[string]any
		var err error
		if args[len(args)-1] == "yaml" {
			err = yaml.Unmarshal(out.Bytes(), &doc)
		} else {
			err = json.Unmarshal(out.Bytes(), &doc)
		}
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		delete(doc, "discovery_ms")
		delete(doc, "agent_ms")
		docs[strings.Join(args, " ")] = doc
	}
	j, _ := json.Marshal(docs["--format json"])
	for k, d := range docs {
		if got, _ := json.Marshal(d); string(got) != string(j) {
			t.Errorf("%s printed\n%s\nwant\n%s", k, got, j)
		}
	}
	if m := docs["--format yaml"]["missing"]; len(m.([]any)) != 1 {
		t.Errorf("yaml missing = %v", m)
	}
}

func TestFormatRefused(t *testing.T) {
	for _, args := range [][]string{{"find", "--format", "xml"}, {"find", "--format", "csv", "--json"}} {
		e, _, errOut, cfg := testEnv(t, &fakeFleet{}, nil)
		if code := run(context.Background(), e, append(args, "--config", cfg)); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
		if !strings.Contains(errOut.String(), "--format") {
			t.Errorf("%v: stderr does not name --format:\n%s", args, errOut)
		}
	}
}
