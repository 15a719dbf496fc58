package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

// inbound is a frame a link's reader read.
type inbound struct {
	l *link
	f *frame.Frame
}

// dialResult is the outcome of one pass over the pool made for the owner.
type dialResult struct {
	l    *link
	addr string
	err  error
}

// state is everything the owner goroutine holds. Only the owner touches it: the other
// goroutines ask through Conn.do, whose functions run here and never block.
type state struct {
	c   *Conn
	log *slog.Logger

	link    *link // the live connection; nil while disconnected
	gen     uint64
	broker  string        // address of the current or last broker
	since   time.Time     // when link came up
	down    chan struct{} // closed when link drops (Lost)
	up      chan struct{} // closed while a link is up; replaced when it drops
	cause   error         // why the last link dropped; nil once a new one is up
	dialErr error         // why the last pass over the pool failed; nil once connected

	subs   map[*Subscription]string // subscription -> its id
	byID   map[string]*Subscription // routing of MESSAGE frames by their subscription header
	nextID uint64

	bo     backoff
	passes int              // failed passes since the last connection
	dialed chan dialResult  // the pass in flight; nil when none
	retry  <-chan time.Time // the next pass; nil when none is scheduled
	timer  *time.Timer      // behind retry
	closeC <-chan time.Time // while closing: the end of the wait for DISCONNECT's receipt
	logs   logLimit

	closing bool
	exit    bool
}

func newState(c *Conn, bo backoff) *state {
	return &state{
		c: c, log: c.log, bo: bo,
		up:   make(chan struct{}),
		subs: map[*Subscription]string{},
		byID: map[string]*Subscription{},
		logs: logLimit{every: logEvery},
	}
}

// logEvery is how often a repeated connection event or drop is logged; the next line says
// how many were held back.
const logEvery = 10 * time.Second

// disconnectReceipt is the receipt id of Close's DISCONNECT.
const disconnectReceipt = "mcorun-disconnect"

// run is the owner goroutine.
func (s *state) run() {
	defer s.finish()
	for !s.exit {
		var dead <-chan struct{}
		if s.link != nil {
			dead = s.link.dead
		}
		select {
		case f := <-s.c.reqs:
			f(s)
		case in := <-s.c.frames:
			s.onFrame(in)
		case <-dead:
			s.onLost()
		case r := <-s.dialed:
			s.onDialed(r)
		case <-s.retry:
			s.retry = nil
			s.startDial()
		case <-s.closeC:
			s.exit = true
		}
	}
}

// install makes l the live connection and subscribes every subscription on it.
func (s *state) install(l *link, addr string) {
	s.gen++
	s.link, s.broker, s.since = l, addr, time.Now()
	s.down = make(chan struct{})
	close(s.up)
	var fs []*frame.Frame
	for sub, id := range s.subs {
		if !sub.temp {
			fs = append(fs, subscribeFrame(sub.dest, id))
		}
	}
	if len(fs) > 0 {
		l.queue(fs...)
	}
}

// onLost handles the end of the live link: it records why, wakes Lost's waiters and
// schedules the reconnect. The backoff starts again only after a connection that stayed up
// for HealthyAfter; otherwise it goes on growing, however quickly each connect succeeds.
func (s *state) onLost() {
	l := s.link
	s.link, s.cause = nil, l.err
	close(s.down)
	s.up = make(chan struct{})
	if s.closing {
		s.exit = true
		return
	}
	lived := time.Since(s.since)
	var be *BrokerError
	if errors.As(l.err, &be) {
		s.warn(slog.LevelError, "refused", "connector: the broker refused a frame and closed the connection, reconnecting",
			"broker", l.addr, "err", be.Error())
	} else {
		s.warn(slog.LevelWarn, "lost", "connector: connection lost, reconnecting", "broker", l.addr, "err", l.err)
	}
	if lived >= s.c.opts.HealthyAfter {
		s.bo.reset()
		s.passes = 0
		s.startDial()
		return
	}
	s.schedule(jitter(s.bo.next(), rand.Float64()))
}

// schedule starts the next pass over the pool after d.
func (s *state) schedule(d time.Duration) {
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		s.timer.Reset(d)
	}
	s.retry = s.timer.C
}

// startDial makes one pass over the pool on a goroutine of its own.
func (s *state) startDial() {
	ch := make(chan dialResult, 1)
	s.dialed = ch
	go func() {
		l, addr, err := s.c.connectPass(s.c.ctx)
		ch <- dialResult{l, addr, err}
	}()
}

func (s *state) onDialed(r dialResult) {
	s.dialed = nil
	if s.closing {
		if r.l != nil {
			r.l.fail(ErrClosed)
		}
		s.exit = true
		return
	}
	if r.err != nil {
		s.passes++
		s.dialErr = r.err
		s.warn(slog.LevelWarn, "connect", "connector: connect failed", "pass", s.passes, "err", r.err)
		if m := s.c.opts.MaxReconnectAttempts; m > 0 && s.passes >= m {
			s.c.err = fmt.Errorf("reconnect: %w after %d attempts: %w", ErrUnavailable, s.passes, r.err)
			s.log.Error("connector: giving up reconnecting", "err", s.c.err)
			s.exit = true
			return
		}
		s.schedule(jitter(s.bo.next(), rand.Float64()))
		return
	}
	s.passes, s.dialErr = 0, nil
	s.install(r.l, r.addr)
	s.warn(slog.LevelInfo, "reconnected", "connector: reconnected", "broker", r.addr, "subscriptions", len(s.subs))
	if f := s.c.opts.OnReconnect; f != nil {
		go f()
	}
}

