package clock

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Fake is a Clock whose time moves only when nothing can run: it counts the goroutines of
// the path that are running (the one that called NewFake, and every one started with Go)
// and, when every one of them is blocked in Wait, moves to the earliest deadline any of
// them waits for and wakes the waiters due then. A message in flight is a running
// goroutine (the in-memory bus delivers with Go), so time never passes while a delivery is
// pending, and the order of events is the same on every run.
//
// An Event fired for a waiting goroutine hands it the right to run at once, so time cannot
// move between the Fire and the waiter waking up. A wait that ends because its context was
// cancelled from outside the path, or because one of its extra channels was closed, takes
// that right back itself; only those (interrupts, shutdown) are not instantaneous.
//
// Every goroutine of the path must wait only through the Clock: one that blocks on
// anything else while time must move keeps the time still. Stop ends that for good.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	start   time.Time
	running int
	waiters map[*waiter]struct{}
	timers  map[*timer]struct{}
	stopped bool
}

type waiter struct {
	ev    *Event
	until time.Time // zero: none
	wake  chan struct{}
	woken bool
}

type timer struct {
	at     time.Time
	cancel context.CancelFunc
	ctx    *fakeCtx
}

// NewFake returns a fake clock at start. The calling goroutine counts as running until it
// waits on the clock.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, start: start, running: 1, waiters: map[*waiter]struct{}{}, timers: map[*timer]struct{}{}}
}

var _ Clock = (*Fake)(nil)

// Now implements Clock.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Elapsed is the time the clock moved since NewFake.
func (f *Fake) Elapsed() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now.Sub(f.start)
}

// Sleep waits d on the clock, or until ctx ends, and returns ctx.Err(). With it a Fake is
// also a playbook clock.
func (f *Fake) Sleep(ctx context.Context, d time.Duration) error { return Sleep(ctx, f, d) }

// Go implements Clock.
func (f *Fake) Go(fn func()) {
	f.mu.Lock()
	f.running++
	f.mu.Unlock()
	go func() {
		defer func() {
			f.mu.Lock()
			f.running--
			f.advance()
			f.mu.Unlock()
		}()
		fn()
	}()
}

// NewEvent implements Clock.
func (f *Fake) NewEvent() *Event { return &Event{ch: make(chan struct{}, 1), fake: f} }

// fire wakes e's waiter, handing it the right to run, or keeps the fire for the next Wait.
func (f *Fake) fire(e *Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for w := range f.waiters {
		if w.ev == e {
			f.wake(w)
			return
		}
	}
	select {
	case e.ch <- struct{}{}:
	default:
	}
}

type deadlineKey struct{ f *Fake }

// fakeDeadline is the earliest deadline that WithTimeout of f set on ctx, if any.
func (f *Fake) fakeDeadline(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(deadlineKey{f}).(time.Time)
	return t, ok
}

type fakeCtx struct {
	context.Context
	f        *Fake
	deadline time.Time
	expired  atomic.Bool
}

func (c *fakeCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Err reports context.DeadlineExceeded once the fake time reached the deadline, as a
// context.WithTimeout does.
func (c *fakeCtx) Err() error {
	err := c.Context.Err()
	if err != nil && c.expired.Load() {
		return context.DeadlineExceeded
	}
	return err
}

func (c *fakeCtx) Value(key any) any {
	if k, ok := key.(deadlineKey); ok && k.f == c.f {
		return c.deadline
	}
	return c.Context.Value(key)
}

// WithTimeout implements Clock: the context is cancelled when the fake time reaches its
// deadline.
func (f *Fake) WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	cctx, cancel := context.WithCancel(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	at := f.now.Add(d)
	if p, ok := f.fakeDeadline(ctx); ok && p.Before(at) {
		at = p
	}
	fc := &fakeCtx{Context: cctx, f: f, deadline: at}
	if !at.After(f.now) || f.stopped {
		fc.expired.Store(true)
		cancel()
		return fc, cancel
	}
	t := &timer{at: at, cancel: cancel, ctx: fc}
	f.timers[t] = struct{}{}
	return fc, func() {
		cancel()
		f.mu.Lock()
		delete(f.timers, t)
		f.mu.Unlock()
	}
}

// Wait implements Clock.
func (f *Fake) Wait(ctx context.Context, ev *Event, until time.Time, also ...<-chan struct{}) error {
	f.mu.Lock()
	if ev != nil {
		select {
		case <-ev.ch:
			f.mu.Unlock()
			return nil
		default:
		}
	}
	if p, ok := f.fakeDeadline(ctx); ok && (until.IsZero() || p.Before(until)) {
		until = p
	}
	if f.stopped || ctx.Err() != nil || (!until.IsZero() && !until.After(f.now)) {
		f.mu.Unlock()
		return ctx.Err()
	}
	w := &waiter{ev: ev, until: until, wake: make(chan struct{})}
	f.waiters[w] = struct{}{}
	f.running--
	f.advance()
	f.mu.Unlock()

	a0, a1 := extra(also)
	select {
	case <-w.wake:
		return ctx.Err()
	case <-ctx.Done():
	case <-a0:
	case <-a1:
	}
	f.mu.Lock()
	if !w.woken {
		delete(f.waiters, w)
		w.woken = true
		f.running++
	}
	f.mu.Unlock()
	return ctx.Err()
}

// wake ends w's wait and counts it as running. f.mu is held.
func (f *Fake) wake(w *waiter) {
	delete(f.waiters, w)
	w.woken = true
	f.running++
	close(w.wake)
}

// advance moves the time while nothing runs: to the earliest deadline, cancelling the
// contexts and waking the waiters due then. f.mu is held.
func (f *Fake) advance() {
	for f.running == 0 && !f.stopped {
		var next time.Time
		for w := range f.waiters {
			if !w.until.IsZero() && (next.IsZero() || w.until.Before(next)) {
				next = w.until
			}
		}
		for t := range f.timers {
			if next.IsZero() || t.at.Before(next) {
				next = t.at
			}
		}
		if next.IsZero() {
			return // everything waits for an event: nothing to move time for
		}
		if next.After(f.now) {
			f.now = next
		}
		for t := range f.timers {
			if !t.at.After(f.now) {
				delete(f.timers, t)
				t.ctx.expired.Store(true)
				t.cancel()
			}
		}
		for w := range f.waiters {
			if !w.until.IsZero() && !w.until.After(f.now) {
				f.wake(w)
			}
		}
	}
}

// Stop ends the fake time: every waiter wakes, every context made by WithTimeout is
// cancelled, and later waits return at once. Fleets call it when they close, so that
// nothing is left waiting for a time that will never come.
func (f *Fake) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	f.stopped = true
	for t := range f.timers {
		delete(f.timers, t)
		t.cancel()
	}
	for w := range f.waiters {
		f.wake(w)
	}
}
