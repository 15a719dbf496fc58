package puppet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/agent/agenttest"
	"github.com/mcorun/mcorun/runtime/testenv"
)

// Manifests for real puppet apply runs.
const (
	goodManifest = "notify { 'hello': message => 'hi' }\nexec { 'nap': command => '/bin/sleep 1' }\n"
	failManifest = "exec { 'broken': command => '/bin/false' }\n"
	slowManifest = "exec { 'long nap': command => '/bin/sleep 3' }\n"
)

// puppetNode is one test node: a puppet.conf of its own under a temp dir, and a run command
// that does a real `puppet apply` of a manifest while holding the catalog run lock, as a
// puppet agent run does.
type puppetNode struct {
	dir  string
	conf string
	p    *Puppet
	a    *agent.Agent
}

// newPuppetNode writes the node's puppet.conf and run wrapper and locates its files with a
// real `puppet config print`.
func newPuppetNode(t *testing.T, manifest string, tweak func(*Options)) *puppetNode {
	t.Helper()
	bin := testenv.RequirePuppet(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "puppet.conf")
	writeFile(t, conf, fmt.Sprintf("[main]\nvardir = %[1]s/var\nstatedir = %[1]s/var/state\nlogdir = %[1]s/log\nrundir = %[1]s/run\ncodedir = %[1]s/code\npublicdir = %[1]s/public\n", dir))
	writeFile(t, filepath.Join(dir, "site.pp"), manifest)
	lock := filepath.Join(dir, "var/state/agent_catalog_run.lock")
	wrapper := filepath.Join(dir, "run-puppet")
	writeFile(t, wrapper, fmt.Sprintf("#!/bin/sh\nmkdir -p %[1]s/var/state\necho $$ > %[2]s\n%[3]s apply --config %[4]s %[1]s/site.pp > %[1]s/run.log 2>&1\nrc=$?\nrm -f %[2]s\nexit $rc\n",
		dir, lock, bin, conf))
	if err := os.Chmod(wrapper, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.Command = wrapper
	opts.Config = conf
	opts.Splay = false
	if tweak != nil {
		tweak(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Paths().CatalogRunLock; got != lock {
		t.Fatalf("catalog run lock = %s, want %s", got, lock)
	}
	return &puppetNode{dir: dir, conf: conf, p: p, a: p.Agent()}
}

// call runs an action as mcod's pipeline does (agenttest.Call).
func call(t *testing.T, a *agent.Agent, action string, in map[string]any) *agent.Reply {
	t.Helper()
	return agenttest.Call(t, a, action, in)
}

// waitFor polls cond every 100ms until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runToEnd starts a forced run and waits until status shows it finished; it returns the
// runonce reply.
func (n *puppetNode) runToEnd(t *testing.T) *agent.Reply {
	t.Helper()
	start := time.Now()
	rep := call(t, n.a, "runonce", map[string]any{"force": true})
	if rep.Status != 0 {
		t.Fatalf("runonce: %d %s", rep.Status, rep.Message)
	}
	at, ok := rep.Data["initiated_at"].(int64)
	if !ok {
		t.Fatalf("initiated_at = %#v, want an int64", rep.Data["initiated_at"])
	}
	waitFor(t, 60*time.Second, "the run to finish", func() bool {
		st := call(t, n.a, "status", nil)
		last, _ := st.Data["lastrun"].(int64)
		return st.Data["applying"] == false && last >= at
	})
	t.Logf("puppet run took %s", time.Since(start).Round(10*time.Millisecond))
	return rep
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
