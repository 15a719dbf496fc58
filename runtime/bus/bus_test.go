package bus

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/connector"
)

// inbox collects deliveries; wait returns once n arrived.
type inbox struct {
	mu  sync.Mutex
	got []connector.Message
	ch  chan struct{}
}

func newInbox() *inbox { return &inbox{ch: make(chan struct{}, 64)} }

func (b *inbox) handle(m connector.Message) {
	b.mu.Lock()
	b.got = append(b.got, m)
	b.mu.Unlock()
	b.ch <- struct{}{}
}

func (b *inbox) wait(t *testing.T, n int) []connector.Message {
	t.Helper()
	for range n {
		select {
		case <-b.ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d deliveries", len(b.got), n)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.got)
}

func TestRoutesByExactDestination(t *testing.T) {
	b := New(clock.Real{})
	node1, node2, other := newInbox(), newInbox(), newInbox()
	for _, s := range []struct {
		conn, dest string
		in         *inbox
	}{
		{"n1", "/exchange/mcollective_broadcast/rpcutil", node1},
		{"n2", "/exchange/mcollective_broadcast/rpcutil", node2},
		{"n3", "/exchange/mcollective_broadcast/rpcutil.x", other},
	} {
		if _, err := b.Conn(s.conn).Subscribe(s.dest, s.in.handle); err != nil {
			t.Fatal(err)
		}
	}
	c := b.Conn("client")
	if err := c.Send(context.Background(), "/exchange/mcollective_broadcast/rpcutil", []byte("hi"),
		connector.SendHeaders{ReplyTo: "/temp-queue/r"}); err != nil {
		t.Fatal(err)
	}
	for _, in := range []*inbox{node1, node2} {
		m := in.wait(t, 1)[0]
		if string(m.Body) != "hi" || m.ReplyTo != "/temp-queue/r" || m.Destination != "/exchange/mcollective_broadcast/rpcutil" {
			t.Fatalf("delivered %+v", m)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if len(other.got) != 0 {
		t.Fatal("a message reached a destination that only starts with its own")
	}
}

func TestUnsubscribeDropAndClose(t *testing.T) {
	b := New(clock.Real{})
	in, kept := newInbox(), newInbox()
	sub, err := b.Conn("n1").Subscribe("/d", in.handle)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Conn("n2").Subscribe("/d", kept.handle); err != nil {
		t.Fatal(err)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	b.SetDrop(func(e Envelope) bool { return string(e.Body) == "lost" })
	c := b.Conn("client")
	for _, body := range []string{"lost", "kept"} {
		if err := c.Send(context.Background(), "/d", []byte(body), connector.SendHeaders{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := kept.wait(t, 1); string(got[0].Body) != "kept" {
		t.Fatalf("got %q, want only the message the network did not lose", got[0].Body)
	}
	time.Sleep(20 * time.Millisecond)
	if len(in.got) != 0 || len(kept.got) != 1 {
		t.Fatalf("unsubscribed got %d, kept got %d", len(in.got), len(kept.got))
	}
	b.Close()
	if err := c.Send(context.Background(), "/d", nil, connector.SendHeaders{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("send on a closed bus: %v", err)
	}
}

// Time on a fake clock never moves while a delivery is pending.
func TestDeliveryHoldsTheFakeClock(t *testing.T) {
	f := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	b := New(f)
	release := make(chan struct{})
	var at time.Duration
	ev := f.NewEvent()
	if _, err := b.Conn("n1").Subscribe("/d", func(connector.Message) {
		<-release // a slow handler, blocked outside the clock
		at = f.Elapsed()
		ev.Fire()
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Conn("c").Send(context.Background(), "/d", nil, connector.SendHeaders{}); err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(20 * time.Millisecond); close(release) }()
	if err := f.Wait(context.Background(), ev, f.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if at != 0 || f.Elapsed() != 0 {
		t.Fatalf("the handler ran at +%v and the wait ended at +%v; want both at +0", at, f.Elapsed())
	}
}