// onFrame handles a frame from a link's reader; frames of links already replaced are
// dropped.
func (s *state) onFrame(in inbound) {
	if in.l != s.link {
		return
	}
	f := in.f
	switch f.Command {
	case frame.MESSAGE:
		s.deliver(f)
	case frame.RECEIPT:
		if s.closing && f.Header.Get(frame.ReceiptId) == disconnectReceipt {
			s.exit = true
		}
	}
}

// deliver queues a MESSAGE for its subscription's handler without waiting: a full queue or
// an oversized body drops it, counted and logged.
func (s *state) deliver(f *frame.Frame) {
	id := f.Header.Get(frame.Subscription)
	sub := s.byID[id]
	if sub == nil {
		s.warn(slog.LevelDebug, "unknown:"+id, "connector: message for no subscription dropped", "subscription", id)
		return
	}
	if len(f.Body) > s.c.opts.MaxBody {
		n := sub.dropped.Add(1)
		s.warn(slog.LevelWarn, "big:"+sub.dest, "connector: message dropped: body too large", "destination", sub.dest,
			"bytes", len(f.Body), "max", s.c.opts.MaxBody, "dropped", n)
		return
	}
	select {
	case sub.queue <- newMessage(f):
	default:
		n := sub.dropped.Add(1)
		s.warn(slog.LevelWarn, "full:"+sub.dest, "connector: message dropped: handler queue full", "destination", sub.dest,
			"queue", cap(sub.queue), "dropped", n)
	}
}

// subscribe registers sub and, when connected, sends its SUBSCRIBE.
func (s *state) subscribe(sub *Subscription) error {
	if s.closing {
		return ErrClosed
	}
	id := sub.dest
	if !sub.temp {
		s.nextID++
		id = fmt.Sprintf("mcorun-%d", s.nextID)
	}
	s.subs[sub] = id
	s.byID[id] = sub
	if s.link != nil && !sub.temp {
		s.link.queue(subscribeFrame(sub.dest, id))
	}
	return nil
}

// unsubscribe forgets sub and, when connected, sends its UNSUBSCRIBE. Nothing waits for the
// broker's answer.
func (s *state) unsubscribe(sub *Subscription) {
	id, ok := s.subs[sub]
	if !ok {
		return
	}
	delete(s.subs, sub)
	if s.byID[id] == sub {
		delete(s.byID, id)
	}
	if s.link != nil && !sub.temp {
		s.link.queue(frame.New(frame.UNSUBSCRIBE, frame.Id, id))
	}
}

// close starts Close: it stops the handlers and reconnecting, and sends DISCONNECT; the owner
// exits on its receipt, when the link drops, or after CloseWait.
func (s *state) close() {
	if s.closing {
		return
	}
	s.closing = true
	s.c.cancel() // a pass in flight ends at once
	s.retry = nil
	for sub := range s.subs {
		sub.stopDelivery()
	}
	clear(s.subs)
	clear(s.byID)
	switch {
	case s.link != nil:
		s.link.queue(frame.New(frame.DISCONNECT, frame.Receipt, disconnectReceipt))
		s.closeC = time.After(CloseWait)
	case s.dialed == nil:
		s.exit = true
	}
}

// finish runs when the owner exits: it ends the live link and a pass in flight, stops every
// handler, and waits a bounded time for the link's goroutines.
func (s *state) finish() {
	s.c.cancel()
	until := time.Now().Add(CloseWait) // one bound for every wait below
	var links []*link
	if s.link != nil {
		links = append(links, s.link)
		s.link.fail(ErrClosed)
		s.link = nil
		close(s.down)
	}
	if s.dialed != nil {
		t := time.NewTimer(time.Until(until))
		select {
		case r := <-s.dialed:
			if r.l != nil {
				r.l.fail(ErrClosed)
				links = append(links, r.l)
			}
		case <-t.C:
			go func(ch <-chan dialResult) {
				if r := <-ch; r.l != nil { // cancelled: ends within ConnectTimeout at most
					r.l.fail(ErrClosed)
				}
			}(s.dialed)
		}
		t.Stop()
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	for sub := range s.subs {
		sub.stopDelivery()
	}
	for _, l := range links {
		if !l.wait(time.Until(until)) {
			s.log.Warn("connector: connection goroutines still running after close", "broker", l.addr)
		}
	}
	s.c.lastBroker = s.broker
	if s.c.err == nil {
		s.log.Info("connector: closed")
	}
	close(s.c.done)
}

// warn logs a connection event or a drop, at most once per logEvery for each key; the line
// that passes says how many were held back since the last one.
func (s *state) warn(level slog.Level, key, msg string, args ...any) {
	held, ok := s.logs.pass(key, time.Now())
	if !ok {
		return
	}
	if held > 0 {
		args = append(args, "repeated", held)
	}
	s.log.Log(context.Background(), level, msg, args...)
}

// logLimit lets one line per key through every `every`, and counts the others.
type logLimit struct {
	every time.Duration
	last  map[string]time.Time
	held  map[string]int
}

// pass reports whether a line for key may be logged at now and, when it may, how many were
// held back before it.
func (l *logLimit) pass(key string, now time.Time) (held int, ok bool) {
	if l.last == nil {
		l.last, l.held = map[string]time.Time{}, map[string]int{}
	}
	if t, seen := l.last[key]; seen && now.Sub(t) < l.every {
		l.held[key]++
		return 0, false
	}
	l.last[key] = now
	held = l.held[key]
	delete(l.held, key)
	return held, true
}

// subscribeFrame is the SUBSCRIBE of dest under id, acknowledged automatically.
func subscribeFrame(dest, id string) *frame.Frame {
	return frame.New(frame.SUBSCRIBE, frame.Destination, dest, frame.Ack, "auto", frame.Id, id)
}
