package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The inventory names the first four sandbox nodes and ghost01, which no node answers for.
const (
	testInventory = "../../runtime/discovery/testdata/inventory.yaml"
	testExternal  = "../../runtime/discovery/testdata/external.sh"
)

func sandboxRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut lockedBuffer
	e := &env{
		stdin: strings.NewReader(""), stdout: &out, stderr: &errOut,
		getenv: func(string) string { return "" }, home: t.TempDir(),
		connect: connectBroker(defaultDialTimeout, ""),
	}
	code = run(context.Background(), e, append([]string{"--sandbox", "4"}, args...))
	return code, out.String(), errOut.String()
}

// TestFindWithSources: find prints what each source targets, filtered by the source.
func TestFindWithSources(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "replies.json")
	if err := os.WriteFile(list, []byte(`[{"sender": "db01.dc2.example.net", "statuscode": 0}, {"sender": "web02.dc1.example.net", "statuscode": 1}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--dm", "inventory", "--do", "file=" + testInventory, "-F", "role=web"}, "ghost01.dc1.example.net\nweb01.dc1.example.net\nweb02.dc1.example.net\n"},
		{[]string{"--discovery-method", "inventory", "--do", "file=" + testInventory, "-I", "group:dc2"}, "db01.dc2.example.net\n"},
		{[]string{"--dm", "inventory", "--do", "file=" + testInventory, "-S", "role=web and processorcount<4"}, "ghost01.dc1.example.net\n"},
		{[]string{"--dm", "flatfile", "--do", "file=" + list}, "db01.dc2.example.net\nweb02.dc1.example.net\n"},
		{[]string{"--nodes", list, "-v"}, "db01.dc2.example.net\nweb02.dc1.example.net\n"},
		{[]string{"--dm", "external", "--do", "command=" + testExternal, "-F", "role=db"}, "db01.dc2.example.net\n"},
	}
	// rpc adds its agent to the filter, as mco does; flatfile, which knows no agents, takes it
	code, out, errOut := sandboxRun(t, "rpc", "rpcutil", "ping", "--dm", "flatfile", "--do", "file="+list, "--json")
	var doc rpcDocJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != exitOK || !slices.Equal(doc.OK, []string{"db01.dc2.example.net", "web02.dc1.example.net"}) {
		t.Errorf("rpc --dm flatfile: exit %d, %+v, %v, stderr %q", code, doc, err, errOut)
	}
	for _, tt := range tests {
		code, out, errOut := sandboxRun(t, append([]string{"find"}, tt.args...)...)
		if code != exitOK || out != tt.want {
			t.Errorf("find %v: exit %d, stdout %q, stderr %q; want %q", tt.args, code, out, errOut, tt.want)
		}
	}
	_, _, errOut = sandboxRun(t, "find", "--dm", "inventory", "--do", "file="+testInventory, "-v")
	if !strings.Contains(errOut, "Discovered 5 nodes") || !strings.Contains(errOut, "using the inventory discovery plugin") {
		t.Errorf("find -v does not name the method: %q", errOut)
	}
}

// TestRPCReportsSourceNodesMissing: a node the inventory names that does not answer is
// missing (exit 4), while the live nodes it names reply.
func TestRPCReportsSourceNodesMissing(t *testing.T) {
	code, out, errOut := sandboxRun(t, "rpc", "rpcutil", "ping", "--dm", "inventory", "--do", "file="+testInventory,
		"-F", "role=web", "-t", "1", "--json")
	var doc rpcDocJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("exit %d, stdout %q, stderr %q: %v", code, out, errOut, err)
	}
	if code != exitMissing || !slices.Equal(doc.Missing, []string{"ghost01.dc1.example.net"}) ||
		!slices.Equal(doc.OK, []string{"web01.dc1.example.net", "web02.dc1.example.net"}) {
		t.Errorf("exit %d, ok %v, missing %v; want exit %d, ghost01 missing", code, doc.OK, doc.Missing, exitMissing)
	}
	// the agent called is part of the inventory's discovery: only web01 and web02 list service
	code, out, errOut = sandboxRun(t, "rpc", "service", "status", "service=cron", "--dm", "inventory", "--do", "file="+testInventory, "--json")
	doc = rpcDocJSON{}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("exit %d, stdout %q, stderr %q: %v", code, out, errOut, err)
	}
	if code != exitOK || !slices.Equal(doc.Discovered, []string{"web01.dc1.example.net", "web02.dc1.example.net"}) {
		t.Errorf("service status: exit %d, discovered %v, stderr %q; want the two nodes with the agent", code, doc.Discovered, errOut)
	}
}

// TestFindCompare: --compare shows the planted difference, ghost01 known only to the
// inventory, and the sandbox nodes the inventory lacks.
func TestFindCompare(t *testing.T) {
	code, out, errOut := sandboxRun(t, "find", "--compare", "mc,inventory", "--do", "file="+testInventory)
	want := "Only in mc (0 of 4, not in inventory):\n\nOnly in inventory (1 of 5, not in mc):\n   ghost01.dc1.example.net\n\n4 nodes in both\n"
	if code != exitOK || out != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}
	code, out, _ = sandboxRun(t, "find", "--compare", "inventory,mc", "--do", "file="+testInventory, "-I", "/^(web|ghost)/", "--json")
	var doc compareDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != exitOK {
		t.Fatalf("exit %d, %q: %v", code, out, err)
	}
	if !slices.Equal(doc.Only["inventory"], []string{"ghost01.dc1.example.net"}) || len(doc.Only["mc"]) != 0 || len(doc.Nodes["mc"]) != 2 {
		t.Errorf("--json: %+v", doc)
	}
}

// TestDiscoveryBadInput: a filter the method cannot evaluate is a usage error before anything
// connects; a broken source is exit 1 and nothing is sent.
func TestDiscoveryBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("nodes:\n  - name: a\n    fact: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	usage := []struct {
		args []string
		want string
	}{
		{[]string{"find", "--dm", "flatfile", "--do", "file=x", "-F", "role=web"}, "the flatfile method cannot evaluate fact filters (-F)"},
		{[]string{"find", "--dm", "inventory", "-S", `fstat("/etc/motd").size>0`}, "the data plugin fstat() in -S; data plugins run on the nodes: use --dm mc"},
		{[]string{"find", "--dm", "puppetdb", "-S", "role=web"}, "the puppetdb method cannot evaluate compound filters (-S)"},
		{[]string{"rpc", "rpcutil", "ping", "--dm", "ldap"}, `--dm: unknown discovery method "ldap"`},
		{[]string{"find", "--do", "file=x"}, "the mc discovery method takes no options"},
		{[]string{"find", "--dm", "inventory", "--do", "file"}, "want KEY=VALUE"},
		{[]string{"find", "--compare", "mc"}, "want two methods"},
		{[]string{"find", "--compare", "mc,mc"}, "the two methods are the same"},
	}
	for _, tt := range usage {
		dials := 0
		e, _, errOut, cfg := testEnv(t, nil, &dials)
		code := run(context.Background(), e, append(tt.args, "--config", cfg))
		if code != exitUsage || dials != 0 || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("%v: exit %d, %d connections, stderr %q; want exit %d, none, %q", tt.args, code, dials, errOut, exitUsage, tt.want)
		}
	}
	failing := []struct {
		args []string
		want string
	}{
		{[]string{"rpc", "rpcutil", "ping", "--dm", "inventory", "--do", "file=" + bad}, "field fact not found"},
		{[]string{"find", "--dm", "external", "--do", "command=" + testExternal, "--do", "exit=yes"}, "stderr: cannot reach the CMDB"},
		{[]string{"find", "--dm", "external", "--do", "command=" + testExternal, "--do", "hang=yes", "--dt", "1"}, "did not finish within 1s and was killed"},
		{[]string{"rpc", "rpcutil", "ping", "--dm", "puppetdb"}, "cannot query https://puppet:8081/pdb/query/v4"},
	}
	for _, tt := range failing {
		code, out, errOut := sandboxRun(t, tt.args...)
		if code != exitFailure || !strings.Contains(errOut, tt.want) || strings.Contains(errOut, "Discovered") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d with %q", tt.args, code, out, errOut, exitFailure, tt.want)
		}
	}
}
