package starlib

import (
	"errors"
	"fmt"
	"time"

	"go.starlark.net/starlark"
)

// wait_until(fn, *, timeout="5m", every="5s")
//
// The calls fn makes reach the thread's Logger marked Polled, and the wait ends with one
// "wait" Event: how many times fn ran, how long the wait took and how it ended.
func waitUntil(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		fn      starlark.Callable
		timeout = Duration(5 * time.Minute)
		every   = Duration(5 * time.Second)
	)
	if err := maxPositional(b, args, 1); err != nil {
		return nil, err
	}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "fn", &fn, "timeout?", &timeout, "every?", &every); err != nil {
		return nil, err
	}
	if every <= 0 {
		return nil, errors.New("wait_until: every must be positive")
	}
	logger := loggerOf(thread)
	SetLogger(thread, pollLogger{logger})
	defer SetLogger(thread, logger)
	clock := clockOf(thread)
	start := clock.Now()
	ev := Event{Kind: "wait"}
	v, err := poll(thread, fn, time.Duration(timeout), time.Duration(every), &ev.Polls)
	ev.Duration = clock.Now().Sub(start)
	if err != nil {
		ev.Err = err.Error()
	}
	logger.Step(ev)
	return v, err
}

// poll calls fn until it returns a true value, every `every`, for at most timeout, counting
// the calls in polls.
func poll(thread *starlark.Thread, fn starlark.Callable, timeout, every time.Duration, polls *int) (starlark.Value, error) {
	clock := clockOf(thread)
	deadline := clock.Now().Add(timeout)
	for {
		*polls++
		v, err := starlark.Call(thread, fn, nil, nil)
		if err != nil {
			return nil, err
		}
		if v.Truth() {
			return v, nil
		}
		left := deadline.Sub(clock.Now())
		if left <= 0 {
			return nil, fmt.Errorf("wait_until: timed out after %s", timeout)
		}
		if err := sleepFor(thread, min(every, left)); err != nil {
			return nil, fmt.Errorf("wait_until: %w", err)
		}
	}
}

// pollLogger passes on what a wait_until's function logs, its calls marked Polled.
type pollLogger struct{ Logger }

func (p pollLogger) Step(ev Event) {
	ev.Polled = true
	p.Logger.Step(ev)
}
