package security

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

// edStore is a test key layout: every key pair in keys/, trusted public keys copied into
// clients/ and servers/.
type edStore struct {
	dir string
}

func newEdStore(t testing.TB) *edStore {
	t.Helper()
	s := &edStore{dir: t.TempDir()}
	for _, d := range []string{"keys", "clients", "servers"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// key generates name's key pair and copies the public key into each trust store in trust.
func (s *edStore) key(t testing.TB, name string, trust ...string) KeyPairFiles {
	t.Helper()
	f, err := GenerateKeyPair(filepath.Join(s.dir, "keys"), name, KeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.Public)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range trust {
		if err := os.WriteFile(filepath.Join(s.dir, d, name+".pub"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// provider returns an ed25519 provider using name's private key, with a fixed clock at now.
func (s *edStore) provider(t testing.TB, name string, now time.Time, extra map[string]string) *Ed25519 {
	t.Helper()
	cfg := config.Defaults("test.cfg")
	cfg.SecurityProvider = "ed25519"
	cfg.Plugin["ed25519.key"] = filepath.Join(s.dir, "keys", name+".key")
	cfg.Plugin["ed25519.trusted_clients"] = filepath.Join(s.dir, "clients")
	cfg.Plugin["ed25519.trusted_servers"] = filepath.Join(s.dir, "servers")
	for k, v := range extra {
		cfg.Plugin[k] = v
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ep := p.(*Ed25519)
	ep.now = func() time.Time { return now }
	return ep
}

var testNow = time.Unix(1_750_000_000, 0)

// testRequest is a request with every envelope field and a filter of every kind.
func testRequest(t testing.TB, callerID string) *message.Request {
	t.Helper()
	body, err := (&message.RPCRequest{Agent: "rpcutil", Action: "ping", Caller: callerID, Data: map[string]any{}, ProcessResults: true}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	return &message.Request{
		Body: body, SenderID: "client1", RequestID: "0123456789abcdef0123456789abcdef",
		Collective: "mcollective", Agent: "rpcutil", CallerID: callerID, TTL: 60, MsgTime: testNow.Unix(),
		Filter: message.Filter{
			Fact:     []message.FactFilter{{Fact: "role", Value: "web", Operator: "=="}},
			CFClass:  []string{"base"},
			Agent:    []string{"rpcutil"},
			Identity: []string{"/^web/"},
			Compound: [][]message.CompoundItem{{
				{Kind: message.Statement, Value: "rack=r1"},
				{Kind: message.And},
				{Kind: message.FStatement, Func: &message.DataCall{Name: "fstat", Params: "/etc/hosts", Value: "size", Operator: ">=", RCompare: "1"}},
				{Kind: message.Or},
				{Kind: message.FStatement, Func: &message.DataCall{Name: "fact", Params: "role", Value: "value", Operator: "=~", RCompare: marshal.Regexp{Source: "^w"}}},
			}},
		},
	}
}

// wire encodes and decodes req as a node receives it.
func wire(t *testing.T, req *message.Request) *message.Request {
	t.Helper()
	b, err := req.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := message.DecodeRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestEd25519RequestRoundTrip(t *testing.T) {
	s := newEdStore(t)
	s.key(t, "alice", "clients")
	s.key(t, "web1", "servers")
	cl := s.provider(t, "alice", testNow, nil)
	node := s.provider(t, "web1", testNow.Add(2*time.Second), nil)

	req := testRequest(t, cl.CallerID())
	if cl.CallerID() != "ed25519=alice" {
		t.Fatalf("CallerID = %q", cl.CallerID())
	}
	if err := cl.SignRequest(req); err != nil {
		t.Fatal(err)
	}
	got := wire(t, req)
	if err := node.VerifyRequest(got); err != nil {
		t.Fatalf("VerifyRequest: %v", err)
	}
	if got.CallerID != "ed25519=alice" || got.TTL != 60 || string(got.Body) != string(req.Body) {
		t.Errorf("verified request changed: %+v", got)
	}

	rep := &message.Reply{SenderID: "web1", RequestID: req.RequestID, SenderAgent: "rpcutil", MsgTime: testNow.Unix(), Body: []byte("\x04\bI\"\tpong\x06:\x06ET"), CallerID: got.CallerID}
	if err := node.SignReply(rep); err != nil {
		t.Fatal(err)
	}
	b, err := rep.Encode()
	if err != nil {
		t.Fatal(err)
	}
	rgot, err := message.DecodeReply(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.VerifyReply(rgot); err != nil {
		t.Fatalf("VerifyReply: %v", err)
	}
}

// TestEd25519TamperedRequests changes one signed field of a captured valid request at a
// time; each change must fail the signature check.
func TestEd25519TamperedRequests(t *testing.T) {
	s := newEdStore(t)
	s.key(t, "alice", "clients")
	s.key(t, "bob", "clients") // a trusted name, so a changed callerid fails on the signature
	s.key(t, "web1")
	cl := s.provider(t, "alice", testNow, nil)

	tests := []struct {
		name   string
		mutate func(*message.Request)
	}{
		{"callerid", func(r *message.Request) { r.CallerID = "ed25519=bob" }},
		{"filter identity", func(r *message.Request) { r.Filter.Identity = []string{"/./"} }},
		{"filter dropped", func(r *message.Request) { r.Filter = message.Filter{} }},
		{"filter fact value", func(r *message.Request) { r.Filter.Fact[0].Value = "db" }},
		{"filter fstatement", func(r *message.Request) { r.Filter.Compound[0][2].Func.RCompare = "0" }},
		{"filter compound operator", func(r *message.Request) { r.Filter.Compound[0][1].Kind = message.Or }},
		{"ttl", func(r *message.Request) { r.TTL = 120 }},
		{"msgtime", func(r *message.Request) { r.MsgTime++ }},
		{"body", func(r *message.Request) { r.Body = append([]byte(nil), r.Body...); r.Body[len(r.Body)-1] ^= 1 }},
		{"senderid", func(r *message.Request) { r.SenderID = "client2" }},
		{"requestid", func(r *message.Request) { r.RequestID = "f" + r.RequestID[1:] }},
		{"agent", func(r *message.Request) { r.Agent = "puppet" }},
		{"collective", func(r *message.Request) { r.Collective = "other" }},
		{"hash truncated", func(r *message.Request) { r.Hash = r.Hash[:len(r.Hash)-4] }},
		{"hash empty", func(r *message.Request) { r.Hash = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := s.provider(t, "web1", testNow, nil)
			req := testRequest(t, cl.CallerID())
			if err := cl.SignRequest(req); err != nil {
				t.Fatal(err)
			}
			got := wire(t, req)
			tt.mutate(got)
			got = wire(t, got)
			err := node.VerifyRequest(got)
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("VerifyRequest after changing %s = %v; want ErrBadSignature", tt.name, err)
			}
		})
	}
}

func TestEd25519Replay(t *testing.T) {
	s := newEdStore(t)
	s.key(t, "alice", "clients")
	s.key(t, "web1")
	cl := s.provider(t, "alice", testNow, nil)
	node := s.provider(t, "web1", testNow, nil)
	req := testRequest(t, cl.CallerID())
	if err := cl.SignRequest(req); err != nil {
		t.Fatal(err)
	}
	if err := node.VerifyRequest(wire(t, req)); err != nil {
		t.Fatal(err)
	}
	for _, after := range []time.Duration{0, time.Second, 89 * time.Second} {
		node.now = func() time.Time { return testNow.Add(after) }
		if err := node.VerifyRequest(wire(t, req)); !errors.Is(err, ErrReplay) {
			t.Fatalf("replay after %v = %v; want ErrReplay", after, err)
		}
	}
	// Once ttl + skew is over the id is forgotten, and the request is refused as expired.
	node.now = func() time.Time { return testNow.Add(91 * time.Second) }
	if err := node.VerifyRequest(wire(t, req)); !errors.Is(err, ErrExpired) {
		t.Fatalf("replay after expiry = %v; want ErrExpired", err)
	}
	// The next accepted request evicts the expired id.
	fresh := testRequest(t, cl.CallerID())
	fresh.RequestID, fresh.MsgTime = "fedcba9876543210fedcba9876543210", testNow.Add(91*time.Second).Unix()
	if err := cl.SignRequest(fresh); err != nil {
		t.Fatal(err)
	}
	if err := node.VerifyRequest(wire(t, fresh)); err != nil {
		t.Fatal(err)
	}
	if n := node.replay.len(); n != 1 {
		t.Errorf("replay cache holds %d ids after expiry; want 1", n)
	}
}

func TestEd25519ValidityWindow(t *testing.T) {
	s := newEdStore(t)
	s.key(t, "alice", "clients")
	s.key(t, "web1")
	cl := s.provider(t, "alice", testNow, nil)
	tests := []struct {
		name    string
		nodeAt  time.Duration // node clock relative to the client's
		ttl     int64
		extra   map[string]string
		wantErr error
	}{
		{"node clock behind within skew", -30 * time.Second, 60, nil, nil},
		{"node clock behind beyond skew", -31 * time.Second, 60, nil, ErrExpired},
		{"custom skew", -90 * time.Second, 60, map[string]string{"ed25519.clock_skew": "120"}, nil},
		{"old within ttl+skew", 90 * time.Second, 60, nil, nil},
		{"old beyond ttl+skew", 91 * time.Second, 60, nil, ErrExpired},
		{"ttl above max", 0, 3601, nil, ErrExpired},
		{"ttl at custom max", 0, 7200, map[string]string{"ed25519.max_ttl": "7200"}, nil},
		{"negative ttl", 0, -1, nil, ErrExpired},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := s.provider(t, "web1", testNow.Add(tt.nodeAt), tt.extra)
			req := testRequest(t, cl.CallerID())
			req.RequestID = fmt.Sprintf("%032x", i)
			req.TTL = tt.ttl
			if err := cl.SignRequest(req); err != nil {
				t.Fatal(err)
			}
			err := node.VerifyRequest(wire(t, req))
			if (tt.wantErr == nil) != (err == nil) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("VerifyRequest = %v; want %v", err, tt.wantErr)
			}
		})
	}
}

func TestEd25519ForeignKeys(t *testing.T) {
	s := newEdStore(t)
	s.key(t, "alice", "clients")
	s.key(t, "web1", "servers")
	s.key(t, "mallory") // trusted nowhere
	node := s.provider(t, "web1", testNow, nil)
	cl := s.provider(t, "alice", testNow, nil)

	t.Run("untrusted caller", func(t *testing.T) {
		m := s.provider(t, "mallory", testNow, nil)
		req := testRequest(t, m.CallerID())
		if err := m.SignRequest(req); err != nil {
			t.Fatal(err)
		}
		if err := node.VerifyRequest(wire(t, req)); !errors.Is(err, ErrUnknownCaller) {
			t.Fatalf("VerifyRequest = %v; want ErrUnknownCaller", err)
		}
	})
	t.Run("foreign key claiming a trusted name", func(t *testing.T) {
		m := s.provider(t, "mallory", testNow, map[string]string{"ed25519.name": "alice"})
		req := testRequest(t, m.CallerID())
		if err := m.SignRequest(req); err != nil {
			t.Fatal(err)
		}
		if err := node.VerifyRequest(wire(t, req)); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("VerifyRequest = %v; want ErrBadSignature", err)
		}
	})
	t.Run("other providers' callerids", func(t *testing.T) {
		for _, id := range []string{"uid=0", "cert=alice", "ed25519=../clients/alice", "ed25519=.hidden", "ed25519="} {
			req := testRequest(t, id)
			req.Hash = strings.Repeat("A", 86) + "=="
			if err := node.VerifyRequest(req); !errors.Is(err, ErrBadCallerID) && !errors.Is(err, ErrUnknownCaller) {
				t.Errorf("VerifyRequest(callerid %q) = %v", id, err)
			}
		}
	})
	t.Run("reply forged by an untrusted server", func(t *testing.T) {
		m := s.provider(t, "mallory", testNow, map[string]string{"ed25519.name": "web1"})
		rep := &message.Reply{SenderID: "web1", RequestID: "r1", SenderAgent: "rpcutil", MsgTime: testNow.Unix(), Body: []byte("x"), CallerID: cl.CallerID()}
		if err := m.SignReply(rep); err != nil {
			t.Fatal(err)
		}
		if err := cl.VerifyReply(rep); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("VerifyReply = %v; want ErrBadSignature", err)
		}
		rep.SenderID = "mallory"
		if err := m.SignReply(rep); err != nil {
			t.Fatal(err)
		}
		if err := cl.VerifyReply(rep); !errors.Is(err, ErrUnknownCaller) {
			t.Fatalf("VerifyReply = %v; want ErrUnknownCaller", err)
		}
	})
	t.Run("reply to another caller's request", func(t *testing.T) {
		s.key(t, "bob", "clients")
		bob := s.provider(t, "bob", testNow, nil)
		// A genuine node reply to bob's request, reusing a requestid alice waits on, must
		// not verify for alice.
		rep := &message.Reply{SenderID: "web1", RequestID: "r1", SenderAgent: "rpcutil", MsgTime: testNow.Unix(), Body: []byte("x"), CallerID: bob.CallerID()}
		if err := node.SignReply(rep); err != nil {
			t.Fatal(err)
		}
		if err := bob.VerifyReply(rep); err != nil {
			t.Fatalf("bob's own reply: %v", err)
		}
		if err := cl.VerifyReply(rep); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("alice verified a reply to bob's request: %v", err)
		}
	})
	t.Run("reply without the request's caller", func(t *testing.T) {
		rep := &message.Reply{SenderID: "web1", RequestID: "r1", SenderAgent: "rpcutil", MsgTime: testNow.Unix(), Body: []byte("x")}
		if err := node.SignReply(rep); err == nil {
			t.Fatal("signed a reply that names no caller")
		}
	})
	t.Run("tampered reply", func(t *testing.T) {
		rep := &message.Reply{SenderID: "web1", RequestID: "r1", SenderAgent: "rpcutil", MsgTime: testNow.Unix(), Body: []byte("x"), CallerID: cl.CallerID()}
		if err := node.SignReply(rep); err != nil {
			t.Fatal(err)
		}
		for _, mutate := range []func(*message.Reply){
			func(r *message.Reply) { r.Body = []byte("y") },
			func(r *message.Reply) { r.RequestID = "r2" },
			func(r *message.Reply) { r.SenderAgent = "puppet" },
			func(r *message.Reply) { r.MsgTime++ },
		} {
			c := *rep
			mutate(&c)
			if err := cl.VerifyReply(&c); !errors.Is(err, ErrBadSignature) {
				t.Errorf("VerifyReply(%+v) = %v; want ErrBadSignature", c, err)
			}
		}
	})
}

func TestEd25519Config(t *testing.T) {
	s := newEdStore(t)
	f := s.key(t, "alice")
	open := s.key(t, "bob")
	cfg := func(kv ...string) *config.Config {
		c := config.Defaults("test.cfg")
		c.SecurityProvider = "ed25519"
		for i := 0; i+1 < len(kv); i += 2 {
			c.Plugin[kv[i]] = kv[i+1]
		}
		return c
	}
	if err := os.Chmod(open.Private, 0o640); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  *config.Config
		want string
	}{
		{"no key", cfg(), "set plugin.ed25519.key"},
		{"group-readable key", cfg("ed25519.key", open.Private), "chmod 0600"},
		{"missing key file", cfg("ed25519.key", filepath.Join(s.dir, "nope.key")), "no such file"},
		{"public key as private", cfg("ed25519.key", f.Public), "must not be readable"},
		{"bad skew", cfg("ed25519.key", f.Private, "ed25519.clock_skew", "-1"), "clock_skew"},
		{"unknown provider", func() *config.Config { c := cfg(); c.SecurityProvider = "aes"; return c }(), "psk, ssl or ed25519"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestNoSecretsInOutput formats every provider and provokes its errors, and checks that no
// private key material appears anywhere.
func TestNoSecretsInOutput(t *testing.T) {
	s := newEdStore(t)
	f := s.key(t, "alice", "clients")
	s.key(t, "web1")
	cl := s.provider(t, "alice", testNow, nil)
	node := s.provider(t, "web1", testNow, nil)
	pemBytes, err := os.ReadFile(f.Private)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{string(cl.priv.Seed()), hex.EncodeToString(cl.priv.Seed()), base64.StdEncoding.EncodeToString(cl.priv.Seed())}
	for _, l := range strings.Split(string(pemBytes), "\n") {
		if len(l) > 16 && !strings.HasPrefix(l, "-----") {
			secrets = append(secrets, l)
		}
	}
	sslDir := t.TempDir()
	rsaFiles, err := GenerateKeyPair(sslDir, "alice", KeyRSA)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM, _ := os.ReadFile(rsaFiles.Private)
	for _, l := range strings.Split(string(rsaPEM), "\n") {
		if len(l) > 16 && !strings.HasPrefix(l, "-----") {
			secrets = append(secrets, l)
		}
	}
	sc := config.Defaults("test.cfg")
	sc.Plugin["ssl_client_private"] = rsaFiles.Private
	sc.Plugin["ssl_client_public"] = rsaFiles.Public
	sslp, err := NewSSL(sc)
	if err != nil {
		t.Fatal(err)
	}

	var out []string
	for _, v := range []any{cl, *cl, sslp, *sslp} {
		out = append(out, fmt.Sprintf("%v|%+v|%#v|%s|%q|%x", v, v, v, v, v, v))
	}
	// A corrupted key file: its error must not quote the contents.
	bad := filepath.Join(s.dir, "keys", "bad.key")
	corrupt := strings.Replace(string(pemBytes), "M", "!", 1)
	if err := os.WriteFile(bad, []byte(corrupt), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []map[string]string{{"ed25519.key": bad}, {"ssl_client_private": bad}} {
		cfg := config.Defaults("test.cfg")
		cfg.SecurityProvider = "ed25519"
		if _, ok := c["ssl_client_private"]; ok {
			cfg.SecurityProvider = "ssl"
		}
		for k, v := range c {
			cfg.Plugin[k] = v
		}
		_, err := New(cfg)
		if err == nil {
			t.Fatalf("New with a corrupt key succeeded")
		}
		out = append(out, err.Error())
	}
	req := testRequest(t, cl.CallerID())
	if err := cl.SignRequest(req); err != nil {
		t.Fatal(err)
	}
	req.TTL++
	out = append(out, fmt.Sprint(node.VerifyRequest(req)), fmt.Sprint(cl.VerifyReply(&message.Reply{SenderID: "web1"})))
	all := strings.Join(out, "\n")
	for _, sec := range secrets {
		if strings.Contains(all, sec) {
			t.Fatalf("output shows key material %q:\n%s", sec, all)
		}
	}
}

func TestReplayCacheBound(t *testing.T) {
	c := newReplayCache(2)
	for _, id := range []string{"a", "b"} {
		if ok, err := c.add(id, 100, 0); !ok || err != nil {
			t.Fatalf("add(%s) = %v, %v", id, ok, err)
		}
	}
	if ok, err := c.add("a", 100, 50); ok || err != nil {
		t.Fatalf("add(a) again = %v, %v; want a duplicate", ok, err)
	}
	if ok, err := c.add("c", 100, 50); ok || err == nil {
		t.Fatalf("add(c) to a full cache = %v, %v; want an error", ok, err)
	}
	if ok, err := c.add("c", 200, 101); !ok || err != nil || c.len() != 1 {
		t.Fatalf("add(c) after expiry = %v, %v (len %d)", ok, err, c.len())
	}
}

func TestGenerateKeyPair(t *testing.T) {
	dir := t.TempDir()
	for _, typ := range []KeyType{KeyEd25519, KeyRSA} {
		f, err := GenerateKeyPair(dir, "n1", typ)
		if err != nil {
			t.Fatal(err)
		}
		for p, want := range map[string]os.FileMode{f.Private: 0o600, f.Public: 0o644} {
			fi, err := os.Stat(p)
			if err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: mode %v, err %v; want %v", p, fi.Mode().Perm(), err, want)
			}
		}
		if _, err := GenerateKeyPair(dir, "n1", typ); err == nil {
			t.Errorf("%s: overwrote an existing key", typ)
		}
	}
	if _, err := GenerateKeyPair(dir, "../x", KeyEd25519); err == nil {
		t.Error("accepted name ../x")
	}
	if _, err := GenerateKeyPair(dir, "x", "dsa"); err == nil {
		t.Error("accepted type dsa")
	}
}

// TestEd25519DirectedTargets checks that a directed request's target list is signed: the
// request verifies with the list it was signed with, and fails the signature check when the
// list is re-aimed at another node, stripped (so it would pass as a broadcast), or added to
// a broadcast.
func TestEd25519DirectedTargets(t *testing.T) {
	s := newEdStore(t)
	s.key(t, "alice", "clients")
	s.key(t, "web1")
	cl := s.provider(t, "alice", testNow, nil)
	directed := func(t *testing.T, targets ...string) *message.Request {
		t.Helper()
		req := testRequest(t, cl.CallerID())
		req.Filter = message.Filter{Agent: []string{"rpcutil"}} // as a forced directed call sends it
		req.Targets = targets
		if err := cl.SignRequest(req); err != nil {
			t.Fatal(err)
		}
		return wire(t, req)
	}

	t.Run("signed list", func(t *testing.T) {
		got := directed(t, "web1", "web2")
		if err := s.provider(t, "web1", testNow, nil).VerifyRequest(got); err != nil {
			t.Fatalf("VerifyRequest = %v", err)
		}
		if strings.Join(got.Targets, ",") != "web1,web2" {
			t.Errorf("Targets = %q; want web1,web2", got.Targets)
		}
	})
	for _, tt := range []struct {
		name    string
		targets []string // signed
		mutate  func(*message.Request)
	}{
		{"retargeted", []string{"web1"}, func(r *message.Request) { r.Targets = []string{"web2"} }},
		{"target added", []string{"web1"}, func(r *message.Request) { r.Targets = append(r.Targets, "web2") }},
		{"reordered", []string{"web1", "web2"}, func(r *message.Request) { r.Targets = []string{"web2", "web1"} }},
		{"stripped to a broadcast", []string{"web1"}, func(r *message.Request) { r.Targets = nil }},
		{"broadcast given a list", nil, func(r *message.Request) { r.Targets = []string{"web1"} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := directed(t, tt.targets...)
			tt.mutate(got)
			got = wire(t, got)
			if err := s.provider(t, "web1", testNow, nil).VerifyRequest(got); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("VerifyRequest with targets %q signed as %q = %v; want ErrBadSignature", got.Targets, tt.targets, err)
			}
		})
	}
}

// TestEd25519ExtremeMsgTime checks that a signed message time far in the past cannot make
// the age computation overflow: such a request would otherwise pass as fresh, be forgotten
// by the replay cache at once, and be replayable for ever.
func TestEd25519ExtremeMsgTime(t *testing.T) {
	s := newEdStore(t)
	s.key(t, "alice", "clients")
	s.key(t, "web1")
	cl := s.provider(t, "alice", testNow, nil)
	node := s.provider(t, "web1", testNow, nil)
	for i, mt := range []int64{math.MinInt64, math.MinInt64 + testNow.Unix() - 1, -1} {
		req := testRequest(t, cl.CallerID())
		req.RequestID = fmt.Sprintf("%032x", i+100)
		req.MsgTime = mt
		if err := cl.SignRequest(req); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := node.VerifyRequest(wire(t, req)); !errors.Is(err, ErrExpired) {
				t.Fatalf("msgtime %d: VerifyRequest = %v; want ErrExpired", mt, err)
			}
		}
	}
}

// TestEd25519RequestIDLength checks that a trusted caller cannot fill a node's memory through
// the replay cache with huge request ids: an over-long id is refused and not remembered.
func TestEd25519RequestIDLength(t *testing.T) {
	s := newEdStore(t)
	s.key(t, "alice", "clients")
	s.key(t, "web1")
	cl := s.provider(t, "alice", testNow, nil)
	node := s.provider(t, "web1", testNow, nil)
	req := testRequest(t, cl.CallerID())
	req.RequestID = strings.Repeat("a", maxRequestIDLen+1)
	if err := cl.SignRequest(req); err != nil {
		t.Fatal(err)
	}
	if err := node.VerifyRequest(wire(t, req)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("VerifyRequest with a %d-byte request id = %v; want ErrBadSignature", len(req.RequestID), err)
	}
	if n := node.replay.len(); n != 0 {
		t.Errorf("replay cache holds %d ids; want 0", n)
	}
	req = testRequest(t, cl.CallerID())
	req.RequestID = strings.Repeat("a", maxRequestIDLen)
	if err := cl.SignRequest(req); err != nil {
		t.Fatal(err)
	}
	if err := node.VerifyRequest(wire(t, req)); err != nil {
		t.Fatalf("VerifyRequest with a %d-byte request id = %v", len(req.RequestID), err)
	}
}

// TestEd25519WritableTrustStore checks that a trusted key that others could have put there or
// changed is not trusted: a .pub file or a trust store directory writable by group or others.
func TestEd25519WritableTrustStore(t *testing.T) {
	s := newEdStore(t)
	s.key(t, "alice", "clients")
	s.key(t, "web1")
	cl := s.provider(t, "alice", testNow, nil)
	pub := filepath.Join(s.dir, "clients", "alice.pub")
	dir := filepath.Join(s.dir, "clients")
	for i, tc := range []struct {
		path string
		mode os.FileMode
	}{{pub, 0o666}, {pub, 0o664}, {dir, 0o777}, {dir, 0o775}} {
		t.Run(fmt.Sprintf("%s %04o", filepath.Base(tc.path), tc.mode), func(t *testing.T) {
			fi, err := os.Stat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(tc.path, tc.mode); err != nil {
				t.Fatal(err)
			}
			defer os.Chmod(tc.path, fi.Mode().Perm())
			req := testRequest(t, cl.CallerID())
			req.RequestID = fmt.Sprintf("%032x", i+200)
			if err := cl.SignRequest(req); err != nil {
				t.Fatal(err)
			}
			if err := s.provider(t, "web1", testNow, nil).VerifyRequest(wire(t, req)); !errors.Is(err, ErrUnknownCaller) {
				t.Fatalf("VerifyRequest = %v; want ErrUnknownCaller", err)
			}
		})
	}
}
