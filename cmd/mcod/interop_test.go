package main

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The interop tests drive mcod nodes with Debian's stock mco 2.12 over the real RabbitMQ and
// assert on what mco prints, as a user of mco would see it.

func threeNodes(t *testing.T) *fleet {
	t.Helper()
	f := newFleet(t)
	f.start(nodeSpec{identity: "web1", facts: "role: web\nrack: r1\nnum: 5\ncpus: [a, b]\n", classes: []string{"base", "web::nginx"}})
	f.start(nodeSpec{identity: "web2", facts: "role: web\nrack: r2\nnum: 10\n", classes: []string{"base", "web::nginx"}})
	f.start(nodeSpec{identity: "db1", facts: "role: db\nrack: r1\nnum: 9\n", classes: []string{"base", "db::postgres"}})
	return f
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func TestMcoPingAndFind(t *testing.T) {
	f := threeNodes(t)

	t.Run("ping", func(t *testing.T) {
		t.Parallel()
		out := f.mco(t, "ping")
		for _, id := range []string{"web1", "web2", "db1"} {
			if !regexp.MustCompile(`(?m)^` + id + `\s+time=\d+\.\d+ ms`).MatchString(out) {
				t.Errorf("mco ping: no time line for %s:\n%s", id, out)
			}
		}
		if !strings.Contains(out, "3 replies max:") {
			t.Errorf("mco ping: want 3 replies:\n%s", out)
		}
	})

	finds := []struct {
		name string
		args []string
		want []string
	}{
		{"all", nil, []string{"db1", "web1", "web2"}},
		{"fact equal", []string{"-F", "role=web"}, []string{"web1", "web2"}},
		{"fact numeric >=", []string{"-F", "num>=9"}, []string{"db1", "web2"}},
		{"fact !=", []string{"-F", "rack!=r1"}, []string{"web2"}},
		{"fact regex", []string{"-F", "role=/^d/"}, []string{"db1"}},
		{"fact array element", []string{"-F", "cpus=b"}, []string{"web1"}},
		{"class", []string{"-C", "web::nginx"}, []string{"web1", "web2"}},
		{"class regex", []string{"-C", "/postgres/"}, []string{"db1"}},
		{"identity", []string{"-I", "web2"}, []string{"web2"}},
		{"identity regex", []string{"-I", "/^web/"}, []string{"web1", "web2"}},
		{"agent", []string{"-A", "rpcutil"}, []string{"db1", "web1", "web2"}},
		{"with", []string{"-W", "base rack=r1"}, []string{"db1", "web1"}},
		{"compound", []string{"-S", "role=web and not rack=r2"}, []string{"web1"}},
		{"compound parentheses", []string{"-S", "(role=db or rack=r2) and base"}, []string{"db1", "web2"}},
		{"compound fstat", []string{"-S", `fstat("/etc/hosts").size>=1 and role=db`}, []string{"db1"}},
		{"compound fact plugin", []string{"-S", `fact("rack").value=r2`}, []string{"web2"}},
	}
	t.Run("find no match", func(t *testing.T) {
		t.Parallel()
		out, _, err := f.mcoRun(t, "find", "-A", "nosuch")
		if err == nil || strings.TrimSpace(out) != "" {
			t.Errorf("mco find -A nosuch: err %v, out %q; want no nodes and a failing exit", err, out)
		}
	})
	for _, tc := range finds {
		t.Run("find "+tc.name, func(t *testing.T) {
			t.Parallel()
			got := lines(f.mco(t, append([]string{"find"}, tc.args...)...))
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("mco find %s = %v, want %v", strings.Join(tc.args, " "), got, tc.want)
			}
		})
	}
}

// rpcReply is one element of mco rpc --json output.
type rpcReply struct {
	Sender     string         `json:"sender"`
	StatusCode int            `json:"statuscode"`
	StatusMsg  string         `json:"statusmsg"`
	Data       map[string]any `json:"data"`
}

