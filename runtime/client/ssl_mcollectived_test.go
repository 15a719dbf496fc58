package client

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/security"
	"github.com/mcorun/mcorun/runtime/testenv"
)

// TestStockMcollectivedSSL drives stock mcollectived nodes configured with securityprovider =
// ssl from this client with the ssl provider: the nodes verify the client's RSA signatures,
// the client verifies the nodes' reply signatures, and an untrusted caller gets nothing.
func TestStockMcollectivedSSL(t *testing.T) {
	dir := t.TempDir()
	gen := func(name string) security.KeyPairFiles {
		f, err := security.GenerateKeyPair(dir, name, security.KeyRSA)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	server, alice, mallory := gen("server"), gen("alice"), gen("mallory")
	certDir := filepath.Join(dir, "clients")
	b, err := os.ReadFile(alice.Public)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(certDir, "alice.pem"), string(b))
	provider := func(kp security.KeyPairFiles) security.Provider {
		cfg := config.Defaults("test")
		cfg.SecurityProvider = "ssl"
		cfg.LookupEnv = func(string) (string, bool) { return "", false }
		cfg.Plugin["ssl_client_private"], cfg.Plugin["ssl_client_public"] = kp.Private, kp.Public
		cfg.Plugin["ssl_server_public"] = server.Public
		p, err := security.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	f := &fleet{addr: testenv.RequireRabbitMQ(t), sec: provider(alice)}
	f.collective = testenv.Collective(t)
	extra := fmt.Sprintf("securityprovider = ssl\nplugin.ssl_server_private = %s\nplugin.ssl_server_public = %s\nplugin.ssl_client_cert_dir = %s\n",
		server.Private, server.Public, certDir)
	ids := []string{"rssl1", "rssl2"}
	logs := testenv.StartMcollectived(t, f.collective, f.addr, testPSK, []testenv.RubyNode{
		{Identity: "rssl1", Facts: map[string]string{"role": "web"}, Classes: []string{"base"}, Extra: extra},
		{Identity: "rssl2", Facts: map[string]string{"role": "db"}, Classes: []string{"base"}, Extra: extra},
	})
	c := f.client(t, nil)
	f.waitAll(t, c, ids)
	ctx := context.Background()

	t.Run("get_fact", func(t *testing.T) {
		res, err := c.Call(ctx, "rpcutil", "get_fact", map[string]any{"fact": "role"},
			CallOptions{Filter: message.Filter{Fact: []message.FactFilter{{Fact: "role", Value: "web", Operator: "=="}}}})
		if err != nil || len(res.OK) != 1 || res.OK[0].Sender != "rssl1" || res.OK[0].Data["value"] != "web" {
			t.Fatalf("Call = %+v, %v", res, err)
		}
	})
	t.Run("ping", func(t *testing.T) {
		res, err := c.Call(ctx, "rpcutil", "ping", nil, CallOptions{})
		if err != nil || len(res.OK) != 2 {
			t.Fatalf("Call = %+v, %v", res, err)
		}
	})
	t.Run("untrusted caller", func(t *testing.T) {
		m := &fleet{addr: f.addr, collective: f.collective, sec: provider(mallory)}
		got, err := m.client(t, nil).Discover(ctx, DiscoverOptions{Timeout: 2 * time.Second})
		if err != nil || len(got) != 0 {
			t.Fatalf("Discover = %v, %v; want nothing", got, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, _ := os.ReadFile(logs["rssl1"])
			if strings.Contains(string(b), "Could not find a public key for mallory") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("mcollectived log never mentions the refused caller:\n%s", b)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
