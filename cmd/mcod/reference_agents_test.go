package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/testenv"
)

// PluginRefsEnv names a directory holding checkouts of choria-plugins' shell-agent,
// service-agent, package-agent and nettest-agent (each with its files/mcollective tree),
// kept outside this repository. When it is set, TestCaptureRubyAgentReplies runs those Ruby
// agents on a stock mcollectived and saves their replies as captureDir's captures; CI does
// not set it.
const PluginRefsEnv = "MCORUN_PLUGIN_REFS"

// captureDir holds the Ruby agents' replies, one JSON file per agentCall.
const captureDir = "../../testdata/captures/agents"

// capture is one reply as stock mco rpc --json prints it.
type capture struct {
	Agent      string         `json:"agent"`
	Action     string         `json:"action"`
	Sender     string         `json:"sender"`
	StatusCode int            `json:"statuscode"`
	StatusMsg  string         `json:"statusmsg"`
	Data       map[string]any `json:"data"`
}

// TestCaptureRubyAgentReplies is the reference tier: the Ruby agents on stock mcollectived,
// called by stock mco with the same calls as mcod's interop tests, their replies saved.
func TestCaptureRubyAgentReplies(t *testing.T) {
	refs := os.Getenv(PluginRefsEnv)
	if refs == "" {
		t.Skipf("%s is not set: it names a directory of choria-plugins {shell,service,package,nettest}-agent checkouts", PluginRefsEnv)
	}
	lib := filepath.Join(t.TempDir(), "reflib")
	agents := []string{"shell", "service", "package"}
	// The nettest agent activates only with Ruby's net-ping library.
	if exec.Command("ruby", "-e", "require 'net/ping/icmp'").Run() == nil {
		agents = append(agents, "nettest")
	} else {
		t.Log("nettest left out: its Ruby agent needs the net-ping library, which is not installed")
	}
	for _, a := range agents {
		copyTree(t, filepath.Join(refs, a+"-agent", "files"), lib)
	}
	f := newFleet(t)
	logs := testenv.StartMcollectived(t, f.collective, f.addr, f.psk, []testenv.RubyNode{{
		Identity: "ruby1", Facts: map[string]string{"role": "web"}, Extra: "libdir = " + lib + "\n",
	}})
	f.agentsClient(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _, _ := f.mcoRun(t, "find", "-A", "shell")
		if strings.TrimSpace(out) == "ruby1" {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logs["ruby1"])
			t.Fatalf("the Ruby node never served the shell agent:\n%s", b)
		}
		time.Sleep(500 * time.Millisecond)
	}
	driveWithClient(t, f.clientConfig(t), "ruby1")
	port := listener(t)
	if err := os.MkdirAll(captureDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range agentCalls {
		if !slices.Contains(agents, c.args[0]) {
			continue
		}
		out, errOut, err := f.mcoRun(t, append([]string{"rpc", "--json"}, c.callArgs("ruby1", port)...)...)
		var r []capture
		if jerr := json.Unmarshal([]byte(out), &r); jerr != nil || len(r) != 1 {
			t.Errorf("%s: mco rpc %v: %v %v\n%s%s", c.name, c.args, err, jerr, out, errOut)
			continue
		}
		b, _ := json.MarshalIndent(r[0], "", "  ")
		if err := os.WriteFile(filepath.Join(captureDir, c.name+".json"), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s", c.name, b)
	}
}

// copyTree copies the regular files under src into dst, keeping their relative paths.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s: %v (check %s)", src, err, PluginRefsEnv)
	}
}

// hostSpecific are the data values that differ from host to host or run to run, by call:
// their key and kind are still compared, their value is not.
var hostSpecific = map[string]map[string]string{
	"service_status_cron": {
		"status": "whether cron runs depends on the host",
	},
	"package_status_dpkg": {
		"ensure": "the installed dpkg version depends on the host", "version": "likewise",
		"release": "likewise", "epoch": "likewise", "arch": "the host's architecture",
		"output": "the package manager's own text",
	},
	"nettest_connect": {
		"connect_time": "a time",
	},
}

// statusMsgPrefix are the calls whose statusmsg ends in text from the host's tools: only
// the part before it is compared. None so far.
var statusMsgPrefix = map[string]string{}

