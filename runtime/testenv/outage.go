package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Outage is a TCP proxy in front of a broker that can go down and come back on the same
// address, as a broker restart looks to its clients: every connection drops, connects are
// refused for a while, then the broker is back with none of the old subscriptions or
// temp queues. Point a pool at Addr.
type Outage struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

// NewOutage starts a proxy to target on a free loopback port; it is taken down when the test
// ends.
func NewOutage(t testing.TB, target string) *Outage {
	t.Helper()
	o := &Outage{target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.addr = ln.Addr().String()
	o.serve(ln)
	t.Cleanup(o.Down)
	return o
}

// Addr is the proxy's host:port.
func (o *Outage) Addr() string { return o.addr }

func (o *Outage) serve(ln net.Listener) {
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

// Down closes the listener and every proxied connection.
func (o *Outage) Down() {
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

// Up listens again on the same address. It returns an error rather than failing the test,
// since it may run on a goroutine of its own.
func (o *Outage) Up() error {
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	o.serve(ln)
	return nil
}
