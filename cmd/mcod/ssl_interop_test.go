package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/security"
	"github.com/mcorun/mcorun/runtime/testenv"
)

// sslKeys is an ssl-provider key layout generated for one test: the shared server key pair,
// a trusted client "alice" whose public key is in the nodes' cert dir, and "mallory", whose
// key is trusted nowhere.
type sslKeys struct {
	serverPrivate, serverPublic, certDir string
	alicePrivate, alicePublic            string
	malloryPrivate, malloryPublic        string
}

func newSSLKeys(t *testing.T, dir string) sslKeys {
	t.Helper()
	gen := func(sub, name string) security.KeyPairFiles {
		f, err := security.GenerateKeyPair(filepath.Join(dir, sub), name, security.KeyRSA)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	srv, alice, mallory := gen("ssl", "server"), gen("alice", "alice"), gen("mallory", "mallory")
	k := sslKeys{
		serverPrivate: srv.Private, serverPublic: srv.Public, certDir: filepath.Join(dir, "ssl", "clients"),
		alicePrivate: alice.Private, alicePublic: alice.Public,
		malloryPrivate: mallory.Private, malloryPublic: mallory.Public,
	}
	b, err := os.ReadFile(alice.Public)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(k.certDir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(k.certDir, "alice.pem"), string(b))
	return k
}

// server is the nodes' ssl configuration; later lines override the fleet's psk setting.
func (k sslKeys) server() string {
	return fmt.Sprintf("securityprovider = ssl\nplugin.ssl_server_private = %s\nplugin.ssl_server_public = %s\nplugin.ssl_client_cert_dir = %s\n",
		k.serverPrivate, k.serverPublic, k.certDir)
}

// client is a client's ssl configuration with the given key pair.
func (k sslKeys) client(private, public string) string {
	return fmt.Sprintf("securityprovider = ssl\nplugin.ssl_server_public = %s\nplugin.ssl_client_private = %s\nplugin.ssl_client_public = %s\n",
		k.serverPublic, private, public)
}

// mcoWith runs stock mco with a client config made of the fleet's common lines and extra.
func (f *fleet) mcoWith(t *testing.T, extra string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	mcoBin := testenv.RequireMCO(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	cfg := filepath.Join(f.dir, "client-"+hex.EncodeToString(b)+".cfg")
	write(t, cfg, f.common()+"identity = mco-test-client\nlibdir = /usr/share/mcollective/plugins\nlogger_type = console\nloglevel = error\n"+extra)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mcoBin, append(args, "--config", cfg)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// TestMcoSSL drives mcod nodes configured with securityprovider = ssl from stock mco, and
// sends them requests that the ssl provider must drop.
func TestMcoSSL(t *testing.T) {
	f := newFleet(t)
	keys := newSSLKeys(t, filepath.Join(f.dir, "keys"))
	f.start(nodeSpec{identity: "sweb1", facts: "role: web\n", classes: []string{"base"}, extra: keys.server()})
	f.start(nodeSpec{identity: "sdb1", facts: "role: db\n", classes: []string{"base"}, extra: keys.server()})
	alice := keys.client(keys.alicePrivate, keys.alicePublic)

	t.Run("ping", func(t *testing.T) {
		out, errOut, err := f.mcoWith(t, alice, "ping")
		if err != nil || !strings.Contains(out, "2 replies max:") {
			t.Fatalf("mco ping: %v\n%s%s", err, out, errOut)
		}
		for _, id := range []string{"sweb1", "sdb1"} {
			if !regexp.MustCompile(`(?m)^` + id + `\s+time=`).MatchString(out) {
				t.Errorf("mco ping: no reply from %s:\n%s", id, out)
			}
		}
	})
	t.Run("rpc get_fact", func(t *testing.T) {
		out, errOut, err := f.mcoWith(t, alice, "rpc", "--json", "rpcutil", "get_fact", "fact=role", "-F", "role=web")
		var r []rpcReply
		if err != nil || json.Unmarshal([]byte(out), &r) != nil || len(r) != 1 || r[0].Sender != "sweb1" || r[0].Data["value"] != "web" {
			t.Fatalf("mco rpc get_fact: %v\n%s%s", err, out, errOut)
		}
	})
	t.Run("caller not in the cert dir", func(t *testing.T) {
		out, errOut, _ := f.mcoWith(t, keys.client(keys.malloryPrivate, keys.malloryPublic), "ping")
		if strings.Contains(out, "sweb1") || strings.Contains(out, "sdb1") {
			t.Fatalf("an untrusted caller got replies:\n%s%s", out, errOut)
		}
		f.waitLog(t, "sweb1", "cert=mallory", 15*time.Second)
	})

	host, port, _ := strings.Cut(f.addr, ":")
	conn, err := connector.Dial(context.Background(), connector.Options{
		Pool:  []connector.Broker{{Host: host, Port: atoi(t, port), User: "mcollective", Password: "secret"}},
		VHost: "/mcollective", Identity: "attacker",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	signer := func(private, public string) security.Provider {
		cfg := config.Defaults("test")
		cfg.SecurityProvider = "ssl"
		cfg.LookupEnv = func(string) (string, bool) { return "", false }
		cfg.Plugin["ssl_client_private"], cfg.Plugin["ssl_client_public"] = private, public
		p, err := security.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	aliceSigner := signer(keys.alicePrivate, keys.alicePublic)
	cases := []struct {
		name    string
		sign    security.Provider
		before  func(*message.Request) // before signing
		after   func(*message.Request) // after signing
		logLine string
	}{
		{"bad signature", aliceSigner, nil, func(r *message.Request) { r.Body = append(r.Body[:len(r.Body):len(r.Body)], '0') }, "security: bad signature on request"},
		{"unknown cert", signer(keys.malloryPrivate, keys.malloryPublic), nil, nil, "security: no trusted key for cert=mallory"},
		{"expired", aliceSigner, func(r *message.Request) { r.MsgTime -= 3600 }, nil, `reason="ttl expired"`},
		{"ttl changed after signing", aliceSigner, func(r *message.Request) { r.MsgTime -= 3600 }, func(r *message.Request) { r.MsgTime += 3600 }, "Message Time does not match"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, err := (&message.RPCRequest{Agent: "rpcutil", Action: "ping", Caller: tc.sign.CallerID(), ProcessResults: true}).Encode()
			if err != nil {
				t.Fatal(err)
			}
			id := make([]byte, 16)
			_, _ = rand.Read(id)
			req := &message.Request{
				Body: body, SenderID: "attacker", RequestID: hex.EncodeToString(id), Collective: f.collective,
				Agent: "rpcutil", CallerID: tc.sign.CallerID(), TTL: 60, MsgTime: time.Now().Unix(),
			}
			if tc.before != nil {
				tc.before(req)
			}
			if err := tc.sign.SignRequest(req); err != nil {
				t.Fatal(err)
			}
			if tc.after != nil {
				tc.after(req)
			}
			b, err := req.Encode()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := conn.Send(ctx, connector.BroadcastDest(f.collective, "rpcutil"), b, connector.SendHeaders{ReplyTo: "/temp-queue/hostile", TTL: time.Minute}); err != nil {
				t.Fatal(err)
			}
			f.waitLog(t, "sdb1", req.RequestID, 15*time.Second)
			f.waitLog(t, "sdb1", tc.logLine, 5*time.Second)
		})
	}
}
