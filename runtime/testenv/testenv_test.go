package testenv

import (
	"net"
	"testing"
)

func TestRequireRabbitMQOverride(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv(StompAddrEnv, ln.Addr().String())
	if got := RequireRabbitMQ(t); got != ln.Addr().String() {
		t.Fatalf("RequireRabbitMQ = %q, want %q", got, ln.Addr().String())
	}
}

// fakeTB records whether Skip or Fatal was called, and stops like testing.T does.
type fakeTB struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Skipf(string, ...any)  { f.skipped = true; panic(f) }
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true; panic(f) }

func run(tb *fakeTB, fn func(testing.TB)) {
	defer func() {
		if r := recover(); r != nil && r != tb {
			panic(r)
		}
	}()
	fn(tb)
}

func TestSkipOrFail(t *testing.T) {
	// A closed port: nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv(StompAddrEnv, addr)
	for _, tc := range []struct {
		ci         string
		skip, fail bool
	}{
		{"", true, false},
		{"false", true, false},
		{"true", false, true},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			tb := &fakeTB{}
			run(tb, func(tb testing.TB) { RequireRabbitMQ(tb) })
			if tb.skipped != tc.skip || tb.failed != tc.fail {
				t.Fatalf("skipped=%v failed=%v, want skipped=%v failed=%v", tb.skipped, tb.failed, tc.skip, tc.fail)
			}
		})
	}
}
