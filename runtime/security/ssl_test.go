package security

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

// sslFleet holds RSA keys laid out as MCollective's ssl plugin documentation does: a server
// key pair shared by all nodes, and client key pairs whose public keys nodes keep in a
// directory.
type sslFleet struct {
	dir, certDir   string
	serverPrivate  string
	serverPublic   string
	clientPrivates map[string]string
	clientPublics  map[string]string
}

func newSSLFleet(t testing.TB, clients ...string) *sslFleet {
	t.Helper()
	f := &sslFleet{dir: t.TempDir(), clientPrivates: map[string]string{}, clientPublics: map[string]string{}}
	f.certDir = filepath.Join(f.dir, "clients")
	srv, err := GenerateKeyPair(f.dir, "server", KeyRSA)
	if err != nil {
		t.Fatal(err)
	}
	f.serverPrivate, f.serverPublic = srv.Private, srv.Public
	for _, c := range clients {
		k, err := GenerateKeyPair(filepath.Join(f.dir, "home", c), c, KeyRSA)
		if err != nil {
			t.Fatal(err)
		}
		f.clientPrivates[c], f.clientPublics[c] = k.Private, k.Public
		b, _ := os.ReadFile(k.Public)
		if err := os.MkdirAll(f.certDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(f.certDir, c+".pem"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *sslFleet) client(t testing.TB, name string, extra map[string]string) *SSL {
	t.Helper()
	return f.provider(t, map[string]string{
		"ssl_client_private": f.clientPrivates[name], "ssl_client_public": f.clientPublics[name],
		"ssl_server_public": f.serverPublic,
	}, extra)
}

func (f *sslFleet) server(t testing.TB, extra map[string]string) *SSL {
	t.Helper()
	return f.provider(t, map[string]string{
		"ssl_server_private": f.serverPrivate, "ssl_server_public": f.serverPublic,
		"ssl_client_cert_dir": f.certDir,
	}, extra)
}

func (f *sslFleet) provider(t testing.TB, kv, extra map[string]string) *SSL {
	t.Helper()
	cfg := config.Defaults("test.cfg")
	cfg.SecurityProvider = "ssl"
	cfg.LookupEnv = func(string) (string, bool) { return "", false }
	for k, v := range kv {
		cfg.Plugin[k] = v
	}
	for k, v := range extra {
		cfg.Plugin[k] = v
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p.(*SSL)
}

func TestSSLRoundTrip(t *testing.T) {
	f := newSSLFleet(t, "alice")
	cl, node := f.client(t, "alice", nil), f.server(t, nil)
	if cl.CallerID() != "cert=alice" {
		t.Fatalf("CallerID = %q", cl.CallerID())
	}
	req := testRequest(t, cl.CallerID())
	inner := req.Body
	if err := cl.SignRequest(req); err != nil {
		t.Fatal(err)
	}
	// The wire body is ssl.rb's wrapper, and the hash is Base64.encode64 output.
	w, err := marshal.Unmarshal(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := w.(map[any]any)
	if h[marshal.Symbol("ssl_ttl")] != int64(60) || h[marshal.Symbol("ssl_msgtime")] != testNow.Unix() || h[marshal.Symbol("ssl_msg")] == nil {
		t.Fatalf("wire body = %#v", w)
	}
	for _, l := range strings.SplitAfter(req.Hash, "\n") {
		if l != "" && (len(l) > 61 || !strings.HasSuffix(l, "\n")) {
			t.Fatalf("hash %q is not in Base64.encode64 lines", req.Hash)
		}
	}
	got := wire(t, req)
	if err := node.VerifyRequest(got); err != nil {
		t.Fatalf("VerifyRequest: %v", err)
	}
	if string(got.Body) != string(inner) || got.TTL != 60 || got.MsgTime != testNow.Unix() {
		t.Errorf("unwrapped request: body %q ttl %d msgtime %d; want body %q", got.Body, got.TTL, got.MsgTime, inner)
	}

	rep := &message.Reply{SenderID: "web1", RequestID: req.RequestID, SenderAgent: "rpcutil", MsgTime: testNow.Unix(), Body: inner}
	if err := node.SignReply(rep); err != nil {
		t.Fatal(err)
	}
	if err := cl.VerifyReply(rep); err != nil {
		t.Fatalf("VerifyReply: %v", err)
	}
	rep.Body = []byte("tampered")
	if err := cl.VerifyReply(rep); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("VerifyReply of a tampered reply = %v", err)
	}
}

func TestSSLRefusals(t *testing.T) {
	f := newSSLFleet(t, "alice", "bob")
	eve := newSSLFleet(t, "alice") // same name, other key
	cl := f.client(t, "alice", nil)
	signed := func(t *testing.T, p *SSL, mutate func(*message.Request)) *message.Request {
		t.Helper()
		req := testRequest(t, p.CallerID())
		if err := p.SignRequest(req); err != nil {
			t.Fatal(err)
		}
		got := wire(t, req)
		if mutate != nil {
			mutate(got)
		}
		return got
	}
	tests := []struct {
		name  string
		req   func(t *testing.T) *message.Request
		extra map[string]string
		want  error
	}{
		{"bad signature", func(t *testing.T) *message.Request {
			return signed(t, cl, func(r *message.Request) {
				raw, _ := base64.StdEncoding.DecodeString(strings.ReplaceAll(r.Hash, "\n", ""))
				raw[len(raw)/2] ^= 1
				r.Hash = encode64(raw)
			})
		}, nil, ErrBadSignature},
		{"foreign key with a trusted name", func(t *testing.T) *message.Request { return signed(t, eve.client(t, "alice", nil), nil) }, nil, ErrBadSignature},
		{"body changed", func(t *testing.T) *message.Request {
			return signed(t, cl, func(r *message.Request) { r.Body = append(r.Body[:len(r.Body)-1:len(r.Body)-1], 0) })
		}, nil, ErrBadSignature},
		{"other trusted callerid", func(t *testing.T) *message.Request {
			return signed(t, cl, func(r *message.Request) { r.CallerID = "cert=bob" })
		}, nil, ErrBadSignature},
		{"unknown cert", func(t *testing.T) *message.Request {
			return signed(t, cl, func(r *message.Request) { r.CallerID = "cert=carol" })
		}, nil, ErrUnknownCaller},
		{"not a cert callerid", func(t *testing.T) *message.Request {
			return signed(t, cl, func(r *message.Request) { r.CallerID = "uid=0" })
		}, nil, ErrBadCallerID},
		{"ttl changed", func(t *testing.T) *message.Request {
			return signed(t, cl, func(r *message.Request) { r.TTL = 3600 })
		}, nil, ErrBadSignature},
		{"msgtime changed", func(t *testing.T) *message.Request {
			return signed(t, cl, func(r *message.Request) { r.MsgTime += 3600 })
		}, nil, ErrBadSignature},
		{"ttl changed, enforce_ttl = 0", func(t *testing.T) *message.Request {
			return signed(t, cl, func(r *message.Request) { r.TTL = 3600 })
		}, map[string]string{"ssl.enforce_ttl": "0"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := f.server(t, tt.extra)
			req := tt.req(t)
			err := node.VerifyRequest(req)
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("VerifyRequest = %v; want %v", err, tt.want)
			}
			if err == nil && req.TTL != 60 {
				t.Errorf("accepted request ttl %d; want the signed 60", req.TTL)
			}
		})
	}
}

// TestSSLLegacyBody checks ssl.rb's handling of a signed body without the ssl wrapper:
// accepted when plugin.ssl.enforce_ttl is unset, refused when it is set.
func TestSSLLegacyBody(t *testing.T) {
	f := newSSLFleet(t, "alice")
	cl := f.client(t, "alice", nil)
	req := testRequest(t, cl.CallerID())
	req.Body, _ = marshal.Marshal("ping")
	sig, err := rsaSign(cl.clientPriv, req.Body)
	if err != nil {
		t.Fatal(err)
	}
	req.Hash = sig
	if err := f.server(t, nil).VerifyRequest(wire(t, req)); err != nil {
		t.Fatalf("legacy body, enforce_ttl unset: %v", err)
	}
	if err := f.server(t, map[string]string{"ssl.enforce_ttl": "1"}).VerifyRequest(wire(t, req)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("legacy body, enforce_ttl = 1: %v", err)
	}
}

func TestSSLConfig(t *testing.T) {
	f := newSSLFleet(t, "alice")
	// PKCS#1 keys, as openssl genrsa writes them, and a certificate-free PKCS#1 public key.
	k, err := loadRSAPrivate(f.clientPrivates["alice"])
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := filepath.Join(f.dir, "pkcs1-private.pem")
	if err := os.WriteFile(pkcs1, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600); err != nil {
		t.Fatal(err)
	}
	pub1 := filepath.Join(f.certDir, "pkcs1.pem")
	if err := os.WriteFile(pub1, pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.PublicKey)}), 0o644); err != nil {
		t.Fatal(err)
	}
	cl := f.provider(t, map[string]string{"ssl_client_private": pkcs1, "ssl_client_public": pub1}, nil)
	req := testRequest(t, cl.CallerID())
	if err := cl.SignRequest(req); err != nil {
		t.Fatal(err)
	}
	if err := f.server(t, nil).VerifyRequest(wire(t, req)); err != nil {
		t.Fatalf("PKCS#1 keys: %v", err)
	}

	worldReadable := filepath.Join(f.dir, "open-private.pem")
	b, _ := os.ReadFile(pkcs1)
	if err := os.WriteFile(worldReadable, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(worldReadable, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		kv   map[string]string
		want string
	}{
		{"yaml serializer", map[string]string{"ssl_serializer": "yaml"}, "ssl_serializer"},
		{"world-readable key", map[string]string{"ssl_server_private": worldReadable}, "chmod"},
		{"missing public", map[string]string{"ssl_server_public": filepath.Join(f.dir, "nope.pem")}, "no such file"},
		{"ed25519 key as rsa", map[string]string{"ssl_server_public": func() string {
			e, _ := GenerateKeyPair(t.TempDir(), "e", KeyEd25519)
			return e.Public
		}()}, "not an RSA public key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Defaults("test.cfg")
			cfg.SecurityProvider = "ssl"
			for k, v := range tt.kv {
				cfg.Plugin[k] = v
			}
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v; want an error containing %q", err, tt.want)
			}
		})
	}
	// A role's key that is not configured fails at use, saying what to set.
	node := f.server(t, nil)
	if err := node.SignRequest(testRequest(t, "cert=x")); err == nil || !strings.Contains(err.Error(), "plugin.ssl_client_private") {
		t.Errorf("SignRequest without a client key = %v", err)
	}
	cl = f.client(t, "alice", nil)
	if err := cl.SignReply(&message.Reply{}); err == nil || !strings.Contains(err.Error(), "plugin.ssl_server_private") {
		t.Errorf("SignReply without a server key = %v", err)
	}
}

