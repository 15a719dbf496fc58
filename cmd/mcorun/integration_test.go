package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/testenv"
)

// Binaries built once by TestMain for the integration tests.
var mcorunBin, mcodBin string

func TestMain(m *testing.M) {
	bins, remove := testenv.BuildBinaries(".", "../mcod")
	mcorunBin, mcodBin = bins[0], bins[1]
	code := m.Run()
	remove()
	os.Exit(code)
}

// testFleet is a private collective of the real RabbitMQ, with a directory for the files of
// its nodes, mcod or stock mcollectived, and clients.
type testFleet struct {
	dir, collective, addr string
	mcod                  string // the mcod binary startNode runs; mcodBin when empty
}

// fleetPSK is the psk of testFleet.common, which stock mcollectived nodes sign with too.
const fleetPSK = "testpsk"

// newEmptyFleet returns a testFleet on a fresh private collective with no node running yet:
// callers start mcod nodes with startNode and stock ones with startRuby.
func newEmptyFleet(t testing.TB) *testFleet {
	t.Helper()
	addr := testenv.RequireRabbitMQ(t)
	return &testFleet{dir: t.TempDir(), collective: testenv.Collective(t), addr: addr}
}

// startFleet starts the three nodes of fleetNodes on a fresh private collective.
func startFleet(t *testing.T) *testFleet {
	t.Helper()
	f := newEmptyFleet(t)
	for _, n := range fleetNodes {
		f.startNode(t, n.id, n.yaml(), n.classes)
	}
	return f
}

// testNode is one node of the test fleets, mcod or stock mcollectived.
type testNode struct {
	id      string
	facts   map[string]string
	classes []string
}

// fleetNodes are the nodes of every three-node fleet, whichever daemon serves them.
var fleetNodes = []testNode{
	{"web1", map[string]string{"role": "web", "environment": "prod", "uptime": "100"}, []string{"apache", "base"}},
	{"web2", map[string]string{"role": "web", "environment": "dev", "uptime": "5000"}, []string{"apache", "base"}},
	{"db1", map[string]string{"role": "db", "environment": "prod", "uptime": "900"}, []string{"postgres", "base"}},
}

// yaml renders the node's facts for mcod's YAML fact source, keys sorted.
func (n testNode) yaml() string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(n.facts)) {
		fmt.Fprintf(&b, "%s: %s\n", k, n.facts[k])
	}
	return b.String()
}

// common is the connector and security config shared by the fleet's nodes and clients.
func (f *testFleet) common() string { return testenv.CollectiveConfig(f.collective, fleetPSK, f.addr) }

// startNode starts an mcod node with the given facts (YAML) and classes and waits until it
// serves.
func (f *testFleet) startNode(t testing.TB, id, facts string, classes []string) {
	t.Helper()
	testenv.StartMCod(t, f.mcodPath(), f.dir, f.common(), testenv.MCodNode{Identity: id, Facts: facts, Classes: classes})
}

// mcodPath is the mcod binary the fleet's nodes run.
func (f *testFleet) mcodPath() string {
	if f.mcod != "" {
		return f.mcod
	}
	return mcodBin
}

// clientConfig is the fleet's client config. Each mcorun run gets a new HOME, so no
// discovery cache: every discovery is a first one, and the quiet window ends it rather than
// the whole timeout (TestFirstDiscoveryAndCache checks the default).
func (f *testFleet) clientConfig(t testing.TB) string {
	p := filepath.Join(f.dir, "client.cfg")
	if _, err := os.Stat(p); err != nil {
		writeFile(t, p, f.common()+"identity = mcorun-test-client\nplugin.mcorun.discovery_first = quiet\n")
	}
	return p
}

func writeFile(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// mcorun runs the built binary and returns stdout, stderr and the exit code.
func mcorun(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return mcorunHome(t, t.TempDir(), args...)
}

// mcorunHome is mcorun with HOME set to home.
func mcorunHome(t testing.TB, home string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mcorunBin, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "HOME="+home, "XDG_CACHE_HOME=")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errOut.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("mcorun %v: %v", args, err)
	}
	return out.String(), errOut.String(), 0
}

func TestVerbsAgainstMcod(t *testing.T) {
	f := startFleet(t)
	run := verbRunner(f.clientConfig(t))
	// mcod serves the acting agents besides MCollective's own
	testFleetVerbs(t, run, f.collective, "   Agents:\n      discovery       nettest         package        \n      rpcutil         service")

	t.Run("bad select", func(t *testing.T) {
		_, errOut := run(t, exitUsage, "find", "-S", "role=web and (")
		if !strings.Contains(errOut, "^") {
			t.Errorf("no caret:\n%s", errOut)
		}
	})
	t.Run("bad key=value", func(t *testing.T) {
		_, errOut := run(t, exitUsage, "rpc", "rpcutil", "get_fact", "fact=a b;c")
		if !strings.Contains(errOut, "fact") {
			t.Errorf("stderr:\n%s", errOut)
		}
	})
	t.Run("missing config", func(t *testing.T) {
		_, errOut, code := mcorun(t, "ping", "--config", filepath.Join(f.dir, "nope.cfg"))
		if code != exitUsage || !strings.Contains(errOut, "nope.cfg") {
			t.Errorf("exit %d:\n%s", code, errOut)
		}
	})
}