// knownDivergences are the differences from the Ruby agents the comparison found and mcod's
// agents do not fix yet, by call and field ("statusmsg", "keys" or "data.KEY"). They are
// logged, not failed; one that no longer occurs fails the test, so the entry goes once the
// agent is fixed.
var knownDivergences = map[string]map[string]string{
	"package_status_dpkg": {
		"data.arch":    "Puppet's dpkg provider leaves arch, version, release and epoch nil; mcod fills them from dpkg-query",
		"data.version": "as data.arch", "data.release": "as data.arch", "data.epoch": "as data.arch",
	},
}

// TestActingRepliesMatchRubyCaptures calls mcod with the reference tier's calls and compares
// each reply with the Ruby agent's, field by field: agent, action, statuscode, statusmsg
// (see statusMsgPrefix), the data's keys and each value's JSON kind, and the values but for
// hostSpecific ones. The sender is the node's identity and is not compared.
func TestActingRepliesMatchRubyCaptures(t *testing.T) {
	var calls []agentCall
	for _, c := range agentCalls {
		if _, err := os.Stat(filepath.Join(captureDir, c.name+".json")); err == nil {
			calls = append(calls, c)
		}
	}
	if len(calls) < 4 {
		t.Fatalf("only %d captures in %s: run the reference tier (%s=DIR go test -run TestCaptureRubyAgentReplies ./cmd/mcod)", len(calls), captureDir, PluginRefsEnv)
	}
	f := actingFleet(t)
	port := listener(t)
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(filepath.Join(captureDir, c.name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var want capture
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			out, errOut, err := f.mcoRun(t, append([]string{"rpc", "--json"}, c.callArgs("acting1", port)...)...)
			var got []capture
			if jerr := json.Unmarshal([]byte(out), &got); jerr != nil || len(got) != 1 {
				t.Fatalf("mco rpc %v: %v %v\n%s%s", c.args, err, jerr, out, errOut)
			}
			compareCapture(t, c.name, got[0], want)
		})
	}
}

// compareCapture reports every field where mcod's reply differs from the Ruby agent's, but
// for knownDivergences, which it logs.
func compareCapture(t *testing.T, name string, got, want capture) {
	t.Helper()
	seen := map[string]bool{}
	differ := func(field, format string, args ...any) {
		t.Helper()
		if why, ok := knownDivergences[name][field]; ok {
			seen[field] = true
			t.Logf("known divergence (%s): "+format, append([]any{why}, args...)...)
			return
		}
		t.Errorf(format, args...)
	}
	defer func() {
		for field := range knownDivergences[name] {
			if !seen[field] {
				t.Errorf("%s no longer differs from the Ruby agent: remove it from knownDivergences", field)
			}
		}
	}()
	if got.Agent != want.Agent || got.Action != want.Action {
		t.Errorf("agent/action %s/%s, Ruby %s/%s", got.Agent, got.Action, want.Agent, want.Action)
	}
	if got.StatusCode != want.StatusCode {
		t.Errorf("statuscode %d, Ruby %d (%q)", got.StatusCode, want.StatusCode, want.StatusMsg)
	}
	if p, ok := statusMsgPrefix[name]; ok {
		if !strings.HasPrefix(got.StatusMsg, p) || !strings.HasPrefix(want.StatusMsg, p) {
			differ("statusmsg", "statusmsg %q, Ruby %q: want both to start %q", got.StatusMsg, want.StatusMsg, p)
		}
	} else if got.StatusMsg != want.StatusMsg {
		differ("statusmsg", "statusmsg %q, Ruby %q", got.StatusMsg, want.StatusMsg)
	}
	if !slices.Equal(sortedKeys(got.Data), sortedKeys(want.Data)) {
		differ("keys", "data keys %v, Ruby %v", sortedKeys(got.Data), sortedKeys(want.Data))
	}
	for k, w := range want.Data {
		g, ok := got.Data[k]
		if !ok {
			continue
		}
		if jsonKind(g) != jsonKind(w) {
			differ("data."+k, "data %s = %#v (a %s), Ruby %#v (a %s)", k, g, jsonKind(g), w, jsonKind(w))
			continue
		}
		if _, skip := hostSpecific[name][k]; !skip && !jsonEqual(g, w) {
			differ("data."+k, "data %s = %#v, Ruby %#v", k, g, w)
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
