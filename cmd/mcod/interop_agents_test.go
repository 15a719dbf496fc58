package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/ddl"
)

// The acting agents (service, package, shell, nettest) driven by Debian's stock mco 2.12,
// with client DDLs rendered by ddl.RenderRuby: no plugin files are installed on the client.

// missingService is a service no test machine has.
const missingService = "mcorun-no-such-service"

// agentCall is one mco rpc call of the interop and reference tiers. Its name is the name of
// its capture, testdata/captures/agents/<name>.json.
type agentCall struct {
	name string
	args []string // agent, action, then inputs; {port} is a listening TCP port
}

// agentCalls are the calls both tiers make, to mcod and to the Ruby agents.
var agentCalls = []agentCall{
	{"service_status_cron", []string{"service", "status", "service=cron"}},
	{"service_restart_missing", []string{"service", "restart", "service=" + missingService}},
	{"package_status_dpkg", []string{"package", "status", "package=dpkg"}},
	{"shell_run_echo", []string{"shell", "run", "command=echo hi"}},
	{"nettest_connect", []string{"nettest", "connect", "fqdn=127.0.0.1", "port={port}"}},
}

// agentsClient writes the client config with a libdir holding the acting agents' and data
// plugins' DDLs as `mcorun plugin ddl` renders them.
func (f *fleet) agentsClient(t *testing.T) {
	t.Helper()
	lib := filepath.Join(f.dir, "clientlib")
	for _, sub := range []string{"agent", "data"} {
		if err := os.MkdirAll(filepath.Join(lib, "mcollective", sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"service", "package", "shell", "nettest"} {
		a, err := ddl.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(lib, "mcollective/agent", name+".ddl"), ddl.RenderRuby(a))
	}
	for _, name := range []string{"service", "package"} {
		d, err := ddl.BuiltinData(name)
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(lib, "mcollective/data", name+"_data.ddl"), ddl.RenderRubyData(d))
	}
	write(t, filepath.Join(f.dir, "client.cfg"), f.common()+`identity = mco-test-client
libdir = `+lib+`:/usr/share/mcollective/plugins
logger_type = console
loglevel = error
`)
}

// listener accepts TCP connections on a loopback port until the test ends, for nettest
// connect, and returns the port.
func listener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// callArgs is c's mco rpc arguments for node identity, with {port} replaced.
func (c agentCall) callArgs(identity, port string) []string {
	args := make([]string, 0, len(c.args)+2)
	for _, a := range c.args {
		args = append(args, strings.ReplaceAll(a, "{port}", port))
	}
	return append(args, "-I", identity)
}

// actingFleet starts two mcod nodes: "acting1" serving the shell agent too (its jobs in the
// test's directory), and "noshell1" without plugin.shell.enabled. The client has the
// rendered DDLs.
func actingFleet(t *testing.T) *fleet {
	t.Helper()
	f := newFleet(t)
	f.start(nodeSpec{identity: "acting1", facts: "role: web\n", extra: "plugin.shell.enabled = true\nplugin.shell.state_path = " + filepath.Join(f.dir, "shell-state") + "\n"})
	f.start(nodeSpec{identity: "noshell1", facts: "role: web\n"})
	f.waitLog(t, "acting1", "shell agent served", 5*time.Second)
	f.agentsClient(t)
	return f
}

// wantKinds asserts the reply data has exactly these keys, each with a value of the JSON
// kind given: "string", "number", "bool", "null", "array", "object" or "any".
func wantKinds(t *testing.T, what string, data map[string]any, kinds map[string]string) {
	t.Helper()
	for k, kind := range kinds {
		v, ok := data[k]
		if !ok {
			t.Errorf("%s: no %q in %v", what, k, data)
			continue
		}
		if got := jsonKind(v); kind != "any" && got != kind {
			t.Errorf("%s: %s = %#v is a %s, want a %s", what, k, v, got, kind)
		}
	}
	for k := range data {
		if _, ok := kinds[k]; !ok {
			t.Errorf("%s: unexpected key %q = %#v", what, k, data[k])
		}
	}
}

