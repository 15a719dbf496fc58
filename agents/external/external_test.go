package external

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/agent/agenttest"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/marshal"
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

func TestFailuresBecomeStatusOne(t *testing.T) {
	l := newLib(t)
	l.agent("crash", ddlJSON("crash", "1", 5), activateThen(`echo "something broke: disk full" >&2; exit 3`), 0o755)
	l.agent("garbage", ddlJSON("garbage", "1", 5), activateThen(`echo 'not json' > "$2"; echo "oops" >&2`), 0o755)
	l.agent("badcode", ddlJSON("badcode", "1", 5), activateThen(`echo '{"statuscode": 9}' > "$2"`), 0o755)
	l.agent("huge", ddlJSON("huge", "1", 5), activateThen(`head -c 3000000 /dev/zero | tr '\0' x > "$2"`), 0o755)
	l.agent("noisy", ddlJSON("noisy", "1", 5), activateThen(`head -c 5000000 /dev/zero | tr '\0' x >&2; echo '{"statuscode": 0, "data": {"out": "ok"}}' > "$2"`), 0o755)
	n, w, _ := newNode(t, Options{LibDirs: []string{l.dir}})
	w.Scan(context.Background())
	cases := []struct{ agent, msg string }{
		{"crash", "crash#run failed: crash exit status 3: something broke: disk full"},
		{"garbage", "garbage#run failed: the reply is not a JSON object: invalid character 'o' in literal null (expecting 'u'): oops"},
		{"badcode", "badcode#run failed: the reply's statuscode 9 is not one of 0 to 5"},
		{"huge", "huge#run failed: huge wrote a reply of 3000000 bytes, over the limit of 1048576"},
	}
	for _, c := range cases {
		rep := agenttest.Call(t, n.agent(t, c.agent), "run", nil)
		if rep.Status != message.Aborted || rep.Message != c.msg || rep.Data["out"] != "unset" {
			t.Errorf("%s: %d %q %v\nwant 1 %q", c.agent, rep.Status, rep.Message, rep.Data, c.msg)
		}
	}
	// Megabytes on stderr are kept to their last bytes; the reply still counts.
	if rep := agenttest.Call(t, n.agent(t, "noisy"), "run", nil); rep.Status != message.OK || rep.Message != "OK" || rep.Data["out"] != "ok" {
		t.Errorf("noisy: %d %q %v", rep.Status, rep.Message, rep.Data)
	}
}

// An agent that never exits is killed at its DDL timeout plus the grace, with everything it
// started.
func TestTimeoutKillsProcessGroup(t *testing.T) {
	l := newLib(t)
	pidFile := filepath.Join(l.dir, "child.pid")
	l.agent("hang", ddlJSON("hang", "1", 1), activateThen(`sleep 60 & echo $! > `+pidFile+`; sleep 60`), 0o755)
	n, w, _ := newNode(t, Options{LibDirs: []string{l.dir}, Grace: 200 * time.Millisecond})
	w.Scan(context.Background())
	start := time.Now()
	rep := agenttest.Call(t, n.agent(t, "hang"), "run", nil)
	took := time.Since(start)
	if rep.Status != message.Aborted || rep.Message != "hang#run failed: timed out after 1.2s; its process group was killed" {
		t.Errorf("hang: %d %q", rep.Status, rep.Message)
	}
	if took < 1200*time.Millisecond || took > 3*time.Second {
		t.Errorf("the call took %s, want about 1.2s", took)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// Killed, it is gone or a zombie waiting for init to reap it.
	deadline := time.Now().Add(2 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the agent's child %d still runs after the timeout: %s", pid, stat)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestActivation(t *testing.T) {
	l := newLib(t)
	l.agent("shy", ddlJSON("shy", "1", 5), "#!/bin/sh\necho '{\"activate\": false}' > \"$2\"\n", 0o755)
	l.agent("broken", ddlJSON("broken", "1", 5), "#!/bin/sh\necho 'cannot find my tools' >&2\nexit 1\n", 0o755)
	l.agent("slow", ddlJSON("slow", "1", 5), "#!/bin/sh\nsleep 30\n", 0o755)
	l.agent("wrongprotocol", ddlJSON("wrongprotocol", "1", 5), "#!/bin/sh\n[ \"$CHORIA_EXTERNAL_PROTOCOL\" = \"$3\" ] && [ \"$3\" = io.choria.mcorpc.external.v1.activation_request ] && echo '{\"activate\": true}' > \"$CHORIA_EXTERNAL_REPLY\"\n", 0o755)
	n, w, logs := newNode(t, Options{LibDirs: []string{l.dir}, ActivationTimeout: 300 * time.Millisecond})
	start := time.Now()
	w.Scan(context.Background())
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the scan took %s: the activation bound was not kept", took)
	}
	if got := n.Agents(); !slices.Equal(got, []string{"wrongprotocol"}) {
		t.Errorf("served %v, want only wrongprotocol (activated through its environment)", got)
	}
	for _, s := range []string{
		`msg="external agent not activated: it declined to run on this node" agent=shy`,
		`msg="external agent not activated: its activation check failed" agent=broken version=1 ddl=` + filepath.Join(l.dir, "mcollective/agent/broken.json"),
		`err="broken exit status 1: cannot find my tools"`,
		`err="activation check timed out after 300ms; its process group was killed"`,
	} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log lacks %s:\n%s", s, logs)
		}
	}
}

