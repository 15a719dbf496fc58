package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/broker"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/message"
)

// TestEd25519ReplayAfterRestart runs a real mcod with the ed25519 provider, captures a
// directed request it ran, and sends it again before and after the node restarts: both
// times it is refused as already seen, and it runs once in all. The broker is an embedded
// one in the test, so that the node's restart does not touch it.
func TestEd25519ReplayAfterRestart(t *testing.T) {
	br, err := broker.Start(context.Background(), broker.Options{Addr: "127.0.0.1:0", Users: map[string]string{"mcollective": "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = br.Close() })
	f := &fleet{t: t, dir: t.TempDir(), collective: "edreplay", psk: "unused", addr: br.Addr(), logs: map[string]string{}}
	keys := edKeys{dir: filepath.Join(f.dir, "ed")}
	keys.gen(t, "alice", "clients")
	keys.gen(t, "r1", "servers")
	alice := keys.provider(t, "alice", "servers")
	spec := nodeSpec{identity: "r1", extra: keys.node("r1")}
	conn := f.dial(t, "replayer")
	replies := make(chan string, 4)
	replyTo := connector.ReplyExchangeDest("replayer", os.Getpid(), 1)
	if _, err := conn.Subscribe(replyTo, func(m connector.Message) {
		if rep, err := message.DecodeReply(m.Body); err == nil {
			replies <- rep.RequestID
		}
	}); err != nil {
		t.Fatal(err)
	}
	body, err := (&message.RPCRequest{Agent: "rpcutil", Action: "ping", Caller: alice.CallerID(), ProcessResults: true}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	req := &message.Request{Body: body, SenderID: "edclient", RequestID: "5eed0000000000000000000000000001", Collective: f.collective,
		Agent: "rpcutil", CallerID: alice.CallerID(), TTL: 300, MsgTime: time.Now().Unix(),
		Filter: message.Filter{Agent: []string{"rpcutil"}}, Targets: []string{"r1"}}
	if err := alice.SignRequest(req); err != nil {
		t.Fatal(err)
	}
	captured, err := req.Encode()
	if err != nil {
		t.Fatal(err)
	}
	send := func(t *testing.T) {
		t.Helper()
		if err := conn.Send(context.Background(), connector.DirectedDest(f.collective, "r1"), captured,
			connector.SendHeaders{ReplyTo: replyTo, TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	// refusals counts the log lines refusing the request as already seen.
	refusals := func(log []byte) (n int) {
		for _, l := range strings.Split(string(log), "\n") {
			if strings.Contains(l, req.RequestID) && strings.Contains(l, "was already seen") {
				n++
			}
		}
		return n
	}
	t.Run("before the restart", func(t *testing.T) {
		f.startProcess(t, spec, f.common()) // stopped with SIGTERM when this subtest ends
		send(t)
		select {
		case <-replies:
		case <-time.After(15 * time.Second):
			b, _ := os.ReadFile(f.logs["r1"])
			t.Fatalf("no reply to the first delivery:\n%s", b)
		}
		send(t)
		f.waitLog(t, "r1", "was already seen", 10*time.Second)
	})
	log := f.logs["r1"]
	old, _ := os.ReadFile(log)
	if err := os.Remove(log); err != nil { // so that waiting for "serving" waits for the new process
		t.Fatal(err)
	}
	t.Run("after the restart", func(t *testing.T) {
		f.startProcess(t, spec, f.common())
		send(t)
		for deadline := time.Now().Add(15 * time.Second); ; {
			select {
			case id := <-replies:
				t.Fatalf("the captured request %s ran again after the restart", id)
			case <-time.After(50 * time.Millisecond):
			}
			if b, _ := os.ReadFile(log); refusals(b) == 1 {
				break
			}
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(log)
				t.Fatalf("after the restart the request was neither run nor refused as already seen:\n%s", b)
			}
		}
		select {
		case id := <-replies:
			t.Fatalf("the captured request %s ran again after the restart", id)
		case <-time.After(300 * time.Millisecond):
		}
	})
	if n := refusals(old); n != 1 {
		t.Errorf("before the restart: %d refusals, want 1", n)
	}
}
