package external

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/agent/agenttest"
	"github.com/mcorun/mcorun/runtime/ddl"
)

func TestActivation(t *testing.T) {
	l := newLib(t)
	l.agent("shy", ddlJSON("shy", "1", 5), "#!/bin/sh\necho '{\"activate\": false}' > \"$2\"\n", 0o755)
	l.agent("broken", ddlJSON("broken", "1", 5), "#!/bin/sh\necho 'cannot find my tools' >&2\nexit 1\n", 0o755)
	l.agent("slow", ddlJSON("slow", "1", 5), "#!/bin/sh\nsleep 30\n", 0o755)
	l.agent("wrongprotocol", ddlJSON("wrongprotocol", "1", 5), "#!/bin/sh\n[ \"$CHORIA_EXTERNAL_PROTOCOL\" = \"$3\" ] && [ \"$3\" = io.choria.mcorpc.external.v1.activation_request ] && echo '{\"activate\": true}' > \"$CHORIA_EXTERNAL_REPLY\"\n", 0o755)
	n, w, logs := newNode(t, Options{LibDirs: []string{l.dir}, ActivationTimeout: time.Second})
	start := time.Now()
	w.Scan(context.Background())
	if took := time.Since(start); took > 10*time.Second { // not the 30 s slow sleeps
		t.Errorf("the scan took %s: the activation bound was not kept", took)
	}
	if got := n.Agents(); !slices.Equal(got, []string{"wrongprotocol"}) {
		t.Errorf("served %v, want only wrongprotocol (activated through its environment)", got)
	}
	for _, s := range []string{
		`msg="external agent not activated: it declined to run on this node" agent=shy`,
		`msg="external agent not activated: its activation check failed" agent=broken version=1 ddl=` + filepath.Join(l.dir, "mcollective/agent/broken.json"),
		`err="broken exit status 1: cannot find my tools"`,
		`err="activation check timed out after 1s; its process group was killed"`,
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

func mustDDL(t testing.TB, s string) *ddl.Agent {
	t.Helper()
	d, err := ddl.ParseAgent([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return d
}
