// Package testenv lets tests find the real services they need, and decides
// what happens when one is missing: the test is skipped, except under CI
// (CI=true), where a missing service fails it.
package testenv

import (
	"net"
	"os"
	"testing"
	"time"
)

// DefaultStompAddr is where the integration tests expect RabbitMQ's STOMP
// listener (see .ci/setup-services).
const DefaultStompAddr = "127.0.0.1:61613"

// StompAddrEnv names the environment variable that overrides DefaultStompAddr.
const StompAddrEnv = "MCORUN_TEST_STOMP"

// InCI reports whether the tests run under CI (CI=true), where missing
// services are failures.
func InCI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail skips the test with the formatted message, or fails it when
// running under CI.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// RequireRabbitMQ returns the address of RabbitMQ's STOMP listener, or skips
// (under CI, fails) the test when nothing accepts connections there.
func RequireRabbitMQ(t testing.TB) (addr string) {
	t.Helper()
	addr = os.Getenv(StompAddrEnv)
	if addr == "" {
		addr = DefaultStompAddr
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		SkipOrFail(t, "rabbitmq STOMP not reachable at %s: run .ci/setup-services (%v)", addr, err)
		return ""
	}
	_ = c.Close()
	return addr
}
