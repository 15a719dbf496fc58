package connector

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
)

// Message is a MESSAGE frame as handed to a Handler.
type Message struct {
	// Destination is the frame's destination header. For temp-queue replies
	// RabbitMQ sets it to the underlying queue (/queue/amq.gen-…).
	Destination string
	// ReplyTo is the reply-to header: where a responder sends its reply,
	// verbatim (RabbitMQ rewrites /temp-queue/… to /reply-queue/…).
	ReplyTo string
	// Subscription is the subscription header; /temp-queue/<name> for replies
	// to a temp queue.
	Subscription string
	// Headers holds every header; for a repeated key, the first value.
	Headers map[string]string
	Body    []byte
}

// Handler receives the messages of one subscription, one at a time, on a
// goroutine of its own.
type Handler func(Message)

// Subscription is a subscription made by Conn.Subscribe or Conn.SubscribeTemp.
// It outlives reconnects: the Conn re-establishes it on every new connection
// until Unsubscribe or Close.
type Subscription struct {
	c       *Conn
	dest    string
	temp    bool
	h       Handler
	queue   chan Message
	stop    chan struct{}
	stopped sync.Once
	dropped atomic.Uint64

	// local, when set, ends a subscription that no broker connection backs (see
	// LocalSubscription).
	local func()

	mu     sync.Mutex
	gen    uint64 // generation of the connection ss belongs to
	ss     *stomp.Subscription
	closed bool
}

// Subscribe subscribes to dest, such as BroadcastDest or DirectedDest, and
// calls h for every message. The SUBSCRIBE frame is sent now when connected,
// else after the next reconnect.
func (c *Conn) Subscribe(dest string, h Handler) (*Subscription, error) {
	return c.subscribe(dest, false, h)
}

// SubscribeTemp registers the RabbitMQ temp-queue /temp-queue/<name> (see
// TempReplyName) and calls h for every reply routed to it. No SUBSCRIBE frame
// is sent: the broker creates the queue when a SEND carries
// reply-to:/temp-queue/<name> on this connection, and its replies arrive as
// MESSAGE frames with subscription:/temp-queue/<name>. A temp queue belongs to
// one connection, so replies in flight across a reconnect are lost.
func (c *Conn) SubscribeTemp(name string, h Handler) (*Subscription, error) {
	return c.subscribe(TempQueueDest(name), true, h)
}

func (c *Conn) subscribe(dest string, temp bool, h Handler) (*Subscription, error) {
	if dest == "" || dest == TempQueueDest("") {
		return nil, errors.New("subscribe: empty destination")
	}
	if h == nil {
		return nil, fmt.Errorf("subscribe %s: nil handler", dest)
	}
	s := &Subscription{
		c:     c,
		dest:  dest,
		temp:  temp,
		h:     h,
		queue: make(chan Message, c.opts.QueueSize),
		stop:  make(chan struct{}),
	}
	c.mu.Lock()
	if c.closed || c.err != nil {
		err := c.err
		c.mu.Unlock()
		if err == nil {
			err = ErrClosed
		}
		return nil, fmt.Errorf("subscribe %s: %w", dest, err)
	}
	c.subs[s] = struct{}{}
	sc, gen := c.sc, c.gen
	c.mu.Unlock()

	go s.deliver()
	if sc != nil {
		if err := s.attach(sc, gen); err != nil {
			// The connection is going away; the supervisor resubscribes.
			c.log.Debug("connector: subscribe deferred to reconnect", "destination", dest, "err", err)
		}
	}
	return s, nil
}

// LocalSubscription is a Subscription that no broker connection backs, for transports
// that deliver in memory (the test fleet's bus): Unsubscribe calls end once and does
// nothing else.
func LocalSubscription(dest string, end func()) *Subscription {
	return &Subscription{dest: dest, local: end}
}

// Destination returns the subscribed destination (/temp-queue/<name> for a
// temp subscription).
func (s *Subscription) Destination() string { return s.dest }

