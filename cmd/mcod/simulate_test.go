package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/config"
)

// lineWriter hands each write to a channel.
type lineWriter struct {
	mu sync.Mutex
	ch chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ch <- string(p)
	return len(p), nil
}

func TestSimulateOnEmbeddedBroker(t *testing.T) {
	cfg, err := config.Parse(strings.NewReader("identity = simhost\ncollectives = simc\nmain_collective = simc\nsecurityprovider = psk\nplugin.psk = simpsk\nconnector = rabbitmq\n"), "sim.cfg")
	if err != nil {
		t.Fatal(err)
	}
	o := options{embedded: true, brokerListen: "127.0.0.1:0",
		sim: simOptions{nodes: 30, connections: 5, delay: "1ms,5ms", slow: "10%:10ms-20ms", seed: 2}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lineWriter{ch: make(chan string, 16)}
	errc := make(chan error, 1)
	go func() { errc <- simulate(ctx, cfg, o, slog.New(slog.DiscardHandler), out) }()
	select {
	case line := <-out.ch:
		if !strings.Contains(line, "simulating 30 nodes over 5 connections") || !strings.Contains(line, "every node answered") {
			t.Fatalf("first line %q", line)
		}
	case err := <-errc:
		t.Fatalf("simulate stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("no node answered within 60s")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("stopping: %v", err)
	}
}

func TestSimulateFlagsRefused(t *testing.T) {
	for _, c := range []struct{ delay, slow, want string }{
		{"5ms", "", "want P50,P99"},
		{"100ms,5ms", "", "below p50"},
		{"", "1%:1s", "want FRACTION:MIN-MAX"},
		{"", "200%:1s-2s", "between 0 and 1"},
	} {
		_, err := parseDelay(simOptions{delay: c.delay, slow: c.slow})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--simulate-delay %q --simulate-slow %q: %v, want %q", c.delay, c.slow, err, c.want)
		}
	}
	d, err := parseDelay(simOptions{delay: "5ms,100ms", slow: "1%:800ms-1.5s", seed: 9})
	if err != nil || d.P50 != 5*time.Millisecond || d.P99 != 100*time.Millisecond || d.Slow != 0.01 || d.SlowMax != 1500*time.Millisecond || d.Seed != 9 {
		t.Fatalf("%+v, %v", d, err)
	}
	if d, err := parseDelay(simOptions{}); d != nil || err != nil {
		t.Fatalf("no flags: %+v, %v", d, err)
	}
}
