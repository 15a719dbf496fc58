package testenv

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// DefaultStompTLSAddr is where the integration tests expect RabbitMQ's STOMP TLS listener,
// and DefaultTLSDir the test CA that signed its certificate (see .ci/setup-services).
const (
	DefaultStompTLSAddr = "127.0.0.1:61614"
	DefaultTLSDir       = "/var/lib/mcorun-ci/tls"
)

// Environment variables that override DefaultStompTLSAddr and DefaultTLSDir.
const (
	StompTLSAddrEnv = "MCORUN_TEST_STOMP_TLS"
	TLSDirEnv       = "MCORUN_TEST_TLS_DIR"
)

// StompTLS is RabbitMQ's STOMP TLS listener and the CA its clients must be signed by.
type StompTLS struct {
	Addr   string // host:port
	CACert string // PEM file of the CA certificate
	CAKey  string // PEM file of the CA's private key, to sign client certificates
}

// RequireStompTLS returns the STOMP TLS listener and its CA, or skips (under CI, fails) the
// test when the listener does not accept connections or the CA files cannot be read (the
// CA key is readable by root only).
func RequireStompTLS(t testing.TB) StompTLS {
	t.Helper()
	s := StompTLS{Addr: os.Getenv(StompTLSAddrEnv)}
	if s.Addr == "" {
		s.Addr = DefaultStompTLSAddr
	}
	dir := os.Getenv(TLSDirEnv)
	if dir == "" {
		dir = DefaultTLSDir
	}
	s.CACert, s.CAKey = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key")
	c, err := net.DialTimeout("tcp", s.Addr, 2*time.Second)
	if err != nil {
		SkipOrFail(t, "rabbitmq STOMP TLS not reachable at %s: run .ci/setup-services (%v)", s.Addr, err)
		return StompTLS{}
	}
	_ = c.Close()
	for _, f := range []string{s.CACert, s.CAKey} {
		fh, err := os.Open(f)
		if err != nil {
			SkipOrFail(t, "test CA not readable: run .ci/setup-services, and the test as root (%v)", err)
			return StompTLS{}
		}
		_ = fh.Close()
	}
	return s
}