// Dropped returns how many messages were dropped because the handler's queue
// was full or the body exceeded Options.MaxBody.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Unsubscribe ends the subscription: it stops the handler goroutine and, when
// connected, sends UNSUBSCRIBE (for a temp queue it only forgets the
// registration). A handler call already running finishes; no new one starts.
// It may be called from the handler itself. Idempotent.
//
// go-stomp's own Unsubscribe can miss the wake-up that ends its wait for the
// broker's RECEIPT and then sits out its timeout, so it runs on a goroutine of
// its own and Unsubscribe never waits for it; errors are logged.
func (s *Subscription) Unsubscribe() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ss := s.ss
	s.ss = nil
	s.mu.Unlock()
	if s.local != nil {
		s.local()
		return nil
	}

	s.stopDelivery()
	s.c.mu.Lock()
	delete(s.c.subs, s)
	s.c.mu.Unlock()
	if ss == nil || !ss.Active() {
		return nil
	}
	done := s.c.unsubscribing()
	go func() {
		defer close(done)
		err := ss.Unsubscribe()
		if err != nil && !errors.Is(err, stomp.ErrClosedUnexpectedly) && !errors.Is(err, stomp.ErrCompletedSubscription) {
			s.c.log.Debug("connector: unsubscribe", "destination", s.dest, "err", err)
		}
	}()
	return nil
}

func (s *Subscription) stopDelivery() {
	s.stopped.Do(func() { close(s.stop) })
}

// attach subscribes on connection sc of generation gen, unless s is closed or
// already attached to that or a newer connection.
func (s *Subscription) attach(sc *stomp.Conn, gen uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || gen <= s.gen {
		return nil
	}
	var opts []func(*frame.Frame) error
	if s.temp {
		opts = append(opts, stomp.SubscribeOpt.Header(stomp.ReplyToHeader, s.dest))
	}
	if !s.c.track() {
		return fmt.Errorf("subscribe %s: %w", s.dest, ErrClosed)
	}
	ss, err := sc.Subscribe(s.dest, stomp.AckAuto, opts...)
	if err != nil {
		s.c.wg.Done()
		return fmt.Errorf("subscribe %s: %w", s.dest, err)
	}
	s.ss, s.gen = ss, gen
	go s.drain(ss)
	return nil
}

// drain moves go-stomp's messages into the bounded queue without ever
// blocking, so the connection's reader never waits for a handler.
func (s *Subscription) drain(ss *stomp.Subscription) {
	defer s.c.wg.Done()
	log := s.c.log
	for m := range ss.C {
		if m.Err != nil {
			log.Debug("connector: subscription interrupted", "destination", s.dest, "err", m.Err)
			continue
		}
		select {
		case <-s.stop:
			continue
		default:
		}
		if len(m.Body) > s.c.opts.MaxBody {
			n := s.dropped.Add(1)
			log.Warn("connector: message dropped: body too large", "destination", s.dest,
				"bytes", len(m.Body), "max", s.c.opts.MaxBody, "dropped", n)
			continue
		}
		select {
		case s.queue <- newMessage(m):
		default:
			n := s.dropped.Add(1)
			log.Warn("connector: message dropped: handler queue full", "destination", s.dest,
				"queue", cap(s.queue), "dropped", n)
		}
	}
}

// deliver calls the handler for each queued message until stopped.
func (s *Subscription) deliver() {
	for {
		select {
		case <-s.stop:
			return
		case m := <-s.queue:
			select {
			case <-s.stop:
				return
			default:
			}
			s.call(m)
		}
	}
}

func (s *Subscription) call(m Message) {
	defer func() {
		if r := recover(); r != nil {
			s.c.log.Error("connector: handler panicked", "destination", s.dest, "panic", fmt.Sprint(r))
		}
	}()
	s.h(m)
}

func newMessage(m *stomp.Message) Message {
	h := make(map[string]string, m.Header.Len())
	for i := range m.Header.Len() {
		k, v := m.Header.GetAt(i)
		if _, dup := h[k]; !dup {
			h[k] = v
		}
	}
	return Message{
		Destination:  m.Destination,
		ReplyTo:      h["reply-to"],
		Subscription: h["subscription"],
		Headers:      h,
		Body:         m.Body,
	}
}
