package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/security"
)

// TestHostileFramesAreDropped sends frames that a node must refuse (a wrong PSK, an expired
// request, a malformed Marshal body, a callerid that fails validation and an oversized body)
// and checks that each is dropped with a log line that says why, while mcod keeps serving.
func TestHostileFramesAreDropped(t *testing.T) {
	f := newFleet(t)
	f.start(nodeSpec{identity: "victim", facts: "role: web\n", classes: []string{"base"}})

	host, port, _ := strings.Cut(f.addr, ":")
	conn, err := connector.Dial(context.Background(), connector.Options{
		Pool:     []connector.Broker{{Host: host, Port: atoi(t, port), User: "mcollective", Password: "secret"}},
		VHost:    "/mcollective",
		Identity: "attacker",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dest := connector.BroadcastDest(f.collective, "rpcutil")

	good := func(psk string, mutate func(*message.Request)) []byte {
		t.Helper()
		body, err := (&message.RPCRequest{Agent: "rpcutil", Action: "ping", Caller: "uid=0", ProcessResults: true}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		id := make([]byte, 16)
		_, _ = rand.Read(id)
		req := &message.Request{
			Body: body, SenderID: "attacker", RequestID: hex.EncodeToString(id), Collective: f.collective,
			Agent: "rpcutil", CallerID: "uid=0", TTL: 60, MsgTime: time.Now().Unix(),
		}
		if mutate != nil {
			mutate(req)
		}
		cfg := config.Defaults("test")
		cfg.Plugin = map[string]string{"psk": psk}
		sec, err := security.NewPSK(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := sec.SignRequest(req); err != nil {
			t.Fatal(err)
		}
		b, err := req.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	cases := []struct {
		name    string
		body    []byte
		logLine string
	}{
		{"wrong psk", good("not-the-psk", nil), "reason=\"signature check failed\""},
		{"expired", good(f.psk, func(r *message.Request) { r.MsgTime -= 3600 }), "reason=\"ttl expired\""},
		{"malformed marshal", []byte("\x04\x08{\x0f:\x09body\"\xff\xff\xff"), "reason=\"undecodable envelope\""},
		{"not marshal at all", []byte("GET / HTTP/1.0\r\n\r\n"), "reason=\"undecodable envelope\""},
		{"forged callerid", good(f.psk, func(r *message.Request) { r.CallerID = "uid=0; rm -rf /" }), "reason=\"invalid callerid\""},
		{"oversized body", bytes.Repeat([]byte{'A'}, connector.DefaultMaxBody+1), "body too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := conn.Send(ctx, dest, tc.body, connector.SendHeaders{ReplyTo: "/temp-queue/hostile", TTL: time.Minute}); err != nil {
				t.Fatal(err)
			}
			f.waitLog(t, "victim", tc.logLine, 15*time.Second)
		})
	}
	// The node is still serving: stock mco still gets its ping reply.
	if out := f.mco(t, "ping"); !strings.Contains(out, "victim") {
		t.Fatalf("mco ping after hostile frames:\n%s", out)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("bad port %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}
