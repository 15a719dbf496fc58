package external

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mcorun/mcorun/runtime/agent/agenttest"
	"github.com/mcorun/mcorun/runtime/message"
)

// RefsEnv names a go-choria checkout for the reference tier, which CI does not run.
const RefsEnv = "MCORUN_EXTERNAL_REFS"

// ginkgoDDL is the DDL go-choria's tests give their ginkgo agents (in Go, in agent_test.go):
// ping, with a shellsafe string input hello and two outputs with defaults.
const ginkgoDDL = `{"$schema": "https://choria.io/schemas/mcorpc/ddl/v1/agent.json",
 "metadata": {"name": %q, "description": "go-choria's test agent", "author": "go-choria", "license": "Apache-2.0", "version": "1.0.0", "url": "https://choria.io", "timeout": 1, "provider": "external"},
 "actions": [{"action": "ping", "description": "ping", "display": "always",
  "input": {"hello": {"prompt": "Hello", "description": "hello", "type": "string", "validation": "shellsafe", "optional": false, "maxlength": 0}},
  "output": {"hello": {"description": "hello", "display_as": "Hello", "type": "string", "default": "default"},
             "optional": {"description": "optional", "display_as": "Optional", "type": "string", "default": "optional default"}}}]}`

// TestChoriaReferenceAgents runs go-choria's own external test agents, unchanged, from a
// checkout named by MCORUN_EXTERNAL_REFS: the activation checkers through the watcher, and
// the ginkgo agents through their action (they answer rpc requests only, so go-choria's own
// tests call them without an activation check, as this does). Their DDLs are the ones
// go-choria's tests build in Go; the executables are linked from the checkout.
func TestChoriaReferenceAgents(t *testing.T) {
	refs := os.Getenv(RefsEnv)
	if refs == "" {
		t.Skipf("%s is not set: it names a go-choria checkout whose external test agents this runs", RefsEnv)
	}
	src := filepath.Join(refs, "providers/agent/mcorpc/external/testdata/mcollective/agent")
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("%s=%s: %v", RefsEnv, refs, err)
	}
	if _, err := exec.LookPath("ruby"); err != nil {
		t.Fatal("the ginkgo agents are Ruby scripts: install ruby")
	}
	root := t.TempDir()
	l := lib{t, filepath.Join(root, "lib")}
	dir := filepath.Join(l.dir, "mcollective", "agent")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	names := []string{"activation_checker_enabled", "activation_checker_disabled", "activation_checker_fails", "ginkgo", "ginkgo_abort"}
	for _, name := range names {
		if err := os.Symlink(filepath.Join(src, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		l.agent(name, sprintfDDL(name), "", 0)
	}
	// The activation checkers, through a scan of the libdir; the ginkgo agents decline
	// activation (they abort on any protocol but rpc_request).
	n, w, logs := newNode(t, Options{LibDirs: []string{l.dir}, ConfigDir: root,
		Facts: func() map[string]any { return map[string]any{"ginkgo": true} }})
	w.Scan(context.Background())
	t.Logf("served after the scan: %v", n.Agents())
	if got := n.Agents(); !slices.Equal(got, []string{"activation_checker_enabled"}) {
		t.Errorf("served %v, want only activation_checker_enabled", got)
	}
	// The ginkgo agents' actions, as go-choria's tests call them.
	for _, c := range []struct {
		name string
		in   map[string]any
		code message.Status
		msg  string
		data map[string]any
	}{
		{"ginkgo", map[string]any{"hello": "world"}, message.OK, "OK", map[string]any{"hello": "world", "optional": "optional default"}},
		{"ginkgo_abort", map[string]any{"hello": "world"}, message.Aborted, "ginkgo_abort#ping failed: ginkgo_abort exit status 1: fail fail fail", map[string]any{"hello": "default", "optional": "optional default"}},
		{"ginkgo", map[string]any{"hello": 1}, message.InvalidData, "", nil},
	} {
		f, reason := candidate(c.name, filepath.Join(dir, c.name+".json"))
		if f == nil {
			t.Fatalf("%s: not an external agent: %s", c.name, reason)
		}
		rep := agenttest.Call(t, w.r.newAgent(f.ddl, f.exe), "ping", c.in)
		t.Logf("%s ping %v: statuscode %d, statusmsg %q, data %v", c.name, c.in, rep.Status, rep.Message, rep.Data)
		if rep.Status != c.code || (c.msg != "" && rep.Message != c.msg) {
			t.Errorf("%s: %d %q, want %d %q", c.name, rep.Status, rep.Message, c.code, c.msg)
		}
		for k, v := range c.data {
			if rep.Data[k] != v {
				t.Errorf("%s: %s = %v, want %v", c.name, k, rep.Data[k], v)
			}
		}
	}
	// The checkout's own testdata as a libdir: DDLs without executables, passed over.
	n2, w2, logs2 := newNode(t, Options{LibDirs: []string{filepath.Dir(filepath.Dir(src))}})
	w2.Scan(context.Background())
	if len(n2.Agents()) != 0 {
		t.Errorf("the checkout's testdata served %v", n2.Agents())
	}
	t.Logf("node log:\n%s%s", logs, logs2)
}

func sprintfDDL(name string) string { return fmt.Sprintf(ginkgoDDL, name) }
