package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
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
	// The race-enabled binaries the tests start would each sleep a second at exit.
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	dir, err := os.MkdirTemp("", "mcorun-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mcorunBin = filepath.Join(dir, "mcorun")
	mcodBin = filepath.Join(dir, "mcod")
	for bin, pkg := range map[string]string{mcorunBin: ".", mcodBin: "../mcod"} {
		if out, err := exec.Command("go", "build", "-race", "-o", bin, pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testFleet is three mcod nodes on a private collective of the real RabbitMQ.
type testFleet struct {
	dir, collective, addr string
	mcod                  string // the mcod binary startNode runs; mcodBin when empty
}

func startFleet(t *testing.T) *testFleet {
	t.Helper()
	addr := testenv.RequireRabbitMQ(t)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	f := &testFleet{dir: t.TempDir(), collective: "c" + hex.EncodeToString(suffix), addr: addr}
	for _, x := range []string{f.collective + "_broadcast:topic", f.collective + "_directed:direct"} {
		name, typ, _ := strings.Cut(x, ":")
		mgmt(t, http.MethodPut, "/api/exchanges/%2Fmcollective/"+name, `{"type":"`+typ+`","durable":false}`)
		t.Cleanup(func() { mgmt(t, http.MethodDelete, "/api/exchanges/%2Fmcollective/"+name, "") })
	}
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

func mgmt(t *testing.T, method, path, body string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://127.0.0.1:15672"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("mcollective", "secret")
	req.Header.Set("content-type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		testenv.SkipOrFail(t, "rabbitmq management API not reachable: %v (run .ci/setup-services)", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 && method != http.MethodDelete {
		t.Fatalf("%s %s: %s", method, path, resp.Status)
	}
}

func (f *testFleet) common() string {
	host, port, _ := strings.Cut(f.addr, ":")
	return fmt.Sprintf(`main_collective = %[1]s
collectives = %[1]s
securityprovider = psk
plugin.psk = testpsk
connector = rabbitmq
plugin.rabbitmq.vhost = /mcollective
plugin.rabbitmq.pool.size = 1
plugin.rabbitmq.pool.1.host = %[2]s
plugin.rabbitmq.pool.1.port = %[3]s
plugin.rabbitmq.pool.1.user = mcollective
plugin.rabbitmq.pool.1.password = secret
`, f.collective, host, port)
}

func (f *testFleet) startNode(t testing.TB, id, facts string, classes []string) {
	t.Helper()
	p := func(ext string) string { return filepath.Join(f.dir, id+ext) }
	writeFile(t, p(".yaml"), facts)
	writeFile(t, p(".classes"), strings.Join(classes, "\n")+"\n")
	writeFile(t, p(".cfg"), f.common()+fmt.Sprintf("identity = %s\nfactsource = yaml\nplugin.yaml = %s\nclassesfile = %s\nlogfile = %s\nloglevel = debug\n",
		id, p(".yaml"), p(".classes"), p(".log")))
	bin := mcodBin
	if f.mcod != "" {
		bin = f.mcod
	}
	cmd := exec.Command(bin, "--config", p(".cfg"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(p(".log"))
			t.Logf("%s log:\n%s\nstderr:\n%s", id, b, stderr.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(p(".log")); bytes.Contains(b, []byte("serving")) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never started serving", id)
}

func (f *testFleet) clientConfig(t testing.TB) string {
	p := filepath.Join(f.dir, "client.cfg")
	if _, err := os.Stat(p); err != nil {
		writeFile(t, p, f.common()+"identity = mcorun-test-client\n")
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mcorunBin, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "HOME="+t.TempDir())
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
	cfg := f.clientConfig(t)
	run := func(t *testing.T, wantCode int, args ...string) (string, string) {
		t.Helper()
		out, errOut, code := mcorun(t, append([]string{args[0], "--config", cfg}, args[1:]...)...)
		if code != wantCode {
			t.Fatalf("mcorun %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, wantCode, out, errOut)
		}
		return out, errOut
	}

	t.Run("ping", func(t *testing.T) {
		out, _ := run(t, exitOK, "ping")
		for _, n := range []string{"web1", "web2", "db1"} {
			if !strings.Contains(out, n+strings.Repeat(" ", 40-len(n))+" time=") {
				t.Errorf("no ping line for %s:\n%s", n, out)
			}
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
		if doc.RequestID == "" || strings.Join(doc.OK, ",") != "web1,web2" || len(doc.Missing) != 0 || doc.Replies[0].Data.(map[string]any)["value"] != "web" {
			t.Errorf("doc = %+v", doc)
		}
	})
	t.Run("inventory", func(t *testing.T) {
		out, _ := run(t, exitOK, "inventory", "db1")
		for _, want := range []string{"Inventory for db1:\n\n   Server Statistics:\n", "Main Collective: " + f.collective, "   Agents:\n      discovery       rpcutil",
			"   Configuration Management Classes:\n    base", "postgres", "   Facts:\n", "      role => db\n"} {
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
