package connector

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"
)

func TestBroadcast(t *testing.T) {
	t.Parallel()
	b := broker(t)
	server := dial(t, Options{Pool: []Broker{b}})
	client := dial(t, Options{Pool: []Broker{b}, Identity: "client1.example"})

	agent := uniq("agent")
	h, got := collect()
	sub, err := server.Subscribe(BroadcastDest(collective, agent), h)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("\x04\bi\x00marshal")
	reply := TempQueueDest(TempReplyName(agent))
	m := sendUntil(t, client, BroadcastDest(collective, agent), body, SendHeaders{ReplyTo: reply, TTL: 60 * time.Second}, got)

	if string(m.Body) != string(body) {
		t.Errorf("body = %q, want %q", m.Body, body)
	}
	for k, want := range map[string]string{
		"mc_sender":      "client1.example",
		"content-type":   ContentType,
		"content-length": strconv.Itoa(len(body)),
	} {
		if m.Headers[k] != want {
			t.Errorf("header %s = %q, want %q", k, m.Headers[k], want)
		}
	}
	// RabbitMQ rewrites the temp-queue reply-to and maps expiration to a TTL.
	if m.ReplyTo == "" || m.ReplyTo == reply {
		t.Errorf("reply-to = %q, want RabbitMQ's /reply-queue/ rewrite", m.ReplyTo)
	}
	if m.Destination != BroadcastDest(collective, agent) {
		t.Errorf("destination = %q", m.Destination)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Errorf("Unsubscribe: %v", err)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Errorf("second Unsubscribe: %v", err)
	}
}

func TestDirected(t *testing.T) {
	t.Parallel()
	b := broker(t)
	node := uniq("node") + ".example"
	server := dial(t, Options{Pool: []Broker{b}, Identity: node})
	other := dial(t, Options{Pool: []Broker{b}})
	client := dial(t, Options{Pool: []Broker{b}})

	h, got := collect()
	if _, err := server.Subscribe(DirectedDest(collective, node), h); err != nil {
		t.Fatal(err)
	}
	oh, otherGot := collect()
	if _, err := other.Subscribe(DirectedDest(collective, node+".other"), oh); err != nil {
		t.Fatal(err)
	}
	m := sendUntil(t, client, DirectedDest(collective, node), []byte("for node"), SendHeaders{TTL: time.Minute}, got)
	if string(m.Body) != "for node" {
		t.Errorf("body = %q", m.Body)
	}
	select {
	case m := <-otherGot:
		t.Errorf("other node got %q", m.Body)
	default:
	}
}

func TestTempQueueRoundTrip(t *testing.T) {
	t.Parallel()
	b := broker(t)
	server := dial(t, Options{Pool: []Broker{b}})
	client := dial(t, Options{Pool: []Broker{b}})
	agent := uniq("agent")

	sendErrs := make(chan error, 100)
	replyTos := make(chan string, 100)
	_, err := server.Subscribe(BroadcastDest(collective, agent), func(m Message) {
		replyTos <- m.ReplyTo
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sendErrs <- server.Send(ctx, m.ReplyTo, append([]byte("reply to "), m.Body...), SendHeaders{TTL: time.Minute})
	})
	if err != nil {
		t.Fatal(err)
	}
	name := TempReplyName(agent)
	h, replies := collect()
	tsub, err := client.SubscribeTemp(name, h)
	if err != nil {
		t.Fatal(err)
	}
	m := sendUntil(t, client, BroadcastDest(collective, agent), []byte("ping"),
		SendHeaders{ReplyTo: TempQueueDest(name), TTL: time.Minute}, replies)

	if err := waitChan(t, sendErrs, "reply send"); err != nil {
		t.Fatalf("reply Send: %v", err)
	}
	if rt := waitChan(t, replyTos, "request"); rt == TempQueueDest(name) || rt == "" {
		t.Errorf("responder saw reply-to %q, want a /reply-queue/ rewrite", rt)
	}
	if string(m.Body) != "reply to ping" {
		t.Errorf("reply body = %q", m.Body)
	}
	if m.Subscription != TempQueueDest(name) {
		t.Errorf("reply subscription = %q, want %q", m.Subscription, TempQueueDest(name))
	}
	if err := tsub.Unsubscribe(); err != nil {
		t.Errorf("Unsubscribe temp: %v", err)
	}
}

