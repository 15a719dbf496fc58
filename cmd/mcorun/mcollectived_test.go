package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/testenv"
)

// startRuby starts one stock mcollectived per node on the fleet's collective. It does not
// wait: see waitFind.
func (f *testFleet) startRuby(t testing.TB, nodes []testNode) {
	t.Helper()
	rn := make([]testenv.RubyNode, len(nodes))
	for i, n := range nodes {
		rn[i] = testenv.RubyNode{Identity: n.id, Facts: n.facts, Classes: n.classes}
	}
	testenv.StartMcollectived(t, f.collective, f.addr, fleetPSK, rn)
}

// waitFind polls mcorun find until it lists exactly ids: stock mcollectived takes a while to
// start and subscribe.
func waitFind(t testing.TB, cfg string, ids []string) {
	t.Helper()
	want := strings.Join(slices.Sorted(slices.Values(ids)), "\n") + "\n"
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, errOut, code := mcorun(t, "find", "--config", cfg)
		if code == exitOK && out == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("find never listed %q: exit %d\nstdout:\n%s\nstderr:\n%s", want, code, out, errOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func fleetIDs(nodes []testNode) []string {
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.id
	}
	return ids
}

// verbRunner returns a function that runs mcorun VERB --config cfg ARGS... and fails the test
// unless it exits with wantCode.
func verbRunner(cfg string) func(t *testing.T, wantCode int, args ...string) (string, string) {
	return func(t *testing.T, wantCode int, args ...string) (string, string) {
		t.Helper()
		out, errOut, code := mcorun(t, append([]string{args[0], "--config", cfg}, args[1:]...)...)
		if code != wantCode {
			t.Fatalf("mcorun %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, wantCode, out, errOut)
		}
		return out, errOut
	}
}

// TestVerbsAgainstMcollectived runs every verb against three stock mcollectived nodes with
// the facts and classes of fleetNodes, and expects what TestVerbsAgainstMcod expects of mcod.
func TestVerbsAgainstMcollectived(t *testing.T) {
	f := newEmptyFleet(t)
	f.startRuby(t, fleetNodes)
	cfg := f.clientConfig(t)
	waitFind(t, cfg, fleetIDs(fleetNodes))
	run := verbRunner(cfg)

	testFleetVerbs(t, run, f.collective, "   Agents:\n      discovery       rpcutil")

	t.Run("find identity list", func(t *testing.T) {
		out, _ := run(t, exitOK, "find", "-I", "db1", "-I", "/^web2$/")
		if out != "db1\nweb2\n" {
			t.Errorf("got %q", out)
		}
	})
	t.Run("rpc inventory", func(t *testing.T) {
		out, _ := run(t, exitOK, "rpc", "rpcutil", "inventory", "-I", "db1")
		for _, want := range []string{"db1" + strings.Repeat(" ", 38) + "\n", "postgres", "Finished processing 1 / 1 hosts in"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "web1") || strings.Contains(out, "web2") {
			t.Errorf("other nodes answered:\n%s", out)
		}
		out, _ = run(t, exitOK, "rpc", "rpcutil", "inventory", "-I", "db1", "--json")
		var doc rpcDocJSON
		if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Replies) != 1 {
			t.Fatalf("%v\n%s", err, out)
		}
		d, _ := doc.Replies[0].Data.(map[string]any)
		facts, _ := d["facts"].(map[string]any)
		classes, _ := d["classes"].([]any)
		if d["version"] != "2.12.5" || facts["role"] != "db" || facts["uptime"] != "900" || !slices.Contains(classes, any("postgres")) {
			t.Errorf("inventory data %v", d)
		}
	})
}

// TestMixedFleetParity runs the same find and rpc --json commands against one mcod node and
// one stock mcollectived node with the same facts and classes, on one collective, and expects
// both to answer every command, with replies of the same shape.
func TestMixedFleetParity(t *testing.T) {
	f := newEmptyFleet(t)
	facts := map[string]string{"role": "web", "environment": "prod", "uptime": "100"}
	classes := []string{"apache", "base"}
	goNode := testNode{"gonode", facts, classes}
	rubyNode := testNode{"rubynode", facts, classes}
	f.startNode(t, goNode.id, goNode.yaml(), goNode.classes)
	f.startRuby(t, []testNode{rubyNode})
	cfg := f.clientConfig(t)
	both := "gonode\nrubynode\n"
	waitFind(t, cfg, []string{goNode.id, rubyNode.id})
	run := verbRunner(cfg)

	for _, args := range [][]string{
		{"-F", "role=web"}, {"-F", "environment=/pro/"}, {"-F", "uptime<1000"}, {"-C", "apache"}, {"-C", "/^ba/"},
		{"-I", "/node$/"}, {"-A", "rpcutil"}, {"-W", "apache environment=prod"}, {"-S", "role=web and base and !environment=dev"},
	} {
		t.Run("find "+strings.Join(args, " "), func(t *testing.T) {
			if out, _ := run(t, exitOK, append([]string{"find"}, args...)...); out != both {
				t.Errorf("got %q, want %q", out, both)
			}
		})
	}
	for _, args := range [][]string{
		{"-F", "role=db"}, {"-C", "postgres"}, {"-S", "role=web and !base"},
	} {
		t.Run("find none "+strings.Join(args, " "), func(t *testing.T) {
			run(t, exitNothingDiscovered, append([]string{"find"}, args...)...)
		})
	}

	for _, call := range [][]string{
		{"ping"},
		{"get_fact", "fact=role"},
		{"get_facts", "facts=role,uptime"},
		{"get_config_item", "item=collectives"},
		{"collective_info"},
		{"inventory"},
		{"agent_inventory"},
		{"daemon_stats"},
	} {
		t.Run("rpc "+call[0], func(t *testing.T) {
			out, _ := run(t, exitOK, append([]string{"rpc", "rpcutil"}, append(call, "--json")...)...)
			var doc rpcDocJSON
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if strings.Join(doc.OK, ",") != "gonode,rubynode" || len(doc.Replies) != 2 {
				t.Fatalf("ok %v, failed %v, missing %v\n%s", doc.OK, doc.Failed, doc.Missing, out)
			}
			g, r := doc.Replies[0], doc.Replies[1]
			if g.Sender != "gonode" {
				g, r = r, g
			}
			if g.StatusCode != r.StatusCode || g.StatusMsg != r.StatusMsg {
				t.Errorf("status: mcod %d %q, mcollectived %d %q", g.StatusCode, g.StatusMsg, r.StatusCode, r.StatusMsg)
			}
			if gs, rs := jsonShape(g.Data), jsonShape(r.Data); gs != rs {
				t.Errorf("data shapes differ:\nmcod:         %s\nmcollectived: %s\nmcod data:         %v\nmcollectived data: %v", gs, rs, g.Data, r.Data)
			}
		})
	}
	t.Run("rpc values", func(t *testing.T) {
		out, _ := run(t, exitOK, "rpc", "rpcutil", "inventory", "--json")
		var doc rpcDocJSON
		if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Replies) != 2 {
			t.Fatalf("%v\n%s", err, out)
		}
		g, _ := doc.Replies[0].Data.(map[string]any)
		r, _ := doc.Replies[1].Data.(map[string]any)
		for _, k := range []string{"facts", "classes", "collectives", "main_collective", "version"} {
			if fmt.Sprint(g[k]) != fmt.Sprint(r[k]) {
				t.Errorf("%s: %s %v, %s %v", k, doc.Replies[0].Sender, g[k], doc.Replies[1].Sender, r[k])
			}
		}
	})
}

// jsonShape describes a decoded JSON value by its kinds and keys, not its values: two
// replies of the same shape hold the same keys with the same kinds of values. An array's
// shape is that of its first element.
func jsonShape(v any) string {
	switch v := v.(type) {
	case map[string]any:
		var b strings.Builder
		b.WriteString("{")
		for i, k := range slices.Sorted(maps.Keys(v)) {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "%s:%s", k, jsonShape(v[k]))
		}
		b.WriteString("}")
		return b.String()
	case []any:
		if len(v) == 0 {
			return "[]"
		}
		return "[" + jsonShape(v[0]) + "]"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
