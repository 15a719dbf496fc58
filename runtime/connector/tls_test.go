package connector

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/testenv"
)

// testCA is a CA certificate with its key.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// loadCA reads a PEM certificate and a PEM private key (PKCS#8, PKCS#1 or SEC 1).
func loadCA(t *testing.T, certFile, keyFile string) testCA {
	t.Helper()
	cb, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := pem.Decode(cb)
	kp, _ := pem.Decode(kb)
	if cp == nil || kp == nil {
		t.Fatalf("%s or %s holds no PEM block", certFile, keyFile)
	}
	cert, err := x509.ParseCertificate(cp.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(kp.Bytes); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(kp.Bytes); err != nil {
			if key, err = x509.ParseECPrivateKey(kp.Bytes); err != nil {
				t.Fatalf("%s: %v", keyFile, err)
			}
		}
	}
	return testCA{cert: cert, key: key.(crypto.Signer)}
}

// newCA makes a throwaway self-signed CA.
func newCA(t *testing.T, name string) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{cert: cert, key: key}
}

// issueClient signs a fresh client certificate with ca and writes it, its key and ca's
// certificate as PEM files in dir; it returns their paths.
func (ca testCA) issueClient(t *testing.T, dir, name string) (certFile, keyFile, caFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, caFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key"), filepath.Join(dir, name+"-ca.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", kder)
	writePEM(t, caFile, "CERTIFICATE", ca.cert.Raw)
	return certFile, keyFile, caFile
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsOptions builds connector options from a client.cfg naming the TLS listener and the
// given files, the way mcod and mcorun do.
func tlsOptions(t *testing.T, addr, cert, key, ca string) Options {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(strings.NewReader(`connector = rabbitmq
plugin.rabbitmq.pool.size = 1
plugin.rabbitmq.pool.1.host = `+host+`
plugin.rabbitmq.pool.1.port = `+port+`
plugin.rabbitmq.pool.1.user = mcollective
plugin.rabbitmq.pool.1.password = secret
plugin.rabbitmq.pool.1.ssl = 1
plugin.rabbitmq.pool.1.ssl.ca = `+ca+`
plugin.rabbitmq.pool.1.ssl.cert = `+cert+`
plugin.rabbitmq.pool.1.ssl.key = `+key+`
plugin.rabbitmq.vhost = /mcollective
plugin.rabbitmq.max_reconnect_attempts = 1
plugin.rabbitmq.connect_timeout = 5
`), "client.cfg")
	if err != nil {
		t.Fatal(err)
	}
	r, err := cfg.RabbitMQ()
	if err != nil {
		t.Fatal(err)
	}
	o, err := OptionsFromConfig(r, "tls-client", testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if o.Pool[0].TLS == nil || o.Pool[0].TLS.InsecureSkipVerify {
		t.Fatalf("pool entry TLS = %+v, want verified TLS", o.Pool[0].TLS)
	}
	return o
}

// TestTLS talks to RabbitMQ's STOMP TLS listener with a client certificate the test signs
// with the CI CA, and checks that the wrong CA is refused both ways: a client certificate
// from another CA, and a client that trusts another CA than the broker's.
func TestTLS(t *testing.T) {
	env := testenv.RequireStompTLS(t)
	dir := t.TempDir()
	good := loadCA(t, env.CACert, env.CAKey)
	cert, key, _ := good.issueClient(t, dir, "client")

	t.Run("round trip", func(t *testing.T) {
		c := dial(t, tlsOptions(t, env.Addr, cert, key, env.CACert))
		agent := uniq("tlsagent")
		h, got := collect()
		if _, err := c.Subscribe(BroadcastDest(collective, agent), h); err != nil {
			t.Fatal(err)
		}
		m := sendUntil(t, c, BroadcastDest(collective, agent), []byte("over tls"), SendHeaders{TTL: time.Minute}, got)
		if string(m.Body) != "over tls" {
			t.Fatalf("body = %q", m.Body)
		}
	})

	rogue := newCA(t, "rogue CA")
	rogueCert, rogueKey, rogueCAFile := rogue.issueClient(t, dir, "rogue")
	tests := []struct {
		name          string
		cert, key, ca string
		force         bool // present the certificate even though the broker asks for another CA's
		want          string
	}{
		// Go only offers a client certificate issued by a CA the broker names, so without
		// one it offers none and the broker requires one.
		{"client certificate from another CA", rogueCert, rogueKey, env.CACert, false, "certificate required"},
		{"client certificate from another CA, presented anyway", rogueCert, rogueKey, env.CACert, true, "unknown certificate authority"},
		{"broker certificate from an untrusted CA", cert, key, rogueCAFile, false, "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			o := tlsOptions(t, env.Addr, tt.cert, tt.key, tt.ca)
			if tt.force {
				cc := o.Pool[0].TLS.Certificates[0]
				o.Pool[0].TLS.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cc, nil }
			}
			c, err := Dial(ctx, o)
			if err == nil {
				c.Close()
				t.Fatal("connected; want the handshake refused")
			}
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrUnavailable mentioning %q", err, tt.want)
			}
			t.Logf("refused: %v", err)
		})
	}
}