func TestPoolFailover(t *testing.T) {
	t.Parallel()
	b := broker(t)
	dead := Broker{Host: "127.0.0.1", Port: 1}
	c := dial(t, Options{Pool: []Broker{dead, b}})
	if c.Broker() != b.Addr() {
		t.Errorf("Broker() = %q, want %q", c.Broker(), b.Addr())
	}
	h, got := collect()
	name := uniq("failover")
	if _, err := c.Subscribe(DirectedDest(collective, name), h); err != nil {
		t.Fatal(err)
	}
	// Same connection: the broker handles SUBSCRIBE before this SEND.
	if err := c.Send(context.Background(), DirectedDest(collective, name), []byte("x"), SendHeaders{}); err != nil {
		t.Fatal(err)
	}
	waitChan(t, got, "message after failover")
}

func TestReconnectAfterKill(t *testing.T) {
	t.Parallel()
	b := broker(t)
	p := newProxy(t, b.Addr())
	onReconnect, reconnected := reconnects()
	c := dial(t, Options{Pool: []Broker{p.broker(b)}, OnReconnect: onReconnect})
	client := dial(t, Options{Pool: []Broker{b}})

	agent := uniq("agent")
	h, got := collect()
	if _, err := c.Subscribe(BroadcastDest(collective, agent), h); err != nil {
		t.Fatal(err)
	}
	name := TempReplyName(agent)
	th, replies := collect()
	if _, err := c.SubscribeTemp(name, th); err != nil {
		t.Fatal(err)
	}
	// A responder on another connection, replying to reply-to verbatim.
	responder := dial(t, Options{Pool: []Broker{b}})
	rdest := DirectedDest(collective, uniq("responder"))
	if _, err := responder.Subscribe(rdest, func(m Message) {
		_ = responder.Send(context.Background(), m.ReplyTo, []byte("pong"), SendHeaders{})
	}); err != nil {
		t.Fatal(err)
	}
	sendUntil(t, client, BroadcastDest(collective, agent), []byte("before"), SendHeaders{}, got)

	names := p.names()
	if len(names) != 1 {
		t.Fatalf("proxy carries %d connections, want 1", len(names))
	}
	killConnection(t, names[0])
	waitChan(t, reconnected, "reconnect")
	if !c.Connected() {
		t.Error("Connected() = false after reconnect")
	}
	for len(got) > 0 {
		<-got
	}
	if m := sendUntil(t, client, BroadcastDest(collective, agent), []byte("after"), SendHeaders{}, got); string(m.Body) != "after" {
		t.Errorf("after reconnect got %q", m.Body)
	}
	// The temp queue works on the new connection.
	if m := sendUntil(t, c, rdest, []byte("ping"), SendHeaders{ReplyTo: TempQueueDest(name)}, replies); string(m.Body) != "pong" {
		t.Errorf("temp reply after reconnect = %q", m.Body)
	}
}