// testFleetVerbs runs the verbs that every fleet of fleetNodes answers alike, mcod or stock
// mcollectived, with run from verbRunner; collective is the fleet's and agents the inventory's Agents block.
func testFleetVerbs(t *testing.T, run func(t *testing.T, wantCode int, args ...string) (string, string), collective, agents string) {
	t.Run("ping", func(t *testing.T) {
		out, _ := run(t, exitOK, "ping")
		for _, n := range fleetIDs(fleetNodes) {
			if !strings.Contains(out, n+strings.Repeat(" ", 40-len(n))+" time=") {
				t.Errorf("no ping line for %s:\n%s", n, out)
			}
		}
		if got := strings.Count(out, " time="); got != 3 {
			t.Errorf("%d time lines, want 3:\n%s", got, out)
		}
		if !strings.Contains(out, "---- ping statistics ----\n3 replies max:") {
			t.Errorf("no statistics:\n%s", out)
		}
		out, _ = run(t, exitOK, "ping", "--json")
		var doc struct{ Count int }
		if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Count != 3 {
			t.Errorf("ping --json: %v %s", err, out)
		}
	})

	for _, tt := range findCases {
		t.Run("find "+tt.name, func(t *testing.T) {
			out, _ := run(t, exitOK, append([]string{"find"}, tt.args...)...)
			if out != tt.want {
				t.Errorf("got %q, want %q", out, tt.want)
			}
		})
	}
	t.Run("find nothing", func(t *testing.T) {
		run(t, exitNothingDiscovered, "find", "-F", "role=none")
	})
	t.Run("find -v", func(t *testing.T) {
		_, errOut := run(t, exitOK, "find", "-v")
		if !strings.Contains(errOut, "Discovered 3 nodes in") {
			t.Errorf("stderr:\n%s", errOut)
		}
	})

	t.Run("rpc get_fact", func(t *testing.T) {
		out, errOut := run(t, exitOK, "rpc", "rpcutil", "get_fact", "fact=role")
		for _, want := range []string{"web1" + strings.Repeat(" ", 37) + "\n    Fact: role\n   Value: web\n", "Summary of Value:\n\n   web = 2\n    db = 1\n", "Finished processing 3 / 3 hosts in"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if !strings.Contains(errOut, ".... 3") {
			t.Errorf("stderr:\n%s", errOut)
		}
	})
	t.Run("rpc json", func(t *testing.T) {
		out, _ := run(t, exitOK, "rpc", "rpcutil", "get_fact", "fact=role", "-F", "role=web", "--json")
		var doc rpcDocJSON
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if doc.RequestID == "" || strings.Join(doc.OK, ",") != "web1,web2" || len(doc.Missing) != 0 || len(doc.Replies) != 2 || doc.Replies[0].Data.(map[string]any)["value"] != "web" {
			t.Errorf("doc = %+v", doc)
		}
	})
	t.Run("inventory", func(t *testing.T) {
		out, _ := run(t, exitOK, "inventory", "db1")
		for _, want := range []string{"Inventory for db1:\n\n   Server Statistics:\n", "                      Version: 2.12.5\n", "Main Collective: " + collective, agents,
			"   Configuration Management Classes:\n    base", "postgres", "   Facts:\n", "      role => db\n", "      environment => prod\n", "      uptime => 900\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("inventory lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("inventory missing node", func(t *testing.T) {
		_, errOut := run(t, exitMissing, "inventory", "nosuchnode", "-t", "1")
		if !strings.Contains(errOut, "Did not receive any results from node nosuchnode") {
			t.Errorf("stderr:\n%s", errOut)
		}
	})
}

// findCases are the find filters every fleet of fleetNodes answers alike.
var findCases = []struct {
	name string
	args []string
	want string
}{
	{"all", nil, "db1\nweb1\nweb2\n"},
	{"fact", []string{"-F", "role=web"}, "web1\nweb2\n"},
	{"fact regex", []string{"-F", "environment=/pro/"}, "db1\nweb1\n"},
	{"fact compare", []string{"-F", "uptime>1000"}, "web2\n"},
	{"class", []string{"-C", "postgres"}, "db1\n"},
	{"identity", []string{"-I", "web1"}, "web1\n"},
	{"identity regex", []string{"-I", "/^web/"}, "web1\nweb2\n"},
	{"agent", []string{"-A", "rpcutil"}, "db1\nweb1\nweb2\n"},
	{"with", []string{"-W", "apache environment=prod"}, "web1\n"},
	{"select", []string{"-S", "role=web and !environment=dev"}, "web1\n"},
	{"select or", []string{"-S", "(role=db or environment=dev) and base"}, "db1\nweb2\n"},
}
