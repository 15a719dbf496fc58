package server

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/audit"
	"github.com/mcorun/mcorun/runtime/authz"
	"github.com/mcorun/mcorun/runtime/message"
)

// TestAuthorizationAndAudit runs requests through a server with an actionpolicy and a JSON
// audit log: allowed, denied by rule, denied by the default policy, denied for want of a
// policy file, and a policy that cannot be parsed. Each gets exactly one reply, and one
// audit line with its outcome.
func TestAuthorizationAndAudit(t *testing.T) {
	dir := t.TempDir()
	policies := filepath.Join(dir, "policies")
	if err := os.Mkdir(policies, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(policies, "tester.policy"), []byte(
		"policy default deny\n"+
			"deny\tuid=0\tghost\t*\t*\n"+
			"allow\tuid=0\techo slow\trole=web\t*\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	auditPath := filepath.Join(dir, "audit.json")
	al, err := audit.New(audit.Options{Path: auditPath, Format: audit.FormatJSON})
	if err != nil {
		t.Fatal(err)
	}
	s, tr, logs := newTestServerWith(t, func(o *Options) {
		o.Authorizer = authz.New(authz.Options{Dir: policies})
		o.Audit = al
	})
	sec := psk(t)

	cases := []struct {
		agent, action string
		data          map[string]any
		code          message.Status
		msg, outcome  string
	}{
		{"tester", "echo", map[string]any{"msg": "hi"}, message.OK, "OK", audit.OutcomeOK},
		{"tester", "ghost", nil, message.Aborted, authz.DeniedMessage, audit.OutcomeDenied},
		{"tester", "boom", nil, message.Aborted, authz.DeniedMessage, audit.OutcomeDenied},
		{"tester", "echo", map[string]any{"msg": "bad input"}, message.InvalidData, "msg", audit.OutcomeFailed},
		{"rpcutil", "ping", nil, message.Aborted, authz.DeniedMessage, audit.OutcomeDenied},
	}
	for _, tc := range cases {
		s.Handle(request(t, sec, tc.agent, tc.action, tc.data, message.Filter{}))
		rr := awaitReply(t, tr)
		if rr.StatusCode != tc.code || !strings.Contains(rr.StatusMsg, tc.msg) {
			t.Errorf("%s#%s: got %v %q, want %v %q", tc.agent, tc.action, rr.StatusCode, rr.StatusMsg, tc.code, tc.msg)
		}
	}
	select {
	case b := <-tr.sent:
		t.Fatalf("extra reply: %q", b)
	case <-time.After(100 * time.Millisecond):
	}
	if strings.Contains(logs.String(), "kaboom") {
		t.Error("a denied action ran")
	}
	for _, want := range []string{`reason="authz: denied: explicit deny rule at`, `reason="authz: denied: no rule matched; policy default`, `no policy file for agent \"rpcutil\"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}

	b, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("%d audit lines, want %d:\n%s", len(lines), len(cases), b)
	}
	for i, l := range lines {
		var r audit.Record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		tc := cases[i]
		if r.Agent != tc.agent || r.Action != tc.action || r.Outcome != tc.outcome || r.StatusCode != int(tc.code) ||
			r.CallerID != "uid=0" || r.SenderID != "c" || r.RequestID == "" || r.Data["process_results"] != true {
			t.Errorf("audit line %d = %s, want %s#%s %s", i, l, tc.agent, tc.action, tc.outcome)
		}
	}

	// A policy file that no longer parses denies everything, and says so in the log.
	if err := os.WriteFile(filepath.Join(policies, "tester.policy"), []byte("policy default allow\nallow uid=0 * * *\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Handle(request(t, sec, "tester", "echo", map[string]any{"msg": "hi"}, message.Filter{}))
	if rr := awaitReply(t, tr); rr.StatusCode != message.Aborted || rr.StatusMsg != authz.DeniedMessage {
		t.Fatalf("unparseable policy: got %v %q", rr.StatusCode, rr.StatusMsg)
	}
	if !strings.Contains(logs.String(), "level=ERROR msg=\"request denied\"") || !strings.Contains(logs.String(), "policy syntax error") {
		t.Errorf("parse error not logged as an error:\n%s", logs)
	}
}
