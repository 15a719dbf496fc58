package connector

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

func TestDestinations(t *testing.T) {
	for _, tc := range []struct {
		name, got, want string
	}{
		{"broadcast", BroadcastDest("mcollective", "rpcutil"), "/exchange/mcollective_broadcast/rpcutil"},
		{"broadcast other collective", BroadcastDest("othercol", "discovery"), "/exchange/othercol_broadcast/discovery"},
		{"directed", DirectedDest("mcollective", "node1.example"), "/exchange/mcollective_directed/node1.example"},
		{"temp reply name", TempReplyName("rpcutil"), "mcollective_reply_rpcutil"},
		{"temp queue dest", TempQueueDest(TempReplyName("puppet")), "/temp-queue/mcollective_reply_puppet"},
		{"reply exchange", ReplyExchangeDest("client1.example", 4242, 1), "/exchange/mcollective_reply/client1.example_4242_1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestSendHeaders(t *testing.T) {
	for _, tc := range []struct {
		name     string
		h        SendHeaders
		identity string
		want     []header
	}{
		{"request", SendHeaders{ReplyTo: "/temp-queue/mcollective_reply_rpcutil", TTL: 60 * time.Second}, "client1",
			[]header{{"reply-to", "/temp-queue/mcollective_reply_rpcutil"}, {"expiration", "70000"}, {"mc_sender", "client1"}}},
		{"reply", SendHeaders{TTL: 30 * time.Second}, "node1",
			[]header{{"expiration", "40000"}, {"mc_sender", "node1"}}},
		{"sub-second ttl", SendHeaders{TTL: 1500 * time.Millisecond}, "", []header{{"expiration", "11500"}}},
		{"nothing", SendHeaders{}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sendHeaders(tc.h, tc.identity); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("sendHeaders = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBrokerAddr(t *testing.T) {
	for _, tc := range []struct {
		b    Broker
		want string
	}{
		{Broker{Host: "rabbit.example"}, "rabbit.example:61613"},
		{Broker{Host: "127.0.0.1", Port: 6164}, "127.0.0.1:6164"},
		{Broker{Host: "::1", Port: 61614}, "[::1]:61614"},
	} {
		if got := tc.b.Addr(); got != tc.want {
			t.Errorf("%+v.Addr() = %q, want %q", tc.b, got, tc.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.InitialReconnectDelay != 10*time.Millisecond || o.BackoffMultiplier != 2 ||
		o.MaxReconnectDelay != 30*time.Second || o.ConnectTimeout != 30*time.Second ||
		o.VHost != "/" || o.QueueSize != 1000 || o.MaxBody != 8<<20 || o.Logger == nil {
		t.Errorf("defaults = %+v", o)
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{initial: 10 * time.Millisecond, max: 50 * time.Millisecond, mult: 2}
	var got []time.Duration
	for range 5 {
		got = append(got, b.next())
	}
	want := []time.Duration{10, 20, 40, 50, 50}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("backoff = %v, want %v", got, want)
	}
	for _, tc := range []struct {
		r    float64
		want time.Duration
	}{{0, 50 * time.Millisecond}, {0.5, 100 * time.Millisecond}, {0.999, 149900 * time.Microsecond}} {
		if got := jitter(100*time.Millisecond, tc.r); got != tc.want {
			t.Errorf("jitter(100ms, %v) = %v, want %v", tc.r, got, tc.want)
		}
	}
}

func TestHeartbeat(t *testing.T) {
	for _, tc := range []struct {
		in, interval, slack time.Duration
	}{
		{0, 0, 0},
		{time.Second, time.Second, 500 * time.Millisecond},
		{30 * time.Second, 30 * time.Second, 5 * time.Second},
	} {
		if i, s := heartbeat(tc.in); i != tc.interval || s != tc.slack {
			t.Errorf("heartbeat(%v) = %v, %v; want %v, %v", tc.in, i, s, tc.interval, tc.slack)
		}
	}
}

func TestNewMessage(t *testing.T) {
	m := frame.New(frame.MESSAGE, "destination", "/queue/amq.gen-x", "subscription", "/temp-queue/r",
		"reply-to", "/reply-queue/amq.gen-y", "mc_sender", "a", "mc_sender", "b")
	m.Body = []byte("i\x00")
	got := newMessage(m)
	if got.Destination != "/queue/amq.gen-x" || got.Subscription != "/temp-queue/r" ||
		got.ReplyTo != "/reply-queue/amq.gen-y" || got.Headers["mc_sender"] != "a" || string(got.Body) != "i\x00" {
		t.Errorf("newMessage = %+v", got)
	}
}

func TestDialUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	pool := []Broker{{Host: "127.0.0.1", Port: addr.Port}}

	t.Run("max attempts", func(t *testing.T) {
		_, err := Dial(context.Background(), Options{Pool: pool, MaxReconnectAttempts: 3})
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Dial = %v, want ErrUnavailable", err)
		}
	})
	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := Dial(ctx, Options{Pool: pool})
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Dial = %v, want ErrUnavailable and DeadlineExceeded", err)
		}
	})
	t.Run("empty pool", func(t *testing.T) {
		if _, err := Dial(context.Background(), Options{}); err == nil {
			t.Fatal("Dial with an empty pool succeeded")
		}
	})
}

func TestBrokerError(t *testing.T) {
	f := frame.New(frame.ERROR, frame.Message, "not_found")
	f.Body = []byte("NOT_FOUND - no exchange 'dev_broadcast' in vhost '/mcollective'")
	e := newBrokerError(f)
	if e.Exchange != "dev_broadcast" || e.VHost != "/mcollective" {
		t.Fatalf("exchange %q vhost %q", e.Exchange, e.VHost)
	}
	for _, want := range []string{`"not_found"`, "rabbitmqadmin --vhost=/mcollective declare exchange name=dev_broadcast type=topic",
		"/api/exchanges/%2Fmcollective/dev_broadcast"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("Error() = %q, want it to contain %q", e.Error(), want)
		}
	}
	f = frame.New(frame.ERROR, frame.Message, "access_refused")
	if e := newBrokerError(f); e.Hint() != "" || e.Error() != `the broker sent ERROR "access_refused"` {
		t.Errorf("login refusal: %q, hint %q", e.Error(), e.Hint())
	}
	if ExchangeType("x_directed") != "direct" || ExchangeType("x_broadcast") != "topic" {
		t.Error("ExchangeType")
	}
}

func TestLogLimit(t *testing.T) {
	l := logLimit{every: 10 * time.Second}
	t0 := time.Unix(1000, 0)
	var passed []int
	for i := range 25 {
		if held, ok := l.pass("k", t0.Add(time.Duration(i)*time.Second)); ok {
			passed = append(passed, held)
		}
	}
	// At 0s, 10s and 20s; the second and third carry the nine held back before them.
	if !reflect.DeepEqual(passed, []int{0, 9, 9}) {
		t.Errorf("passed %v, want [0 9 9]", passed)
	}
	if _, ok := l.pass("other", t0); !ok {
		t.Error("another key is held back")
	}
}