func TestSkippedFilesAreLogged(t *testing.T) {
	l := newLib(t)
	script := activateThen(`echo '{"statuscode": 0}' > "$2"`)
	l.agent("baddl", `{"metadata": {"name": "baddl"`, script, 0o755)
	l.agent("noexec", ddlJSON("noexec", "1", 5), script, 0o644)
	l.agent("anyone", ddlJSON("anyone", "1", 5), script, 0o777)
	l.agent("rpcutil", ddlJSON("rpcutil", "1", 5), script, 0o755)
	l.agent("service", ddlJSON("service", "1", 5), script, 0o755)
	l.agent("misnamed", ddlJSON("other", "1", 5), script, 0o755)
	l.agent("rubyagent", strings.Replace(ddlJSON("rubyagent", "1", 5), `"external"`, `"ruby"`, 1), script, 0o755)
	l.agent("ddlonly", ddlJSON("ddlonly", "1", 5), "", 0)
	l.agent("platform", ddlJSON("platform", "1", 5), activateThen(`echo '{"statuscode": 0, "data": {"out": "native"}}' > "$2"`), 0o755,
		"platform", "platform-"+runtime.GOOS+"_"+runtime.GOARCH)
	n, w, logs := newNode(t, Options{LibDirs: []string{l.dir}})
	w.Scan(context.Background())
	if got := n.Agents(); !slices.Equal(got, []string{"platform"}) {
		t.Errorf("served %v, want only platform", got)
	}
	if rep := agenttest.Call(t, n.agent(t, "platform"), "run", nil); rep.Data["out"] != "native" {
		t.Errorf("platform binary: %v", rep.Data)
	}
	agentDir := filepath.Join(l.dir, "mcollective", "agent")
	for _, s := range []string{
		`file=` + agentDir + `/baddl.json reason="the DDL does not parse: `,
		`file=` + agentDir + `/noexec.json reason="` + agentDir + `/noexec is not executable (mode -rw-r--r--); chmod +x it"`,
		`file=` + agentDir + `/anyone.json reason="` + agentDir + `/anyone is writable by every user (mode -rwxrwxrwx), who could make the node run anything; chmod o-w it"`,
		`file=` + agentDir + `/rpcutil.json reason="rpcutil is the name of a built-in agent; rename the external agent"`,
		`file=` + agentDir + `/service.json reason="service is the name of a built-in agent`,
		`file=` + agentDir + `/misnamed.json reason="the DDL names agent \"other\", not \"misnamed\"`,
	} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log lacks %s:\n%s", s, logs)
		}
	}
	for _, s := range []string{"rubyagent", "ddlonly"} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("log mentions %s, which is not an external agent:\n%s", s, logs)
		}
	}
	// A skipped file is logged once, not on every scan.
	before := strings.Count(logs.String(), "external agent skipped")
	w.Scan(context.Background())
	if after := strings.Count(logs.String(), "external agent skipped"); after != before {
		t.Errorf("a rescan logged the skipped files again: %d, then %d", before, after)
	}
}

// A name the node already serves (a Go agent that is not built in everywhere) is refused.
func TestServedNameRefused(t *testing.T) {
	l := newLib(t)
	l.agent("custom", ddlJSON("custom", "1", 5), activateThen(`echo '{"statuscode": 0}' > "$2"`), 0o755)
	n, w, logs := newNode(t, Options{LibDirs: []string{l.dir}})
	builtin := &agent.Agent{DDL: mustDDL(t, ddlJSON("custom", "9", 5))}
	n.Register(builtin)
	w.Scan(context.Background())
	if !strings.Contains(logs.String(), `msg="external agent refused" agent=custom version=1`) ||
		!strings.Contains(logs.String(), "an agent named custom is already served") {
		t.Errorf("no refusal logged:\n%s", logs)
	}
	if len(w.Served()) != 0 {
		t.Errorf("served %v", w.Served())
	}
}