func TestEncode64(t *testing.T) {
	// Ruby's Base64.encode64 of "a" * 50 and of "b" * 100.
	for in, want := range map[string]string{
		strings.Repeat("a", 50):  "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh\nYWFhYWE=\n",
		strings.Repeat("b", 100): "YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJi\nYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJi\nYmJiYmJiYmJiYg==\n",
	} {
		if got := encode64([]byte(in)); got != want {
			t.Errorf("encode64 = %q; want %q", got, want)
		}
	}
}

// TestSSLEnforceTTLIsBoolean checks that plugin.ssl.enforce_ttl reads like every boolean
// setting: false turns enforcement off as 0 does, and a typo is refused naming the key.
func TestSSLEnforceTTLIsBoolean(t *testing.T) {
	f := newSSLFleet(t, "alice")
	if p := f.server(t, map[string]string{"ssl.enforce_ttl": "false"}); p.enforceTTL || p.legacyOK {
		t.Errorf("enforce_ttl = false: enforce %t, legacy %t; want neither", p.enforceTTL, p.legacyOK)
	}
	if p := f.server(t, map[string]string{"ssl.enforce_ttl": "Yes"}); !p.enforceTTL || p.legacyOK {
		t.Errorf("enforce_ttl = Yes: enforce %t, legacy %t; want enforced", p.enforceTTL, p.legacyOK)
	}
	cfg := config.Defaults("test.cfg")
	cfg.SecurityProvider = "ssl"
	cfg.LookupEnv = func(string) (string, bool) { return "", false }
	cfg.Plugin["ssl_server_private"], cfg.Plugin["ssl_server_public"] = f.serverPrivate, f.serverPublic
	cfg.Plugin["ssl_client_cert_dir"] = f.certDir
	cfg.Plugin["ssl.enforce_ttl"] = "nope"
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "ssl.enforce_ttl") {
		t.Errorf("enforce_ttl = nope: err %v, want a refusal naming the key", err)
	}
}
