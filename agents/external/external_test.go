package external

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/agent/agenttest"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/security"
	"github.com/mcorun/mcorun/runtime/server"
)

// exampleLib is the libdir of the example agents, greeter (sh) and nodeinfo (Python).
const exampleLib = "../../testdata/external"

// node is a real, unstarted server as the watcher's registry, remembering the agents it was
// given so that tests can call them.
type node struct {
	*server.Server
	mu     sync.Mutex
	agents map[string]*agent.Agent
}

func (n *node) Add(a *agent.Agent) error {
	if err := n.Server.Add(a); err != nil {
		return err
	}
	n.keep(a)
	return nil
}

func (n *node) Replace(a *agent.Agent) error {
	if err := n.Server.Replace(a); err != nil {
		return err
	}
	n.keep(a)
	return nil
}

func (n *node) keep(a *agent.Agent) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.agents[a.Name()] = a
}

// agent is the agent last given under name; the test fails when there is none.
func (n *node) agent(t testing.TB, name string) *agent.Agent {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	a, ok := n.agents[name]
	if !ok || !slices.Contains(n.Agents(), name) {
		t.Fatalf("agent %s is not served; served: %v", name, n.Agents())
	}
	return a
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newNode returns a server and a watcher over libdirs, with o's other settings.
func newNode(t testing.TB, o Options) (*node, *Watcher, *logBuffer) {
	t.Helper()
	cfg := config.Defaults("test")
	cfg.Identity = "n1"
	cfg.Plugin = map[string]string{"psk": "k"}
	sec, err := security.NewPSK(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{Identity: "n1", Security: sec})
	if err != nil {
		t.Fatal(err)
	}
	if o.ActivationTimeout == 0 {
		// Generous: a loaded machine, or an interpreter behind a slow launcher (a pyenv
		// shim), must not fail tests that are not about the bound.
		o.ActivationTimeout = 10 * time.Second
	}
	logs := &logBuffer{}
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n := &node{Server: srv, agents: map[string]*agent.Agent{}}
	return n, New(o, n), logs
}

func TestGreeter(t *testing.T) {
	n, w, logs := newNode(t, Options{LibDirs: []string{exampleLib}})
	w.Scan(context.Background())
	a := n.agent(t, "greeter")
	rep := agenttest.Call(t, a, "greet", map[string]any{"name": "Ann"})
	if rep.Status != message.OK || rep.Message != "OK" {
		t.Fatalf("greet: %d %q", rep.Status, rep.Message)
	}
	// length is an Integer, as Ruby's JSON reads it; mood was never written by the agent,
	// so it is the DDL's default.
	want := map[string]any{"greeting": "hello Ann", "length": int64(3), "mood": "cheerful"}
	if fmt.Sprint(rep.Data) != fmt.Sprint(want) {
		t.Errorf("greet: %#v, want %#v", rep.Data, want)
	}
	if rep := agenttest.Call(t, a, "greet", nil); rep.Data["greeting"] != "hello world" {
		t.Errorf("greet with the DDL's default name: %v", rep.Data)
	}
	if rep := agenttest.Call(t, a, "greet", map[string]any{"name": "a;b"}); rep.Status != message.InvalidData {
		t.Errorf("greet with a name the DDL refuses: %d %q", rep.Status, rep.Message)
	}
	rep = agenttest.Call(t, a, "refuse", nil)
	if rep.Status != message.Aborted || rep.Message != "refused as asked" {
		t.Errorf("refuse: %d %q", rep.Status, rep.Message)
	}
	for _, s := range []string{`msg="external agent added" agent=greeter version=1.0.0`, `line="greeting Ann"`, `line="greeter: refusing as asked"`} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log lacks %s:\n%s", s, logs)
		}
	}
}

func TestNodeinfoPython(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed: the Python example agent cannot run")
	}
	t.Setenv("MCORUN_TEST_SECRET", "must not reach the agent")
	n, w, _ := newNode(t, Options{LibDirs: []string{exampleLib}, ConfigDir: "/etc/mcollective",
		Facts: func() map[string]any { return map[string]any{"role": "web", "nested": map[string]any{"a": 1}} }})
	w.Scan(context.Background())
	rep := agenttest.Call(t, n.agent(t, "nodeinfo"), "info", nil)
	if rep.Status != message.OK {
		t.Fatalf("info: %d %q", rep.Status, rep.Message)
	}
	if rep.Data["value"] != "web" || rep.Data["callerid"] != "uid=0" || rep.Data["collective"] != "mcollective" ||
		rep.Data["config"] != "/etc/mcollective/plugin.d/nodeinfo" {
		t.Errorf("info: %v", rep.Data)
	}
	env, _ := rep.Data["environment"].([]any)
	var names []string
	for _, e := range env {
		// What the interpreter's launchers add: Python's LC_CTYPE under the C locale, a
		// shell's PWD and SHLVL, a pyenv shim's PYENV_*.
		s := fmt.Sprint(e)
		if s != "LC_CTYPE" && s != "PWD" && s != "SHLVL" && !strings.HasPrefix(s, "PYENV_") && !strings.HasPrefix(s, "_PYENV_") {
			names = append(names, s)
		}
	}
	want := []string{"CHORIA_EXTERNAL_CONFIG", "CHORIA_EXTERNAL_FACTS", "CHORIA_EXTERNAL_PROTOCOL", "CHORIA_EXTERNAL_REPLY", "CHORIA_EXTERNAL_REQUEST", "PATH"}
	if !slices.Equal(names, want) {
		t.Errorf("the agent's environment is %v, want only %v", names, want)
	}
	if rep := agenttest.Call(t, n.agent(t, "nodeinfo"), "info", map[string]any{"fact": "nested"}); fmt.Sprint(rep.Data["value"]) != "map[a:1]" {
		t.Errorf("info nested: %v", rep.Data["value"])
	}
}