func (f *fleet) mcoRPC(t *testing.T, args ...string) []rpcReply {
	t.Helper()
	out := f.mco(t, append([]string{"rpc", "--json"}, args...)...)
	var replies []rpcReply
	if err := json.Unmarshal([]byte(out), &replies); err != nil {
		t.Fatalf("mco rpc %s: bad JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
	slices.SortFunc(replies, func(a, b rpcReply) int { return strings.Compare(a.Sender, b.Sender) })
	return replies
}

func TestMcoRPCUtil(t *testing.T) {
	f := threeNodes(t)

	t.Run("get_fact", func(t *testing.T) {
		t.Parallel()
		r := f.mcoRPC(t, "rpcutil", "get_fact", "fact=role", "-F", "role=web")
		if len(r) != 2 || r[0].Data["value"] != "web" || r[1].Data["fact"] != "role" {
			t.Fatalf("get_fact: %+v", r)
		}
	})
	t.Run("get_facts", func(t *testing.T) {
		t.Parallel()
		r := f.mcoRPC(t, "rpcutil", "get_facts", "facts=role,rack", "-I", "db1")
		v, _ := r[0].Data["values"].(map[string]any)
		if len(r) != 1 || v["role"] != "db" || v["rack"] != "r1" {
			t.Fatalf("get_facts: %+v", r)
		}
	})
	t.Run("get_fact missing input is a DDL error", func(t *testing.T) {
		t.Parallel()
		out, errOut, err := f.mcoRun(t, "rpc", "rpcutil", "get_fact", "-I", "db1")
		if err == nil || !strings.Contains(out+errOut, "needs a fact argument") {
			t.Fatalf("get_fact without fact: err %v\n%s%s", err, out, errOut)
		}
	})
	t.Run("ping", func(t *testing.T) {
		t.Parallel()
		r := f.mcoRPC(t, "rpcutil", "ping")
		if len(r) != 3 {
			t.Fatalf("ping: want 3 replies, got %+v", r)
		}
		for _, x := range r {
			if pong, ok := x.Data["pong"].(float64); !ok || pong < 1.7e9 {
				t.Errorf("%s: pong = %v, want an epoch", x.Sender, x.Data["pong"])
			}
		}
	})
	t.Run("inventory", func(t *testing.T) {
		t.Parallel()
		r := f.mcoRPC(t, "rpcutil", "inventory", "-I", "web1")
		d := r[0].Data
		facts, _ := d["facts"].(map[string]any)
		if facts["role"] != "web" || facts["num"] != "5" {
			t.Errorf("inventory facts: %v", facts)
		}
		if !slices.Contains(anyStrings(d["classes"]), "web::nginx") {
			t.Errorf("inventory classes: %v", d["classes"])
		}
		if !slices.Equal(anyStrings(d["agents"]), []string{"discovery", "nettest", "package", "rpcutil", "service"}) {
			t.Errorf("inventory agents: %v", d["agents"])
		}
		if d["version"] != "2.12.5" || d["main_collective"] != f.collective {
			t.Errorf("inventory: %v", d)
		}
	})
	t.Run("agent_inventory", func(t *testing.T) {
		t.Parallel()
		r := f.mcoRPC(t, "rpcutil", "agent_inventory", "-I", "web1")
		agents, _ := r[0].Data["agents"].([]any)
		if len(agents) != 5 {
			t.Fatalf("agent_inventory: %v", r[0].Data)
		}
		rpc, _ := agents[3].(map[string]any)
		if rpc["agent"] != "rpcutil" || rpc["timeout"] != float64(10) {
			t.Errorf("agent_inventory rpcutil entry: %v", rpc)
		}
	})
	t.Run("collective_info", func(t *testing.T) {
		t.Parallel()
		r := f.mcoRPC(t, "rpcutil", "collective_info", "-I", "db1")
		if r[0].Data["main_collective"] != f.collective {
			t.Errorf("collective_info: %v", r[0].Data)
		}
	})
	t.Run("daemon_stats", func(t *testing.T) {
		t.Parallel()
		r := f.mcoRPC(t, "rpcutil", "daemon_stats", "-I", "db1")
		d := r[0].Data
		if total, _ := d["total"].(float64); total < 1 {
			t.Errorf("daemon_stats total: %v", d)
		}
		if _, ok := d["times"].(map[string]any)["utime"].(float64); !ok {
			t.Errorf("daemon_stats times: %v", d["times"])
		}
	})
	t.Run("get_config_item", func(t *testing.T) {
		t.Parallel()
		r := f.mcoRPC(t, "rpcutil", "get_config_item", "item=ttl", "-I", "db1")
		if r[0].Data["value"] != float64(60) {
			t.Errorf("get_config_item ttl: %v", r[0].Data)
		}
	})
	t.Run("get_data", func(t *testing.T) {
		t.Parallel()
		r := f.mcoRPC(t, "rpcutil", "get_data", "source=fstat", "query=/etc/hosts", "-I", "db1")
		if r[0].Data["type"] != "file" || r[0].Data["output"] != "present" {
			t.Errorf("get_data fstat: %v", r[0].Data)
		}
	})
	t.Run("inventory verb", func(t *testing.T) {
		t.Parallel()
		out := f.mco(t, "inventory", "web2")
		for _, want := range []string{"Inventory for web2:", "Version: 2.12.5", "Main Collective: " + f.collective,
			"discovery", "rpcutil", "web::nginx", "role => web", "num => 10"} {
			if !strings.Contains(out, want) {
				t.Errorf("mco inventory web2: missing %q:\n%s", want, out)
			}
		}
	})
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}
