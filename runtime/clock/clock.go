// Package clock is the one time source of a call's path: the client's reply and discovery
// waits, its pause between batches, the node pipeline's action timeouts and the agents'
// clocks all take a Clock. Production uses Real. The in-memory test fleet uses a Fake,
// whose time moves only when nothing on the path can run, so a playbook test sees the
// timeouts, slow nodes and batch pauses of a real fleet without waiting for them, and sees
// them the same way on every run.
//
// Code on the path waits in exactly three ways, each through the clock: it starts
// goroutines with Go, waits with Wait (for an Event, a deadline, or its context), and makes
// deadlines with WithTimeout. That is what lets a Fake know when everything is blocked.
package clock

import (
	"context"
	"time"
)

// Clock is a time source and the waits that depend on it.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// Go runs f on a new goroutine.
	Go(f func())
	// Wait blocks until ev fires (ev may be nil), the time reaches until (the zero time is
	// no deadline), ctx ends, or one of also is closed or receives. It returns ctx.Err()
	// when ctx ended and nil otherwise; the caller looks at what it waited for to know
	// which happened. A deadline of ctx made by WithTimeout counts as a deadline of Wait.
	Wait(ctx context.Context, ev *Event, until time.Time, also ...<-chan struct{}) error
	// WithTimeout is context.WithTimeout measured on this clock.
	WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc)
	// NewEvent returns an event to Wait for.
	NewEvent() *Event
}

// Sleep waits d on c, or until ctx ends, and returns ctx.Err().
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	if err := c.Wait(ctx, nil, c.Now().Add(d)); err != nil {
		return err
	}
	return ctx.Err()
}

// Event is a wake-up signal with a memory of one: a Fire with nobody waiting is kept for
// the next Wait. Several Fires before a Wait count as one.
type Event struct {
	ch   chan struct{}
	fake *Fake // nil for the real clock
}

// Fire wakes the goroutine waiting for the event, or the next one to wait.
func (e *Event) Fire() {
	if e.fake != nil {
		e.fake.fire(e)
		return
	}
	select {
	case e.ch <- struct{}{}:
	default:
	}
}

// Real is the wall clock.
type Real struct{}

var _ Clock = Real{}

// Now implements Clock.
func (Real) Now() time.Time { return time.Now() }

// Go implements Clock.
func (Real) Go(f func()) { go f() }

// NewEvent implements Clock.
func (Real) NewEvent() *Event { return &Event{ch: make(chan struct{}, 1)} }

// WithTimeout implements Clock.
func (Real) WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

// Wait implements Clock.
func (Real) Wait(ctx context.Context, ev *Event, until time.Time, also ...<-chan struct{}) error {
	var timer <-chan time.Time
	if !until.IsZero() {
		d := time.Until(until)
		if d <= 0 {
			return ctx.Err()
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	var evc chan struct{}
	if ev != nil {
		evc = ev.ch
	}
	a0, a1 := extra(also)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-evc:
	case <-timer:
	case <-a0:
	case <-a1:
	}
	return nil
}

// extra spreads Wait's extra channels over two select cases; a missing one is nil, which
// never receives.
func extra(also []<-chan struct{}) (a0, a1 <-chan struct{}) {
	switch len(also) {
	case 0:
	case 1:
		a0 = also[0]
	case 2:
		a0, a1 = also[0], also[1]
	default:
		panic("clock: Wait takes at most two extra channels")
	}
	return a0, a1
}