// lib is a libdir in a temporary directory for agents written by the test.
type lib struct {
	t   testing.TB
	dir string
}

func newLib(t testing.TB) lib {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "mcollective", "agent"), 0o755); err != nil {
		t.Fatal(err)
	}
	return lib{t, dir}
}

// ddlJSON is a Choria-format DDL with one action "run" and an output "out" defaulting to
// "unset".
func ddlJSON(name, version string, timeout int) string {
	return fmt.Sprintf(`{"$schema": "https://choria.io/schemas/mcorpc/ddl/v1/agent.json",
 "metadata": {"name": %q, "description": "test", "author": "t", "license": "MIT", "version": %q, "url": "u", "timeout": %d, "provider": "external"},
 "actions": [{"action": "run", "description": "run", "input": {}, "output": {"out": {"description": "o", "display_as": "O", "default": "unset"}}}]}`, name, version, timeout)
}

// activateThen is a script that activates, then runs body for requests.
func activateThen(body string) string {
	return `#!/bin/sh
if [ "$3" = io.choria.mcorpc.external.v1.activation_request ]; then echo '{"activate": true}' > "$2"; exit 0; fi
` + body + "\n"
}

// agent writes NAME.json and the executable NAME (at rel, relative to the agent directory,
// when given) with mode.
func (l lib) agent(name, ddlText, script string, mode os.FileMode, rel ...string) {
	l.t.Helper()
	dir := filepath.Join(l.dir, "mcollective", "agent")
	exe := filepath.Join(append([]string{dir}, rel...)...)
	if len(rel) == 0 {
		exe = filepath.Join(dir, name)
	}
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		l.t.Fatal(err)
	}
	if ddlText != "" {
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(ddlText), 0o644); err != nil {
			l.t.Fatal(err)
		}
	}
	if script != "" {
		// Written to a new file and renamed, as an installer does: a running old version
		// keeps its file, and the new one is never seen half-written.
		tmp := exe + ".new"
		if err := os.WriteFile(tmp, []byte(script), mode); err != nil {
			l.t.Fatal(err)
		}
		if err := os.Rename(tmp, exe); err != nil {
			l.t.Fatal(err)
		}
		if err := os.Chmod(exe, mode); err != nil { // past the umask
			l.t.Fatal(err)
		}
	}
}

// BenchmarkCall is the cost of one external call: a process start and its reply. "greeter"
// is the sh example agent, which runs sed twice; "minimal" is sh writing a fixed reply, so
// the difference is the agent's own work.
func BenchmarkCall(b *testing.B) {
	l := newLib(b)
	l.agent("minimal", ddlJSON("minimal", "1", 5), activateThen(`echo '{"statuscode": 0, "data": {"out": "x"}}' > "$2"`), 0o755)
	n, w, _ := newNode(b, Options{LibDirs: []string{exampleLib, l.dir}})
	w.Scan(context.Background())
	for _, c := range []struct {
		agent, action string
		in            map[string]any
	}{{"greeter", "greet", map[string]any{"name": "Ann"}}, {"minimal", "run", nil}} {
		b.Run(c.agent, func(b *testing.B) {
			a := n.agent(b, c.agent)
			for range b.N {
				if rep := agenttest.Call(b, a, c.action, c.in); rep.Status != message.OK {
					b.Fatalf("%s: %d %q", c.agent, rep.Status, rep.Message)
				}
			}
		})
	}
}

// docs/agents.md shows the example agents as they are in testdata.
func TestDocsShowTheExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/agents.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"greeter", "nodeinfo"} {
		b, err := os.ReadFile(filepath.Join(exampleLib, "mcollective/agent", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(doc, b) {
			t.Errorf("docs/agents.md does not show testdata's %s as it is", name)
		}
	}
}