func TestRescanAddsUpgradesRemoves(t *testing.T) {
	l := newLib(t)
	n, w, logs := newNode(t, Options{LibDirs: []string{l.dir}})
	ctx := context.Background()
	w.Scan(ctx)
	if got := n.Agents(); len(got) != 0 {
		t.Fatalf("served %v before any agent was installed", got)
	}
	reply := func(out string) string {
		return activateThen(`echo '{"statuscode": 0, "data": {"out": "` + out + `"}}' > "$2"`)
	}
	l.agent("late", ddlJSON("late", "1.0.0", 5), reply("v1"), 0o755)
	w.Scan(ctx)
	if rep := agenttest.Call(t, n.agent(t, "late"), "run", nil); rep.Data["out"] != "v1" {
		t.Errorf("after adding: %v", rep.Data)
	}
	l.agent("late", ddlJSON("late", "2.0.0", 5), reply("v2"), 0o755)
	w.Scan(ctx)
	if rep := agenttest.Call(t, n.agent(t, "late"), "run", nil); rep.Data["out"] != "v2" {
		t.Errorf("after upgrading: %v", rep.Data)
	}
	// The executable alone changes: the agent is reloaded too.
	time.Sleep(10 * time.Millisecond) // a distinct modification time
	l.agent("late", "", reply("v3"), 0o755)
	w.Scan(ctx)
	if rep := agenttest.Call(t, n.agent(t, "late"), "run", nil); rep.Data["out"] != "v3" {
		t.Errorf("after replacing the executable: %v", rep.Data)
	}
	for _, name := range []string{"late.json", "late"} {
		if err := os.Remove(filepath.Join(l.dir, "mcollective", "agent", name)); err != nil {
			t.Fatal(err)
		}
	}
	w.Scan(ctx)
	if got := n.Agents(); len(got) != 0 {
		t.Errorf("served %v after removing the agent's files", got)
	}
	for _, s := range []string{
		`msg="external agent added" agent=late version=1.0.0`,
		`msg="external agent upgraded" agent=late version=2.0.0`, `from_version=1.0.0`,
		`msg="external agent upgraded" agent=late version=2.0.0 ddl=`,
		`msg="external agent removed" agent=late`,
	} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log lacks %s:\n%s", s, logs)
		}
	}
}

// A rescan leaves a file that just changed alone until it settled.
func TestRescanWaitsForChangesToSettle(t *testing.T) {
	l := newLib(t)
	n, w, _ := newNode(t, Options{LibDirs: []string{l.dir}, Settle: time.Hour})
	w.Scan(context.Background())
	l.agent("fresh", ddlJSON("fresh", "1", 5), activateThen(`echo '{"statuscode": 0}' > "$2"`), 0o755)
	w.Scan(context.Background())
	if got := n.Agents(); len(got) != 0 {
		t.Errorf("served %v: a file written just now was loaded", got)
	}
	// On the first scan (mcod starting) nothing waits.
	n2, w2, _ := newNode(t, Options{LibDirs: []string{l.dir}, Settle: time.Hour})
	w2.Scan(context.Background())
	if got := n2.Agents(); !slices.Equal(got, []string{"fresh"}) {
		t.Errorf("first scan served %v", got)
	}
}

