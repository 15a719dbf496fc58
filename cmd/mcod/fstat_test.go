package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/security"
	"github.com/mcorun/mcorun/runtime/server"
)

// replies is a server.Transport that keeps the request ids of the replies sent.
type replies struct {
	mu  sync.Mutex
	ids []string
}

func (r *replies) Subscribe(string, connector.Handler) (*connector.Subscription, error) {
	return nil, nil
}

func (r *replies) Send(_ context.Context, _ string, body []byte, _ connector.SendHeaders) error {
	rep, err := message.DecodeReply(body)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, rep.RequestID)
	return nil
}

// md5Probe asks a node configured by cfgText, once per hex digit, whether the md5 of path
// starts with that digit, with the discovery ping `mcorun find -S 'fstat("path").md5=/^d/'`
// sends, and returns the digits the node answered for.
func md5Probe(t *testing.T, cfgText, path string) []string {
	t.Helper()
	cfg := parseCfg(t, "identity = n1\nsecurityprovider = psk\nplugin.psk = k\n"+cfgText)
	plugins, err := nodePlugins(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	sec, err := security.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{Identity: "n1", Security: sec, Plugins: plugins})
	if err != nil {
		t.Fatal(err)
	}
	tr := &replies{}
	if err := srv.Start(tr); err != nil {
		t.Fatal(err)
	}
	body, err := message.EncodeBody("ping") // a discovery ping, as find sends
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range "0123456789abcdef" {
		req := &message.Request{Body: body, SenderID: "c", RequestID: fmt.Sprintf("%032x", d), Collective: "mcollective",
			Agent: "discovery", CallerID: "uid=0", TTL: 60, MsgTime: time.Now().Unix(),
			Filter: message.Filter{Compound: [][]message.CompoundItem{{{Kind: message.FStatement, Func: &message.DataCall{
				Name: "fstat", Params: path, Value: "md5", Operator: "=~", RCompare: marshal.Regexp{Source: "^" + string(d)}}}}}}}
		if err := sec.SignRequest(req); err != nil {
			t.Fatal(err)
		}
		b, err := req.Encode()
		if err != nil {
			t.Fatal(err)
		}
		srv.Handle(connector.Message{Destination: "/exchange/mcollective_broadcast/discovery", ReplyTo: "/reply-queue/x", Body: b})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var digits []string
	for _, id := range tr.ids {
		var d rune
		fmt.Sscanf(id, "%x", &d)
		digits = append(digits, string(d))
	}
	return digits
}

// TestFstatAllowedPathsClosesMD5Leak checks that plugin.fstat.allowed_paths closes the leak of
// a file's md5 through filters: without it a caller learns the first hex digit of any file's
// md5 in at most 16 discovery pings; with it, a path outside the list (or reached through a
// symlinked directory inside it) never matches, while a path inside it still does.
func TestFstatAllowedPathsClosesMD5Leak(t *testing.T) {
	dir := t.TempDir()
	secret, allowed := filepath.Join(dir, "secret"), filepath.Join(dir, "srv")
	if err := os.WriteFile(secret, []byte("root:$6$hash:19000::::::\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(allowed, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(allowed, "motd"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(allowed, "up")); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte("root:$6$hash:19000::::::\n"))
	first := hex.EncodeToString(sum[:])[:1]
	if got := md5Probe(t, "", secret); len(got) != 1 || got[0] != first {
		t.Fatalf("without a limit the probe answered for %v, want [%s] (the leak the setting closes)", got, first)
	}
	limit := "plugin.fstat.allowed_paths = /nonexistent/*.conf, " + allowed + "/**\n"
	for _, path := range []string{secret, filepath.Join(allowed, "up", "secret"), filepath.Join(allowed, "..", "secret")} {
		if got := md5Probe(t, limit, path); len(got) != 0 {
			t.Errorf("fstat(%q) under the limit: the probe answered for %v, want nothing", path, got)
		}
	}
	sum = md5.Sum([]byte("hello\n"))
	if got := md5Probe(t, limit, filepath.Join(allowed, "motd")); len(got) != 1 || got[0] != hex.EncodeToString(sum[:])[:1] {
		t.Errorf("an allowed path: the probe answered for %v", got)
	}
}

// TestFstatNotice checks the startup notice: a strong provider without a limit on fstat
// warns, naming the setting; psk, or a limit, does not; a bad list stops mcod naming the key.
func TestFstatNotice(t *testing.T) {
	for _, tc := range []struct {
		cfg  string
		warn bool
	}{
		{"securityprovider = ed25519\n", true},
		{"securityprovider = SSL\n", true},
		{"securityprovider = psk\n", false},
		{"securityprovider = ed25519\nplugin.fstat.allowed_paths = /etc/motd\n", false},
	} {
		var logs strings.Builder
		log := slog.New(slog.NewTextHandler(&logs, nil))
		if _, err := actingFromConfig(parseCfg(t, tc.cfg), log); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "plugin.fstat.allowed_paths"); got != tc.warn {
			t.Errorf("%q: warned %t, want %t:\n%s", tc.cfg, got, tc.warn, logs.String())
		}
	}
	if _, err := actingFromConfig(parseCfg(t, "plugin.fstat.allowed_paths = etc/motd\n"), slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "plugin.fstat.allowed_paths") {
		t.Errorf("a relative path: %v, want an error naming the key", err)
	}
}
