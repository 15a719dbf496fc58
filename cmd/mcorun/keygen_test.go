package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/security"
)

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args      []string
		priv, pub string
		says      string
	}{
		{[]string{"keygen", "--out", dir, "alice"}, "alice.key", "alice.pub", "trusted_clients"},
		{[]string{"keygen", "web1", "--type", "rsa", "--out", dir}, "web1-private.pem", "web1.pem", "ssl_client_cert_dir"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			e, out, errOut, _ := testEnv(t, nil, nil)
			if code := run(context.Background(), e, tc.args); code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if !strings.Contains(out.String(), tc.says) {
				t.Errorf("output does not say where the public key goes:\n%s", out)
			}
			fi, err := os.Stat(filepath.Join(dir, tc.priv))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("%s: %v, %v", tc.priv, fi, err)
			}
			if _, err := os.Stat(filepath.Join(dir, tc.pub)); err != nil {
				t.Fatal(err)
			}
		})
	}
	// The ed25519 key loads as a provider key; a second run refuses to overwrite it.
	cfg := config.Defaults("test.cfg")
	cfg.SecurityProvider = "ed25519"
	cfg.Plugin["ed25519.key"] = filepath.Join(dir, "alice.key")
	if p, err := security.New(cfg); err != nil || p.CallerID() != "ed25519=alice" {
		t.Fatalf("provider from the generated key: %v, %v", p, err)
	}
	for _, args := range [][]string{{"keygen", "--out", dir, "alice"}, {"keygen"}, {"keygen", "--type", "dsa", "x"}, {"keygen", "../x"}} {
		e, _, errOut, _ := testEnv(t, nil, nil)
		if code := run(context.Background(), e, args); code != exitUsage || errOut.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args, code, errOut)
		}
	}
}