func TestDecodeReply(t *testing.T) {
	good := []struct {
		in   string
		want Reply
	}{
		{`{"statuscode": 0, "statusmsg": "OK", "data": {"n": 1, "f": 1.5, "big": 123456789012345678901234567890, "l": [1, "a"], "h": {"x": null}}}`,
			Reply{StatusCode: 0, StatusMsg: "OK", Data: map[string]any{"n": int64(1), "f": 1.5, "big": "123456789012345678901234567890", "l": []any{int64(1), "a"}, "h": map[string]any{"x": nil}}}},
		{`{"statuscode": 1, "statusmsg": "no"}`, Reply{StatusCode: 1, StatusMsg: "no"}},
		{`{"statuscode": 5, "data": null}`, Reply{StatusCode: 5}},
	}
	for _, c := range good {
		got, err := DecodeReply([]byte(c.in))
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("DecodeReply(%s) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	bad := map[string]string{
		``:                                    "not a JSON object",
		`[1]`:                                 "not a JSON object",
		`{"statusmsg": "OK"}`:                 "no statuscode",
		`{"statuscode": -1}`:                  "not one of 0 to 5",
		`{"statuscode": 1.5}`:                 "not one of 0 to 5",
		`{"statuscode": 0, "statusmsg": 3}`:   "statusmsg is a json.Number, want a string",
		`{"statuscode": 0, "data": [1]}`:      "data is a []interface {}, want an object",
		`{"statuscode": 0} {"statuscode": 1}`: "data after its JSON object",
	}
	for in, want := range bad {
		if _, err := DecodeReply([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeReply(%q) = %v, want an error saying %q", in, err, want)
		}
	}
}

func FuzzDecodeReply(f *testing.F) {
	for _, s := range []string{`{"statuscode": 0, "statusmsg": "OK", "data": {"a": [1, 2.5, {"b": null}]}}`, `{"activate": true}`, `{`, `{"statuscode": 9}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeReply(b)
		if err == nil && (r.StatusCode < message.OK || r.StatusCode > message.UnknownError) {
			t.Errorf("accepted status %d", r.StatusCode)
		}
		_, _ = decodeActivation(b)
	})
}

func mustDDL(t testing.TB, s string) *ddl.Agent {
	t.Helper()
	d, err := ddl.ParseAgent([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return d
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

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("é", 150) + "\nthe end\n"
	got := excerpt([]byte(long))
	if !strings.HasPrefix(got, ": ...") || !strings.HasSuffix(got, "é the end") || len(got) > len(": ...")+maxExcerpt || !utf8.ValidString(got) {
		t.Errorf("excerpt = %q", got)
	}
	if got := excerpt([]byte(" \n")); got != "" {
		t.Errorf("excerpt of blank stderr = %q", got)
	}
	var tl tail
	for range 1000 {
		_, _ = tl.Write([]byte(strings.Repeat("x", 100)))
	}
	_, _ = tl.Write([]byte("END"))
	if b := tl.Bytes(); len(b) != maxTail || !bytes.HasSuffix(b, []byte("xEND")) {
		t.Errorf("tail kept %d bytes ending %q", len(b), b[len(b)-4:])
	}
}

// The request file holds every field of the v1 protocol, and inputs decoded from Ruby (a
// Symbol, a Hash with non-String keys) as JSON writes them; optional inputs get their DDL
// default.
func TestRequestFile(t *testing.T) {
	l := newLib(t)
	l.agent("echo", `{"$schema": "https://choria.io/schemas/mcorpc/ddl/v1/agent.json",
 "metadata": {"name": "echo", "description": "d", "author": "a", "license": "l", "version": "1", "url": "u", "timeout": 5, "provider": "external"},
 "actions": [{"action": "show", "description": "d", "output": {"request": {"description": "r", "display_as": "R", "default": null}},
  "input": {"h": {"prompt": "h", "description": "h", "type": "hash", "optional": false},
            "opt": {"prompt": "o", "description": "o", "type": "string", "optional": true, "default": "dflt", "validation": ".", "maxlength": 10}}}]}`,
		activateThen(`printf '{"statuscode": 0, "data": {"request": %s, "argv3": "%s", "env": "%s"}}' "$(cat "$1")" "$3" "$CHORIA_EXTERNAL_PROTOCOL" > "$2"`), 0o755)
	n, w, _ := newNode(t, Options{LibDirs: []string{l.dir}})
	w.Scan(context.Background())
	in := map[string]any{"h": map[any]any{marshal.Symbol("sym"): int64(1), int64(2): []any{true, 1.5}}}
	rep := agenttest.Call(t, n.agent(t, "echo"), "show", in)
	if rep.Status != message.OK {
		t.Fatalf("show: %d %q", rep.Status, rep.Message)
	}
	req, _ := rep.Data["request"].(map[string]any)
	want := map[string]any{
		"$schema": "https://choria.io/schemas/mcorpc/external/v1/rpc_request.json", "protocol": RequestProtocol,
		"agent": "echo", "action": "show", "requestid": "0123456789abcdef0123456789abcdef", "senderid": "agenttest",
		"callerid": "uid=0", "collective": "mcollective", "ttl": int64(60),
		"data": map[string]any{"h": map[string]any{"sym": int64(1), "2": []any{true, 1.5}}, "opt": "dflt"},
	}
	for k, v := range want {
		if fmt.Sprint(req[k]) != fmt.Sprint(v) {
			t.Errorf("request %s = %#v, want %#v", k, req[k], v)
		}
	}
	if mt, _ := req["msgtime"].(int64); time.Since(time.Unix(mt, 0)) > time.Minute {
		t.Errorf("request msgtime = %v", req["msgtime"])
	}
	if rep.Data["argv3"] != RequestProtocol || rep.Data["env"] != RequestProtocol {
		t.Errorf("protocol: argv[3] %v, env %v", rep.Data["argv3"], rep.Data["env"])
	}
}
