package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/testenv"
)

// buildMcorun builds cmd/mcorun once for the package's tests, beside mcod.
var buildMcorun = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(filepath.Dir(mcodBin), "mcorun")
	if out, err := exec.Command("go", "build", "-o", bin, "../mcorun").CombinedOutput(); err != nil {
		return "", fmt.Errorf("building mcorun: %v\n%s", err, out)
	}
	return bin, nil
})

func mcorunBinary(t *testing.T) string {
	t.Helper()
	bin, err := buildMcorun()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// exampleLibdir is the libdir of the example external agents, greeter (sh) and nodeinfo
// (Python).
func exampleLibdir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../testdata/external")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestExternalAgents serves the example external agents from mcod, under actionpolicy and
// audit, and calls them with mcorun and with stock mco (the DDL stock mco needs is printed
// by `mcorun plugin ddl`); an agent installed, then removed, while mcod runs is served,
// then not.
func TestExternalAgents(t *testing.T) {
	f := newFleet(t)
	late := filepath.Join(f.dir, "latelib")
	clientLib := filepath.Join(f.dir, "clientlib")
	policies := filepath.Join(f.dir, "policies")
	for _, d := range []string{filepath.Join(late, "mcollective", "agent"), filepath.Join(clientLib, "mcollective", "agent"), policies} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(policies, "greeter.policy"), "policy default deny\nallow\t*\tgreet\t*\t*\n")
	write(t, filepath.Join(policies, "rpcutil.policy"), "policy default allow\n")
	audit := filepath.Join(f.dir, "ext1.audit")
	examples := exampleLibdir(t)
	f.start(nodeSpec{identity: "ext1", facts: "role: web\n", extra: fmt.Sprintf(`libdir = %s:%s
plugin.mcod.external.rescan = 0.2
rpcauthorization = 1
rpcauthprovider = action_policy
plugin.actionpolicy.policy_dir = %s
rpcaudit = 1
rpcauditprovider = logfile
plugin.rpcaudit.logfile = %s
`, examples, late, policies, audit)})
	f.waitLog(t, "ext1", `msg="external agent added" agent=greeter`, 15*time.Second)
	write(t, filepath.Join(f.dir, "client.cfg"), f.common()+`identity = mco-test-client
libdir = `+examples+":"+late+":"+clientLib+`:/usr/share/mcollective/plugins
logger_type = console
loglevel = error
`)
	bin := mcorunBinary(t)
	mcorun := func(t *testing.T, args ...string) (rpcDoc, string) {
		t.Helper()
		out, err := exec.Command(bin, append(args, "--json", "-I", "ext1", "--config", f.clientConfig(t))...).Output()
		var doc rpcDoc
		if jerr := json.Unmarshal(out, &doc); jerr != nil {
			t.Fatalf("mcorun %s: %v; bad JSON: %v\n%s", strings.Join(args, " "), err, jerr, out)
		}
		return doc, string(out)
	}

	t.Run("mcorun", func(t *testing.T) {
		doc, out := mcorun(t, "rpc", "greeter", "greet", "name=Ann")
		if len(doc.Replies) != 1 {
			t.Fatalf("want one reply:\n%s", out)
		}
		r := doc.Replies[0]
		if r.StatusCode != 0 || r.Data["greeting"] != "hello Ann" || r.Data["length"] != float64(3) || r.Data["mood"] != "cheerful" {
			t.Errorf("greet: %+v", r)
		}
		// actionpolicy allows greet only: refuse is denied before the agent runs.
		doc, out = mcorun(t, "rpc", "greeter", "refuse")
		if len(doc.Replies) != 1 || doc.Replies[0].StatusCode != 1 || doc.Replies[0].StatusMsg != "You are not authorized to call this agent or action." {
			t.Errorf("refuse under a policy allowing greet only:\n%s", out)
		}
		doc, out = mcorun(t, "rpc", "rpcutil", "agent_inventory")
		if len(doc.Replies) != 1 || !strings.Contains(fmt.Sprint(doc.Replies[0].Data["agents"]), "agent:greeter") {
			t.Errorf("agent_inventory lacks greeter:\n%s", out)
		}
		b, _ := os.ReadFile(audit)
		if !strings.Contains(string(b), "agent=greeter action=greet") || !strings.Contains(string(b), "agent=greeter action=refuse") {
			t.Errorf("audit log lacks the greeter requests:\n%s", b)
		}
	})

	t.Run("rescan", func(t *testing.T) {
		dir := filepath.Join(late, "mcollective", "agent")
		write(t, filepath.Join(dir, "late.json"), `{"$schema": "https://choria.io/schemas/mcorpc/ddl/v1/agent.json",
 "metadata": {"name": "late", "description": "d", "author": "a", "license": "l", "version": "1", "url": "u", "timeout": 5, "provider": "external"},
 "actions": [{"action": "run", "description": "run", "input": {}, "output": {"out": {"description": "o", "display_as": "O", "default": null}}},
             {"action": "crash", "description": "crash", "input": {}, "output": {}}]}`)
		write(t, filepath.Join(policies, "late.policy"), "policy default allow\n")
		if err := os.WriteFile(filepath.Join(dir, "late"), []byte("#!/bin/sh\n"+
			`[ "$3" = io.choria.mcorpc.external.v1.activation_request ] && echo '{"activate": true}' > "$2" && exit 0`+"\n"+
			`grep -q '"action":"crash"' "$1" && { echo "late: crashed on purpose" >&2; exit 3; }`+"\n"+
			`echo '{"statuscode": 0, "data": {"out": "late and well"}}' > "$2"`+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		// Files older than the settle time are read on the next rescan.
		old := time.Now().Add(-time.Minute)
		for _, p := range []string{"late.json", "late"} {
			if err := os.Chtimes(filepath.Join(dir, p), old, old); err != nil {
				t.Fatal(err)
			}
		}
		f.waitLog(t, "ext1", `msg="external agent added" agent=late`, 15*time.Second)
		// A crash is statuscode 1 with the end of stderr, and the node keeps serving.
		doc, out := mcorun(t, "rpc", "late", "crash")
		if len(doc.Replies) != 1 || doc.Replies[0].StatusCode != 1 || doc.Replies[0].StatusMsg != "late#crash failed: late exit status 3: late: crashed on purpose" {
			t.Errorf("late crash:\n%s", out)
		}
		doc, out = mcorun(t, "rpc", "late", "run")
		if len(doc.Replies) != 1 || doc.Replies[0].Data["out"] != "late and well" {
			t.Errorf("late run:\n%s", out)
		}
		for _, p := range []string{"late.json", "late"} {
			if err := os.Remove(filepath.Join(dir, p)); err != nil {
				t.Fatal(err)
			}
		}
		f.waitLog(t, "ext1", `msg="external agent removed" agent=late`, 15*time.Second)
		doc, out = mcorun(t, "rpc", "rpcutil", "agent_inventory")
		if len(doc.Replies) != 1 || strings.Contains(fmt.Sprint(doc.Replies[0].Data["agents"]), "agent:late") {
			t.Errorf("agent_inventory after removing late:\n%s", out)
		}
	})

	t.Run("stock mco", func(t *testing.T) {
		testenv.RequireMCO(t)
		ddlText, err := exec.Command(bin, "plugin", "ddl", "greeter", "--config", f.clientConfig(t)).Output()
		if err != nil {
			t.Fatalf("mcorun plugin ddl greeter: %v", err)
		}
		write(t, filepath.Join(clientLib, "mcollective", "agent", "greeter.ddl"), string(ddlText))
		r := f.mcoRPC(t, "greeter", "greet", "name=Bob", "-I", "ext1")
		if len(r) != 1 || r[0].StatusCode != 0 || r[0].Data["greeting"] != "hello Bob" || r[0].Data["length"] != float64(3) || r[0].Data["mood"] != "cheerful" {
			t.Errorf("mco rpc greeter greet: %+v", r)
		}
		replies := f.mcoRPCAny(t, "greeter", "refuse", "-I", "ext1")
		if len(replies) != 1 || replies[0].StatusCode != 1 {
			t.Errorf("mco rpc greeter refuse: %+v", replies)
		}
	})
}

// rpcDoc is the part of mcorun rpc --json the tests read.
type rpcDoc struct {
	Replies []rpcReply `json:"replies"`
}
