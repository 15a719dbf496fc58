// Package bus is an in-memory message bus for fleets that run in one process: the test
// fleet of `mcorun test` and of the Go tests. It replaces only the network. Routing is
// the embedded broker's own rule (broker.Table); the client and the nodes on it are the
// production runtime/client and runtime/server, so every rule of discovery, routing,
// filtering, validation and reply collection is the real one.
//
// Every delivery runs on a goroutine started with the bus's clock, so a clock.Fake never
// moves its time while a message is in flight.
package bus

import (
	"context"
	"errors"
	"sync"

	"github.com/mcorun/mcorun/runtime/broker"
	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/connector"
)

// ErrClosed is returned by the Conns of a closed bus.
var ErrClosed = errors.New("bus: closed")

// Bus routes messages between its Conns.
type Bus struct {
	clk clock.Clock

	mu     sync.Mutex
	table  *broker.Table[*sub]
	closed bool
	// Drop, when set, is asked for every delivery and drops it when it returns true: the
	// network losing a message. It runs under the bus's lock and must not call the bus.
	drop func(Envelope) bool
}

// Envelope is one delivery as the network sees it.
type Envelope struct {
	From string // the identity of the sending Conn
	To   string // the identity of the receiving Conn
	Dest string
	Body []byte
}

type sub struct {
	owner string
	dest  string
	h     connector.Handler
	mu    sync.Mutex // one delivery at a time per subscription, as a connector does
	done  bool
}

// New returns a bus whose deliveries run on clk's goroutines.
func New(clk clock.Clock) *Bus {
	return &Bus{clk: clk, table: broker.NewTable[*sub]()}
}

// SetDrop sets the function that decides which deliveries the network loses; nil loses
// none.
func (b *Bus) SetDrop(drop func(Envelope) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.drop = drop
}

// Conn is one party's connection to the bus. It implements the Transport of
// runtime/client and of runtime/server.
func (b *Bus) Conn(identity string) *Conn { return &Conn{b: b, id: identity} }

// Close makes every later Send and Subscribe fail; deliveries already started finish.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
}

// Conn is a party's connection.
type Conn struct {
	b  *Bus
	id string
}

// Subscribe receives the messages sent to dest from now on.
func (c *Conn) Subscribe(dest string, h connector.Handler) (*connector.Subscription, error) {
	s := &sub{owner: c.id, dest: dest, h: h}
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.b.closed {
		return nil, ErrClosed
	}
	c.b.table.Add(s, dest)
	return connector.LocalSubscription(dest, func() {
		c.b.mu.Lock()
		c.b.table.Remove(s)
		c.b.mu.Unlock()
		s.mu.Lock()
		s.done = true
		s.mu.Unlock()
	}), nil
}

// SubscribeTemp receives the messages sent to connector.TempQueueDest(name), as a
// RabbitMQ temp queue does.
func (c *Conn) SubscribeTemp(name string, h connector.Handler) (*connector.Subscription, error) {
	return c.Subscribe(connector.TempQueueDest(name), h)
}

// Send delivers body to every subscription on dest, each on a goroutine of the clock.
func (c *Conn) Send(ctx context.Context, dest string, body []byte, h connector.SendHeaders) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.b.closed {
		return ErrClosed
	}
	for _, s := range c.b.table.Route(dest) {
		if c.b.drop != nil && c.b.drop(Envelope{From: c.id, To: s.owner, Dest: dest, Body: body}) {
			continue
		}
		m := connector.Message{Destination: dest, ReplyTo: h.ReplyTo, Subscription: dest,
			Headers: map[string]string{"destination": dest}, Body: body}
		if h.ReplyTo != "" {
			m.Headers["reply-to"] = h.ReplyTo
		}
		c.b.clk.Go(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if !s.done {
				s.h(m)
			}
		})
	}
	return nil
}
