package main

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// outage is a TCP proxy in front of the broker that can go down and come back on the same
// port, as a broker restart looks to its clients: every connection drops, connects are
// refused for a while, then the broker is back with none of the old subscriptions.
type outage struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func newOutage(t *testing.T, target string) *outage {
	t.Helper()
	o := &outage{t: t, target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.addr = ln.Addr().String()
	o.serve(ln)
	t.Cleanup(o.down)
	return o
}

func (o *outage) serve(ln net.Listener) {
	o.mu.Lock()
	o.ln = ln
	o.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", o.target)
			if err != nil {
				c.Close()
				continue
			}
			o.mu.Lock()
			o.conns = append(o.conns, c, b)
			o.mu.Unlock()
			go func() { _, _ = io.Copy(b, c); b.Close() }()
			go func() { _, _ = io.Copy(c, b); c.Close() }()
		}
	}()
}

// down closes the listener and every proxied connection.
func (o *outage) down() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ln != nil {
		o.ln.Close()
		o.ln = nil
	}
	for _, c := range o.conns {
		c.Close()
	}
	o.conns = nil
}

// up listens again on the same address.
func (o *outage) up() {
	o.t.Helper()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		o.t.Fatalf("relisten on %s: %v", o.addr, err)
	}
	o.serve(ln)
}

// TestReconnectAfterBrokerOutage takes the broker away from a running mcod for a few
// seconds, brings it back, and checks that stock mco gets the node's ping reply again
// without anyone touching mcod.
func TestReconnectAfterBrokerOutage(t *testing.T) {
	f := newFleet(t)
	o := newOutage(t, f.addr)
	host, port, _ := strings.Cut(o.addr, ":")
	f.start(nodeSpec{identity: "phoenix", facts: "role: web\n", classes: []string{"base"}, extra: "plugin.rabbitmq.pool.1.host = " + host + "\nplugin.rabbitmq.pool.1.port = " + port + "\nplugin.rabbitmq.max_reconnect_delay = 2\n"})
	if out := f.mco(t, "find"); !strings.Contains(out, "phoenix") {
		t.Fatalf("before the outage: mco find = %q", out)
	}

	o.down()
	f.waitLog(t, "phoenix", "connection lost, reconnecting", 15*time.Second)
	time.Sleep(3 * time.Second) // connects are refused for a while, as during a restart
	o.up()
	f.waitLog(t, "phoenix", "connector: reconnected", 30*time.Second)

	if out := f.mco(t, "ping"); !strings.Contains(out, "phoenix") {
		t.Fatalf("after the outage: mco ping =\n%s", out)
	}
}
