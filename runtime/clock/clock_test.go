package clock

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestFakeSleepMovesTimeExactly(t *testing.T) {
	f := NewFake(t0)
	if err := f.Sleep(context.Background(), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := f.Elapsed(); got != 90*time.Second {
		t.Fatalf("elapsed %v, want 90s", got)
	}
}

// A goroutine that fires after 5s wakes a waiter whose deadline is 10s at 5s, and the
// time does not move past 5s before the waiter runs.
func TestFakeEventBeforeDeadline(t *testing.T) {
	f := NewFake(t0)
	ev := f.NewEvent()
	f.Go(func() {
		_ = f.Sleep(context.Background(), 5*time.Second)
		ev.Fire()
	})
	f.Go(func() { _ = f.Sleep(context.Background(), 7*time.Second) }) // a later timer elsewhere
	if err := f.Wait(context.Background(), ev, t0.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := f.Elapsed(); got != 5*time.Second {
		t.Fatalf("woke at +%v, want +5s", got)
	}
}

// Time never moves while a started goroutine still runs.
func TestFakeWaitsForRunningGoroutines(t *testing.T) {
	f := NewFake(t0)
	release := make(chan struct{})
	var mu sync.Mutex
	var seen time.Duration
	f.Go(func() {
		<-release // blocked outside the clock: counts as running
		mu.Lock()
		seen = f.Elapsed()
		mu.Unlock()
	})
	done := make(chan error, 1)
	go func() { done <- f.Wait(context.Background(), nil, t0.Add(time.Second)) }()
	select {
	case <-done:
		t.Fatal("the time moved while a goroutine of the path was running")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen != 0 {
		t.Fatalf("the goroutine saw +%v, want +0s", seen)
	}
}

func TestFakeWithTimeout(t *testing.T) {
	f := NewFake(t0)
	ctx, cancel := f.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if dl, ok := ctx.Deadline(); !ok || !dl.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("deadline %v %v", dl, ok)
	}
	// a wait for an event nobody fires ends at the context's deadline
	err := f.Wait(ctx, f.NewEvent(), time.Time{})
	if !errors.Is(err, context.DeadlineExceeded) || f.Elapsed() != 3*time.Second {
		t.Fatalf("err %v at +%v, want deadline exceeded at +3s", err, f.Elapsed())
	}
	// a nested timeout never outlives its parent
	inner, cancel2 := f.WithTimeout(ctx, time.Hour)
	defer cancel2()
	if inner.Err() == nil {
		t.Fatal("a timeout inside an expired one is not expired")
	}
}

func TestFakeFireBeforeWaitIsKept(t *testing.T) {
	f := NewFake(t0)
	ev := f.NewEvent()
	ev.Fire()
	ev.Fire()
	if err := f.Wait(context.Background(), ev, t0.Add(time.Minute)); err != nil || f.Elapsed() != 0 {
		t.Fatalf("err %v at +%v: a kept fire ends the wait at once", err, f.Elapsed())
	}
	if err := f.Wait(context.Background(), ev, t0.Add(time.Minute)); err != nil || f.Elapsed() != time.Minute {
		t.Fatalf("err %v at +%v: two fires count as one", err, f.Elapsed())
	}
}

func TestFakeCancelFromOutside(t *testing.T) {
	f := NewFake(t0)
	ctx, cancel := context.WithCancel(context.Background())
	stop := make(chan struct{})
	f.Go(func() { <-stop }) // keeps the time still
	go func() { time.Sleep(5 * time.Millisecond); cancel() }()
	if err := f.Wait(ctx, nil, t0.Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want canceled", err)
	}
	close(stop)
}

func TestFakeStop(t *testing.T) {
	f := NewFake(t0)
	done := make(chan struct{})
	f.Go(func() { _ = f.Wait(context.Background(), f.NewEvent(), time.Time{}); close(done) })
	f.Stop()
	<-done
	if err := f.Sleep(context.Background(), time.Hour); err != nil {
		t.Fatal(err)
	}
}

// Many goroutines sleeping different times wake in order of their deadlines, each at its
// own time.
func TestFakeOrder(t *testing.T) {
	f := NewFake(t0)
	var mu sync.Mutex
	var order []time.Duration
	all := f.NewEvent()
	left := 5
	for _, s := range []int{5, 1, 4, 2, 3} {
		f.Go(func() {
			_ = f.Sleep(context.Background(), time.Duration(s)*time.Second)
			mu.Lock()
			order = append(order, f.Elapsed())
			left--
			if left == 0 {
				all.Fire()
			}
			mu.Unlock()
		})
	}
	if err := f.Wait(context.Background(), all, time.Time{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, d := range order {
		if d != time.Duration(i+1)*time.Second {
			t.Fatalf("wake times %v, want 1s..5s in order", order)
		}
	}
}

func TestRealWait(t *testing.T) {
	var c Real
	ev := c.NewEvent()
	ev.Fire()
	if err := c.Wait(context.Background(), ev, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := Sleep(context.Background(), c, 10*time.Millisecond); err != nil || time.Since(start) < 10*time.Millisecond {
		t.Fatalf("Sleep: %v after %v", err, time.Since(start))
	}
	closed := make(chan struct{})
	close(closed)
	if err := c.Wait(context.Background(), nil, time.Time{}, closed); err != nil {
		t.Fatal(err)
	}
}
