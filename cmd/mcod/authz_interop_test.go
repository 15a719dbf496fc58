package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/authz"
)

// TestMcoAuthorizationAndAudit runs mcod nodes with rpcauthorization and rpcaudit on, and
// checks with stock mco that a policy allows and denies by action, fact and class, that mco
// shows MCollective's own denial message, and that every request is in the audit log.
func TestMcoAuthorizationAndAudit(t *testing.T) {
	f := newFleet(t)
	policies := filepath.Join(f.dir, "policies")
	if err := os.Mkdir(policies, 0o755); err != nil {
		t.Fatal(err)
	}
	caller := fmt.Sprintf("uid=%d", os.Getuid()) // stock mco's PSK callerid
	write(t, filepath.Join(policies, "rpcutil.policy"), "# test policy\npolicy default deny\n"+
		"allow\tnobody "+caller+"\tping\trole=web\t*\n"+
		"deny\t*\tinventory\t*\t*\n"+
		"allow\tadmins\tget_fact inventory\t*\tbase\n")
	write(t, filepath.Join(policies, "groups"), "admins cert=admin "+caller+"\n")
	extra := func(id string) string {
		return fmt.Sprintf(`rpcauthorization = 1
rpcauthprovider = action_policy
plugin.actionpolicy.policy_dir = %s
rpcaudit = 1
rpcauditprovider = logfile
plugin.rpcaudit.logfile = %s
`, policies, filepath.Join(f.dir, id+".audit"))
	}
	f.start(nodeSpec{identity: "web1", facts: "role: web\n", classes: []string{"base"}, extra: extra("web1")})
	f.start(nodeSpec{identity: "db1", facts: "role: db\n", classes: []string{"base"}, extra: extra("db1")})
	f.start(nodeSpec{identity: "bare", facts: "role: web\n", extra: extra("bare")})

	// rpc runs mco rpc --json, which exits non-zero when a node failed, and returns the
	// replies by sender.
	rpc := func(t *testing.T, args ...string) map[string]rpcReply {
		t.Helper()
		out, errOut, _ := f.mcoRun(t, append([]string{"rpc", "--json"}, args...)...)
		var replies []rpcReply
		if err := json.Unmarshal([]byte(out), &replies); err != nil {
			t.Fatalf("mco rpc %s: bad JSON: %v\n%s\n%s", strings.Join(args, " "), err, out, errOut)
		}
		m := map[string]rpcReply{}
		for _, r := range replies {
			m[r.Sender] = r
		}
		return m
	}
	const ok, denied = 0, 1
	tests := []struct {
		name string
		args []string
		want map[string]int // sender -> status code
	}{
		{"by fact", []string{"rpcutil", "ping"}, map[string]int{"web1": ok, "db1": denied, "bare": ok}},
		{"by class through a group", []string{"rpcutil", "get_fact", "fact=role"}, map[string]int{"web1": ok, "db1": ok, "bare": denied}},
		{"explicit deny first", []string{"rpcutil", "inventory"}, map[string]int{"web1": denied, "db1": denied, "bare": denied}},
		{"by action: default policy", []string{"rpcutil", "collective_info"}, map[string]int{"web1": denied, "db1": denied, "bare": denied}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rpc(t, tt.args...)
			for id, code := range tt.want {
				r, found := got[id]
				switch {
				case !found:
					t.Errorf("%s: no reply from %s: %+v", tt.name, id, got)
				case r.StatusCode != code:
					t.Errorf("%s: %s replied %d %q, want %d", tt.name, id, r.StatusCode, r.StatusMsg, code)
				case code == denied && r.StatusMsg != authz.DeniedMessage:
					t.Errorf("%s: %s statusmsg %q, want %q", tt.name, id, r.StatusMsg, authz.DeniedMessage)
				}
			}
		})
	}

	t.Run("mco prints the denial", func(t *testing.T) {
		out, errOut, err := f.mcoRun(t, "rpc", "rpcutil", "collective_info", "-I", "db1")
		if err == nil || !strings.Contains(out+errOut, authz.DeniedMessage) {
			t.Fatalf("mco rpc: err %v, want a failing exit and %q:\n%s%s", err, authz.DeniedMessage, out, errOut)
		}
	})

	t.Run("discovery is not authorized", func(t *testing.T) {
		got := lines(f.mco(t, "find"))
		slices.Sort(got)
		if !slices.Equal(got, []string{"bare", "db1", "web1"}) {
			t.Fatalf("mco find = %v", got)
		}
	})

	t.Run("audit log", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(f.dir, "db1.audit"))
		if err != nil {
			t.Fatal(err)
		}
		line := regexp.MustCompile(`^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\] reqid=[0-9a-f]{32}: reqtime=\d+ caller=(\S+)@mco-test-client agent=rpcutil action=(\w+) data=(\{.*\}) statuscode=(\d) outcome=(\w+)$`)
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			m := line.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("audit line %q does not match %s", l, line)
			}
			if m[1] != caller || !strings.Contains(m[3], ":process_results=>true") {
				t.Errorf("audit line %q: caller or data wrong", l)
			}
			got = append(got, m[2]+" "+m[4]+" "+m[5])
		}
		for _, want := range []string{"ping 1 denied", "get_fact 0 ok", "inventory 1 denied", "collective_info 1 denied"} {
			if !slices.Contains(got, want) {
				t.Errorf("audit log lacks %q: %q", want, got)
			}
		}
		if !strings.Contains(string(b), `data={:fact=>"role", :process_results=>true}`) {
			t.Errorf("audit log lacks get_fact's data:\n%s", b)
		}
	})
}

