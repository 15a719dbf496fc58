package connector

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

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
	local     func()
	localOnce sync.Once
}

// Subscribe subscribes to dest, such as BroadcastDest or DirectedDest, and
// calls h for every message. The SUBSCRIBE frame is queued now when connected,
// else sent after the next reconnect; messages sent on this Conn after
// Subscribe returns reach the broker after it.
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
	var err error
	if !c.do(func(st *state) { err = st.subscribe(s) }) {
		err = c.stopped()
	}
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", dest, err)
	}
	go s.deliver()
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
// connected, queues an UNSUBSCRIBE (for a temp queue it only forgets the
// registration); nothing waits for the broker's answer. A handler call already
// running finishes; no new one starts. It may be called from the handler
// itself. Idempotent.
func (s *Subscription) Unsubscribe() error {
	if s.local != nil {
		s.localOnce.Do(s.local)
		return nil
	}
	s.stopDelivery()
	s.c.do(func(st *state) { st.unsubscribe(s) })
	return nil
}

func (s *Subscription) stopDelivery() {
	s.stopped.Do(func() { close(s.stop) })
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

func newMessage(f *frame.Frame) Message {
	h := make(map[string]string, f.Header.Len())
	for i := range f.Header.Len() {
		k, v := f.Header.GetAt(i)
		if _, dup := h[k]; !dup {
			h[k] = v
		}
	}
	return Message{
		Destination:  h["destination"],
		ReplyTo:      h["reply-to"],
		Subscription: h["subscription"],
		Headers:      h,
		Body:         f.Body,
	}
}