// jsonKind is the JSON kind of a value decoded by encoding/json.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func TestMcoRPCActingAgents(t *testing.T) {
	f := actingFleet(t)
	port := listener(t)
	call := func(t *testing.T, name string) rpcReply {
		t.Helper()
		for _, c := range agentCalls {
			if c.name == name {
				r := f.mcoRPCAny(t, c.callArgs("acting1", port)...)
				if len(r) != 1 || r[0].Sender != "acting1" {
					t.Fatalf("mco rpc %v: want one reply from acting1, got %+v", c.args, r)
				}
				return r[0]
			}
		}
		t.Fatalf("no call %s", name)
		return rpcReply{}
	}

	t.Run("service status", func(t *testing.T) {
		t.Parallel()
		r := call(t, "service_status_cron")
		wantKinds(t, "service status", r.Data, map[string]string{"status": "string"})
		if r.StatusCode != 0 || r.StatusMsg != "OK" {
			t.Errorf("service status cron: %d %q, want 0 OK", r.StatusCode, r.StatusMsg)
		}
		if s := r.Data["status"]; s != "running" && s != "stopped" {
			t.Errorf("service status cron: status %v, want running or stopped", s)
		}
	})
	t.Run("service restart of a missing service", func(t *testing.T) {
		t.Parallel()
		r := call(t, "service_restart_missing")
		wantKinds(t, "service restart", r.Data, map[string]string{"status": "string"})
		// The Ruby agent's restart raises, which SimpleRPC answers with statuscode 5 and
		// Puppet's words.
		if r.StatusCode != 5 || r.StatusMsg != "Could not find init script for '"+missingService+"'" || r.Data["status"] != "unknown" {
			t.Errorf("service restart %s: %d %q %v, want 5, a message naming the service and status unknown", missingService, r.StatusCode, r.StatusMsg, r.Data)
		}
	})
	t.Run("service bad name is refused by mco", func(t *testing.T) {
		t.Parallel()
		out, errOut, err := f.mcoRun(t, "rpc", "service", "status", "service=cron;id", "-I", "acting1")
		if err == nil || !strings.Contains(out+errOut, "Cannot validate input service") {
			t.Errorf("service status cron;id: err %v\n%s%s", err, out, errOut)
		}
	})
	t.Run("package status", func(t *testing.T) {
		t.Parallel()
		r := call(t, "package_status_dpkg")
		wantKinds(t, "package status", r.Data, map[string]string{"name": "string", "ensure": "string", "version": "string",
			"release": "string", "epoch": "string", "arch": "string", "provider": "string", "output": "null",
			"desired": "string", "error": "string", "status": "string", "mark": "string"})
		if r.StatusCode != 0 || r.Data["name"] != "dpkg" || r.Data["provider"] != "apt" || r.Data["status"] != "installed" {
			t.Errorf("package status dpkg: %+v", r)
		}
	})
	t.Run("shell run", func(t *testing.T) {
		t.Parallel()
		r := call(t, "shell_run_echo")
		wantKinds(t, "shell run", r.Data, map[string]string{"stdout": "string", "stderr": "string", "success": "bool", "exitcode": "number"})
		if r.StatusCode != 0 || r.Data["stdout"] != "hi\n" || r.Data["stderr"] != "" || r.Data["success"] != true || r.Data["exitcode"] != float64(0) {
			t.Errorf("shell run echo hi: %+v", r)
		}
	})
	t.Run("shell is not served without plugin.shell.enabled", func(t *testing.T) {
		t.Parallel()
		// Discovery with the shell agent in the filter finds no node.
		out, errOut, err := f.mcoRun(t, "rpc", "shell", "run", "command=echo hi", "-F", "role=web", "-I", "/^noshell/")
		if err == nil || !strings.Contains(out+errOut, "No request sent, we did not discover any nodes") {
			t.Errorf("shell run on noshell1 with discovery: err %v\n%s%s", err, out, errOut)
		}
		// An identity alone is sent without discovery: the node drops it, mco reports it missing.
		out, errOut, err = f.mcoRun(t, "rpc", "shell", "run", "command=echo hi", "-I", "noshell1", "-t", "2")
		if err == nil || !strings.Contains(out+errOut, "No response from:") || !strings.Contains(out+errOut, "noshell1") {
			t.Errorf("shell run sent to noshell1: err %v\n%s%s", err, out, errOut)
		}
		f.waitLog(t, "noshell1", `agent \"shell\" is not served here`, 5*time.Second)
	})
	t.Run("nettest connect", func(t *testing.T) {
		t.Parallel()
		r := call(t, "nettest_connect")
		wantKinds(t, "nettest connect", r.Data, map[string]string{"connect": "bool", "connect_status": "string", "connect_time": "number"})
		if r.StatusCode != 0 || r.Data["connect"] != true || r.Data["connect_status"] != "Connected" {
			t.Errorf("nettest connect: %+v", r)
		}
	})
}

// mcoRPCAny is mcoRPC for calls that may fail on the node: mco then exits non-zero, and its
// JSON output is still the replies.
func (f *fleet) mcoRPCAny(t *testing.T, args ...string) []rpcReply {
	t.Helper()
	out, errOut, err := f.mcoRun(t, append([]string{"rpc", "--json"}, args...)...)
	var replies []rpcReply
	if jerr := json.Unmarshal([]byte(out), &replies); jerr != nil {
		t.Fatalf("mco rpc %s: %v, bad JSON: %v\n%s%s", strings.Join(args, " "), err, jerr, out, errOut)
	}
	return replies
}