// TestSecretsStayOutOfOutput runs a node at debug level and mcorun with --json and --verbose
// against it, and checks that neither the PSK nor the broker password shows up in the
// node's log, its audit log, or anything mcorun prints.
func TestSecretsStayOutOfOutput(t *testing.T) {
	f := newFleet(t)
	f.psk = "psk-" + filepath.Base(f.dir) + "-Zq9"
	audit := filepath.Join(f.dir, "n1.audit")
	f.start(nodeSpec{identity: "n1", facts: "role: web\n", extra: "rpcaudit = 1\nrpcauditprovider = logfile\nplugin.rpcaudit.format = json\nplugin.rpcaudit.logfile = " + audit + "\n"})

	bin := mcorunBinary(t)
	cfg := f.clientConfig(t)
	var printed strings.Builder
	for _, args := range [][]string{
		{"rpc", "rpcutil", "ping", "--json"},
		{"rpc", "rpcutil", "get_config_item", "item=plugin.psk", "--json"},
		{"rpc", "rpcutil", "get_config_item", "item=plugin.rabbitmq.pool.1.password", "--json"},
		{"rpc", "rpcutil", "inventory", "--json", "-v"},
	} {
		cmd := exec.Command(bin, append(args, "--config", cfg)...)
		out, err := cmd.CombinedOutput()
		printed.Write(out)
		if err != nil && strings.Contains(args[2], "ping") {
			t.Fatalf("mcorun %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if !strings.Contains(printed.String(), `"pong"`) {
		t.Fatalf("mcorun printed no ping reply:\n%s", printed.String())
	}
	nodeLog, _ := os.ReadFile(f.logs["n1"])
	auditLog, _ := os.ReadFile(audit)
	if !strings.Contains(string(nodeLog), "level=DEBUG") || len(auditLog) == 0 {
		t.Fatalf("node log not at debug level, or no audit log:\n%s", nodeLog)
	}
	for name, text := range map[string]string{"mcorun output": printed.String(), "mcod log": string(nodeLog), "audit log": string(auditLog)} {
		for _, secret := range []string{f.psk, "secret"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s contains the secret %q:\n%s", name, secret, text)
			}
		}
	}
}