func TestSlowHandlerDoesNotStallOthers(t *testing.T) {
	t.Parallel()
	b := broker(t)
	c := dial(t, Options{Pool: []Broker{b}, QueueSize: 4})
	release := make(chan struct{})
	defer close(release)
	slowDest := DirectedDest(collective, uniq("slow"))
	slow, err := c.Subscribe(slowDest, func(Message) { <-release })
	if err != nil {
		t.Fatal(err)
	}
	h, got := collect()
	fastDest := DirectedDest(collective, uniq("fast"))
	if _, err := c.Subscribe(fastDest, h); err != nil {
		t.Fatal(err)
	}
	const n = 50
	for i := range n {
		if err := c.Send(context.Background(), slowDest, []byte{byte(i)}, SendHeaders{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Send(context.Background(), fastDest, []byte("fast"), SendHeaders{}); err != nil {
		t.Fatal(err)
	}
	if m := waitChan(t, got, "fast message"); string(m.Body) != "fast" {
		t.Errorf("fast got %q", m.Body)
	}
	// One message blocks the handler, QueueSize wait: the rest are dropped.
	deadline := time.Now().Add(waitFor)
	for slow.Dropped() < n-1-4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if d := slow.Dropped(); d != n-1-4 {
		t.Errorf("Dropped() = %d, want %d", d, n-1-4)
	}
}

func TestMaxBody(t *testing.T) {
	t.Parallel()
	b := broker(t)
	c := dial(t, Options{Pool: []Broker{b}, MaxBody: 10})
	h, got := collect()
	dest := DirectedDest(collective, uniq("maxbody"))
	sub, err := c.Subscribe(dest, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"01234567890", "0123456789"} {
		if err := c.Send(context.Background(), dest, []byte(body), SendHeaders{}); err != nil {
			t.Fatal(err)
		}
	}
	if m := waitChan(t, got, "small message"); string(m.Body) != "0123456789" {
		t.Errorf("got %q, want the 10-byte body only", m.Body)
	}
	if sub.Dropped() != 1 {
		t.Errorf("Dropped() = %d, want 1", sub.Dropped())
	}
}

func TestHeartbeatKeepsConnection(t *testing.T) {
	t.Parallel()
	b := broker(t)
	onReconnect, reconnected := reconnects()
	c := dial(t, Options{Pool: []Broker{b}, Heartbeat: time.Second, OnReconnect: onReconnect})
	h, got := collect()
	dest := DirectedDest(collective, uniq("hb"))
	if _, err := c.Subscribe(dest, h); err != nil {
		t.Fatal(err)
	}
	// Idle across several heartbeat periods: only heartbeats keep it alive.
	select {
	case <-reconnected:
		t.Fatal("reconnected while idle with heartbeats on")
	case <-time.After(5 * time.Second):
	}
	if !c.Connected() {
		t.Fatal("not connected after idling")
	}
	if err := c.Send(context.Background(), dest, []byte("still here"), SendHeaders{}); err != nil {
		t.Fatal(err)
	}
	waitChan(t, got, "message after idling")
}

func TestHeartbeatLossReconnects(t *testing.T) {
	t.Parallel()
	b := broker(t)
	p := newProxy(t, b.Addr())
	onReconnect, reconnected := reconnects()
	c := dial(t, Options{Pool: []Broker{p.broker(b)}, Heartbeat: time.Second, OnReconnect: onReconnect})
	h, got := collect()
	dest := DirectedDest(collective, uniq("hbloss"))
	if _, err := c.Subscribe(dest, h); err != nil {
		t.Fatal(err)
	}
	p.freeze()
	waitChan(t, reconnected, "reconnect after heartbeat loss")
	if m := sendUntil(t, c, dest, []byte("after"), SendHeaders{}, got); string(m.Body) != "after" {
		t.Errorf("got %q", m.Body)
	}
}

func TestSendWhileDisconnected(t *testing.T) {
	t.Parallel()
	b := broker(t)
	waitDown := func(t *testing.T, c *Conn) {
		t.Helper()
		deadline := time.Now().Add(waitFor)
		for c.Connected() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if c.Connected() {
			t.Fatal("still connected after the broker went away")
		}
	}
	t.Run("waits then fails", func(t *testing.T) {
		p := newProxy(t, b.Addr())
		c := dial(t, Options{Pool: []Broker{p.broker(b)}})
		p.close() // the broker is gone; reconnecting goes on forever
		waitDown(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		err := c.Send(ctx, DirectedDest(collective, uniq("nowhere")), []byte("x"), SendHeaders{})
		if !errors.Is(err, ErrDisconnected) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Send while down = %v, want ErrDisconnected", err)
		}
	})
	t.Run("gives up", func(t *testing.T) {
		p := newProxy(t, b.Addr())
		c := dial(t, Options{Pool: []Broker{p.broker(b)}, MaxReconnectAttempts: 3})
		p.close()
		waitChan(t, c.Done(), "giving up")
		if !errors.Is(c.Err(), ErrUnavailable) {
			t.Errorf("Err() = %v, want ErrUnavailable", c.Err())
		}
		err := c.Send(context.Background(), "/exchange/x/y", nil, SendHeaders{})
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("Send after giving up = %v, want ErrUnavailable", err)
		}
	})
}

func TestClose(t *testing.T) {
	t.Parallel()
	b := broker(t)
	c := dial(t, Options{Pool: []Broker{b}})
	if _, err := c.SubscribeTemp(uniq("close"), func(Message) {}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := c.Send(context.Background(), "/exchange/x/y", nil, SendHeaders{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
	if _, err := c.Subscribe("/exchange/x/y", func(Message) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
	}
	if !errors.Is(c.Err(), ErrClosed) || c.Connected() {
		t.Errorf("Err() = %v, Connected() = %v after Close", c.Err(), c.Connected())
	}
}

func TestLost(t *testing.T) {
	t.Parallel()
	b := broker(t)
	p := newProxy(t, b.Addr())
	onReconnect, reconnected := reconnects()
	c := dial(t, Options{Pool: []Broker{p.broker(b)}, OnReconnect: onReconnect})
	isClosed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	first := c.Lost()
	if isClosed(first) {
		t.Fatal("Lost() is closed on a live connection")
	}
	names := p.names()
	if len(names) != 1 {
		t.Fatalf("proxy carries %d connections, want 1", len(names))
	}
	killConnection(t, names[0])
	waitChan(t, first, "Lost() after the connection was killed")
	waitChan(t, reconnected, "reconnect")
	second := c.Lost()
	if isClosed(second) {
		t.Fatal("Lost() after reconnecting is already closed")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !isClosed(second) || !isClosed(c.Lost()) {
		t.Fatal("Lost() not closed after Close")
	}
}
