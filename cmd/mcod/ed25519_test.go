package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/security"
)

// edKeys is an ed25519 key layout for one test: each key pair in keys/, and the trust
// stores clients/ (on the nodes) and servers/ (on the clients).
type edKeys struct{ dir string }

// gen makes name's key pair and copies its public key into each of the trust stores in trust.
func (k edKeys) gen(t *testing.T, name string, trust ...string) {
	t.Helper()
	f, err := security.GenerateKeyPair(filepath.Join(k.dir, "keys"), name, security.KeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.Public)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range trust {
		if err := os.MkdirAll(filepath.Join(k.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(k.dir, d, name+".pub"), string(b))
	}
}

// node is a node's config lines: its own key, named after its identity, and the clients it trusts.
func (k edKeys) node(identity string) string {
	return fmt.Sprintf("securityprovider = ed25519\nplugin.ed25519.key = %s\nplugin.ed25519.trusted_clients = %s\n",
		filepath.Join(k.dir, "keys", identity+".key"), filepath.Join(k.dir, "clients"))
}

// provider is a client's provider with name's key, trusting the servers in store.
func (k edKeys) provider(t *testing.T, name, store string) security.Provider {
	t.Helper()
	cfg := config.Defaults("test")
	cfg.SecurityProvider = "ed25519"
	cfg.Plugin["ed25519.key"] = filepath.Join(k.dir, "keys", name+".key")
	cfg.Plugin["ed25519.trusted_servers"] = filepath.Join(k.dir, store)
	p, err := security.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fleet) dial(t *testing.T, identity string) *connector.Conn {
	t.Helper()
	host, port, _ := strings.Cut(f.addr, ":")
	conn, err := connector.Dial(context.Background(), connector.Options{
		Pool:  []connector.Broker{{Host: host, Port: atoi(t, port), User: "mcollective", Password: "secret"}},
		VHost: "/mcollective", Identity: identity,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// TestEd25519Fleet runs mcod nodes with the ed25519 provider and drives them with the mcorun
// client: trusted keys get answers; an untrusted caller, an untrusted server, a replay and a
// tampered request get nothing.
func TestEd25519Fleet(t *testing.T) {
	f := newFleet(t)
	keys := edKeys{dir: filepath.Join(f.dir, "ed")}
	keys.gen(t, "alice", "clients")
	keys.gen(t, "mallory")
	keys.gen(t, "e1", "servers", "servers-e1")
	keys.gen(t, "e2", "servers")
	f.start(nodeSpec{identity: "e1", facts: "role: web\n", extra: keys.node("e1")})
	f.start(nodeSpec{identity: "e2", facts: "role: db\n", extra: keys.node("e2")})

	newClient := func(t *testing.T, p security.Provider) *client.Client {
		t.Helper()
		c, err := client.New(f.dial(t, "edclient"), client.Options{Identity: "edclient", MainCollective: f.collective, Collectives: []string{f.collective}, Security: p})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	ctx := context.Background()
	alice := keys.provider(t, "alice", "servers")

	t.Run("trusted", func(t *testing.T) {
		c := newClient(t, alice)
		var got []string
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && len(got) < 2; {
			got, _ = c.Discover(ctx, client.DiscoverOptions{Timeout: 2 * time.Second})
		}
		if !slices.Equal(got, []string{"e1", "e2"}) {
			t.Fatalf("Discover = %v", got)
		}
		res, err := c.Call(ctx, "rpcutil", "get_fact", map[string]any{"fact": "role"}, client.CallOptions{})
		if err != nil || len(res.OK) != 2 {
			t.Fatalf("Call = %+v, %v", res, err)
		}
	})
	t.Run("directed calls name their nodes", func(t *testing.T) {
		rec := &sendLog{Conn: f.dial(t, "edclient")}
		c, err := client.New(rec, client.Options{Identity: "edclient", MainCollective: f.collective, Collectives: []string{f.collective}, Security: alice})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		res, err := c.Call(ctx, "rpcutil", "ping", nil, client.CallOptions{Nodes: []string{"e1", "e2"}, Batch: "1", BatchSleep: time.Millisecond})
		if err != nil || len(res.OK) != 2 {
			t.Fatalf("Call = %+v, %v", res, err)
		}
		got := rec.take()
		want := []string{"e1 [e1]", "e2 [e2]"}
		if len(got) != len(want) {
			t.Fatalf("sends %q; want %q", got, want)
		}
		for i, w := range want {
			if node, _, _ := strings.Cut(w, " "); got[i] != connector.DirectedDest(f.collective, node)+" "+w[len(node)+1:] {
				t.Errorf("send %d = %q; want to %s with targets %s", i, got[i], node, w[len(node)+1:])
			}
		}
		if _, err := c.Discover(ctx, client.DiscoverOptions{Timeout: time.Second}); err != nil {
			t.Fatal(err)
		}
		if got := rec.take(); len(got) != 1 || !strings.HasSuffix(got[0], " []") {
			t.Errorf("discovery sends %q; want one broadcast without targets", got)
		}
	})
	t.Run("untrusted caller", func(t *testing.T) {
		c := newClient(t, keys.provider(t, "mallory", "servers"))
		got, err := c.Discover(ctx, client.DiscoverOptions{Timeout: 2 * time.Second})
		if err != nil || len(got) != 0 {
			t.Fatalf("Discover = %v, %v; want nothing", got, err)
		}
		f.waitLog(t, "e1", `no trusted key for caller \"mallory\"`, 10*time.Second)
	})
	t.Run("untrusted server", func(t *testing.T) {
		c := newClient(t, keys.provider(t, "alice", "servers-e1"))
		got, err := c.Discover(ctx, client.DiscoverOptions{Timeout: 2 * time.Second})
		if err != nil || !slices.Equal(got, []string{"e1"}) {
			t.Fatalf("Discover = %v, %v; want only e1", got, err)
		}
	})

	conn := f.dial(t, "attacker")
	send := func(t *testing.T, req *message.Request) {
		t.Helper()
		b, err := req.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.Send(ctx, connector.BroadcastDest(f.collective, "rpcutil"), b, connector.SendHeaders{ReplyTo: "/temp-queue/hostile", TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	signed := func(t *testing.T, edit ...func(*message.Request)) *message.Request {
		t.Helper()
		body, err := (&message.RPCRequest{Agent: "rpcutil", Action: "ping", Caller: alice.CallerID(), ProcessResults: true}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		id := make([]byte, 16)
		_, _ = rand.Read(id)
		req := &message.Request{
			Body: body, SenderID: "edclient", RequestID: hex.EncodeToString(id), Collective: f.collective,
			Agent: "rpcutil", CallerID: alice.CallerID(), TTL: 60, MsgTime: time.Now().Unix(),
			Filter: message.Filter{Identity: []string{"e2"}},
		}
		for _, e := range edit {
			e(req)
		}
		if err := alice.SignRequest(req); err != nil {
			t.Fatal(err)
		}
		return req
	}
	// dropLine waits for identity's log line about requestid and checks it is a drop for reason.
	dropLine := func(t *testing.T, identity, requestid, reason string) {
		t.Helper()
		f.waitLog(t, identity, requestid, 10*time.Second)
		b, _ := os.ReadFile(f.logs[identity])
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, requestid) && !strings.Contains(l, `msg="dropped request" reason="`+reason+`"`) {
				t.Errorf("request %s on %s was not dropped as %q:\n%s", requestid, identity, reason, l)
			}
		}
	}
	t.Run("directed request re-aimed", func(t *testing.T) {
		replies := make(chan string, 4)
		if _, err := conn.SubscribeTemp("edtargets", func(m connector.Message) {
			if rep, err := message.DecodeReply(m.Body); err == nil {
				replies <- rep.SenderID
			}
		}); err != nil {
			t.Fatal(err)
		}
		sendTo := func(t *testing.T, node string, req *message.Request) {
			t.Helper()
			b, err := req.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if err := conn.Send(ctx, connector.DirectedDest(f.collective, node), b, connector.SendHeaders{ReplyTo: "/temp-queue/edtargets", TTL: time.Minute}); err != nil {
				t.Fatal(err)
			}
		}
		// A directed request for e1, as a forced directed call sends it: the filter is the
		// agent alone, so only the signed target list keeps it off other nodes.
		req := signed(t, func(r *message.Request) {
			r.Filter = message.Filter{Agent: []string{"rpcutil"}}
			r.Targets = []string{"e1"}
		})
		sendTo(t, "e2", req)
		dropLine(t, "e2", req.RequestID, "not addressed to this node")
		sendTo(t, "e1", req) // e2's refusal did not spend it: e1 still runs it
		select {
		case from := <-replies:
			if from != "e1" {
				t.Fatalf("reply from %s; want e1", from)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("no reply from e1 to a request directed to it")
		}

		// Stripped of its list, it would pass e2's target check as a broadcast, but the
		// signature covers the list.
		req = signed(t, func(r *message.Request) {
			r.Filter = message.Filter{Agent: []string{"rpcutil"}}
			r.Targets = []string{"e1"}
		})
		req.Targets = nil
		sendTo(t, "e2", req)
		dropLine(t, "e2", req.RequestID, "signature check failed")
		select {
		case from := <-replies:
			t.Fatalf("reply from %s to a request stripped of its target list", from)
		case <-time.After(time.Second):
		}
	})
	t.Run("replay", func(t *testing.T) {
		req := signed(t)
		send(t, req)
		send(t, req)
		f.waitLog(t, "e1", "was already seen", 10*time.Second)
		f.waitLog(t, "e2", "was already seen", 10*time.Second)
	})
	for _, tc := range []struct {
		name   string
		mutate func(*message.Request)
	}{
		{"changed filter", func(r *message.Request) { r.Filter = message.Filter{} }},
		{"changed ttl", func(r *message.Request) { r.TTL = 3000 }},
		{"changed callerid", func(r *message.Request) { r.CallerID = "ed25519=e1" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := signed(t)
			tc.mutate(req)
			send(t, req)
			f.waitLog(t, "e1", req.RequestID, 10*time.Second)
			b, _ := os.ReadFile(f.logs["e1"])
			for _, l := range strings.Split(string(b), "\n") {
				if strings.Contains(l, req.RequestID) && !strings.Contains(l, `msg="dropped request" reason="signature check failed"`) {
					t.Errorf("request %s was not dropped by the signature check:\n%s", req.RequestID, l)
				}
			}
		})
	}
}

// sendLog is a client transport that records each request it sends as "<destination>
// <targets>".
type sendLog struct {
	*connector.Conn
	mu    sync.Mutex
	sends []string
}

func (l *sendLog) Send(ctx context.Context, dest string, body []byte, h connector.SendHeaders) error {
	req, err := message.DecodeRequest(body)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.sends = append(l.sends, fmt.Sprintf("%s %v", dest, req.Targets))
	l.mu.Unlock()
	return l.Conn.Send(ctx, dest, body, h)
}

func (l *sendLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sends
	l.sends = nil
	return s
}
