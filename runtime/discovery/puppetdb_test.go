package discovery

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/filter"
	"github.com/mcorun/mcorun/runtime/message"
)

// pdbCase is one discovery against the nodes of testdata/puppetdb/nodes.json, which
// .ci/puppetdb-setup stores in the real PuppetDB.
type pdbCase struct {
	name       string
	o          filter.Options
	collective string
	callAgent  string
	want       []string
}

var pdbCases = []pdbCase{
	{"all", filter.Options{}, "mcollective", "", []string{"db01.dc2.example.net", "db02.dc2.example.net", "ghost01.dc1.example.net", "web01.dc1.example.net", "web02.dc1.example.net", "web03.dc2.example.net"}},
	{"fact", filter.Options{Facts: []string{"role=web"}}, "mcollective", "", []string{"ghost01.dc1.example.net", "web01.dc1.example.net", "web02.dc1.example.net", "web03.dc2.example.net"}},
	{"fact number", filter.Options{Facts: []string{"processorcount>=8"}}, "mcollective", "", []string{"db01.dc2.example.net", "db02.dc2.example.net"}},
	{"fact not", filter.Options{Facts: []string{"environment!=production"}}, "mcollective", "", []string{"db02.dc2.example.net", "web03.dc2.example.net"}},
	{"fact regex", filter.Options{Facts: []string{"rack=/r[12]/"}}, "mcollective", "", []string{"web01.dc1.example.net", "web02.dc1.example.net", "web03.dc2.example.net"}},
	{"class", filter.Options{Classes: []string{"web::nginx"}}, "mcollective", "", []string{"ghost01.dc1.example.net", "web01.dc1.example.net", "web02.dc1.example.net", "web03.dc2.example.net"}},
	{"class regex", filter.Options{Classes: []string{"/postgres/"}}, "mcollective", "", []string{"db01.dc2.example.net", "db02.dc2.example.net"}},
	{"identity", filter.Options{Identities: []string{"/^db/", "web01.dc1.example.net"}}, "mcollective", "", []string{"db01.dc2.example.net", "db02.dc2.example.net", "web01.dc1.example.net"}},
	{"agent", filter.Options{Agents: []string{"service"}}, "mcollective", "", []string{"web01.dc1.example.net", "web02.dc1.example.net"}},
	{"call agent", filter.Options{Facts: []string{"role=db"}}, "mcollective", "package", []string{"db01.dc2.example.net"}},
	{"call agent rpcutil", filter.Options{Facts: []string{"role=db"}}, "mcollective", "rpcutil", []string{"db01.dc2.example.net", "db02.dc2.example.net"}},
	{"collective", filter.Options{}, "dc2", "", []string{"db01.dc2.example.net", "db02.dc2.example.net", "web03.dc2.example.net"}},
	{"with", filter.Options{With: []string{"web::nginx datacenter=dc1"}}, "mcollective", "", []string{"ghost01.dc1.example.net", "web01.dc1.example.net", "web02.dc1.example.net"}},
	{"pql", filter.Options{Identities: []string{`pql:inventory[certname] { facts.rack = "r3" }`}}, "mcollective", "", []string{"db01.dc2.example.net", "db02.dc2.example.net"}},
	{"none", filter.Options{Facts: []string{"role=mail"}}, "mcollective", "", []string{}},
}

// pdbBadQuery is a raw query PuppetDB refuses; its captured answer is the error case.
const pdbBadQuery = `pql:nodes[certname] { facts.rack === "r3" }`

// pdbCapture is one PuppetDB answer, as the capture tier recorded it.
type pdbCapture struct {
	Query  string `json:"query"`
	Status int    `json:"status"`
	Body   string `json:"body"`
}

const pdbCaptures = "../../testdata/puppetdb/captures.json"

func (c pdbCase) request(t testing.TB) Request {
	f := mustFilter(t, c.o)
	if c.callAgent != "" {
		f.Agent = append(f.Agent, c.callAgent)
	}
	return Request{Filter: f, Collective: c.collective, CallAgent: c.callAgent, Timeout: 10 * time.Second}
}

// TestPuppetDBCapture is the PuppetDB tier: with MCORUN_PUPPETDB=1 and PuppetDB up
// (.ci/puppetdb-setup), every case runs against the real PuppetDB over HTTPS with the client
// certificate, and the answers are saved in testdata/puppetdb/captures.json for
// TestPuppetDBReplay. MCORUN_PUPPETDB_DIR is the setup's directory.
func TestPuppetDBCapture(t *testing.T) {
	if os.Getenv("MCORUN_PUPPETDB") != "1" {
		t.Skip("the PuppetDB tier: run .ci/puppetdb-setup as root, then MCORUN_PUPPETDB=1 go test -run TestPuppetDBCapture ./runtime/discovery")
	}
	dir := os.Getenv("MCORUN_PUPPETDB_DIR")
	if dir == "" {
		dir = "/var/lib/mcorun-ci/puppetdb"
	}
	ssl := filepath.Join(dir, "ssl")
	s := PuppetDBSettings{Host: "localhost", Port: 8081, CA: filepath.Join(ssl, "ca.pem"),
		Cert: filepath.Join(ssl, "client.pem"), Key: filepath.Join(ssl, "client.key")}
	p := puppetDB{s: s}
	client, err := p.httpClient()
	if err != nil {
		t.Fatal(err)
	}
	var captures []pdbCapture
	record := func(query string) {
		u := s.URL() + "?" + neturl.Values{"query": {query}}.Encode()
		resp, err := client.Get(u)
		if err != nil {
			t.Fatalf("PuppetDB is not up (run .ci/puppetdb-setup): %v", err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		captures = append(captures, pdbCapture{Query: query, Status: resp.StatusCode, Body: string(b)})
	}
	for _, c := range pdbCases {
		r := c.request(t)
		nodes, err := p.Discover(context.Background(), r)
		slices.Sort(nodes)
		if err != nil || !slices.Equal(nodes, c.want) {
			t.Errorf("%s: %v, %v; want %v", c.name, nodes, err, c.want)
		}
		q, err := PQL(r.Filter, r.Collective)
		if err != nil {
			t.Fatal(err)
		}
		record(q)
	}
	bad, _ := PQL(message.Filter{Identity: []string{pdbBadQuery}}, "mcollective")
	record(bad)
	if captures[len(captures)-1].Status != http.StatusBadRequest {
		t.Errorf("the bad query's status is %d, want 400", captures[len(captures)-1].Status)
	}
	b, err := json.MarshalIndent(captures, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pdbCaptures, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("saved %d answers in %s", len(captures), pdbCaptures)
}

// TestPuppetDBReplay runs every case against a TLS server answering with the answers captured
// from the real PuppetDB, requiring the client certificate, so that the PQL, the HTTPS client
// and the answer parsing are checked on every run.
func TestPuppetDBReplay(t *testing.T) {
	b, err := os.ReadFile(pdbCaptures)
	if err != nil {
		t.Fatalf("%v: run the PuppetDB tier (TestPuppetDBCapture)", err)
	}
	var captures []pdbCapture
	if err := json.Unmarshal(b, &captures); err != nil {
		t.Fatal(err)
	}
	byQuery := map[string]pdbCapture{}
	for _, c := range captures {
		byQuery[c.Query] = c
	}
	s, seen := replayServer(t, byQuery)
	m := puppetDB{s: s}
	for _, c := range pdbCases {
		nodes, err := m.Discover(context.Background(), c.request(t))
		slices.Sort(nodes)
		if err != nil || !slices.Equal(nodes, c.want) {
			t.Errorf("%s: %v, %v; want %v", c.name, nodes, err, c.want)
		}
	}
	if *seen != "mcorun-test-client" {
		t.Errorf("the client presented the certificate %q, want mcorun-test-client", *seen)
	}
	_, err = m.Discover(context.Background(), Request{Filter: message.Filter{Identity: []string{pdbBadQuery}}, Collective: "mcollective"})
	if !errors.Is(err, ErrSource) || !strings.Contains(err.Error(), "refused the query") || !strings.Contains(err.Error(), "400 Bad Request") {
		t.Errorf("bad query: %v", err)
	}
}

// replayServer serves captured answers over TLS, requiring a client certificate, and returns
// settings that reach it with a fresh client certificate and the server's CA. seen is set to
// the common name of the client certificate presented.
func replayServer(t *testing.T, byQuery map[string]pdbCapture) (PuppetDBSettings, *string) {
	seen := new(string)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/pdb/query/v4" {
			http.NotFound(w, r)
			return
		}
		if len(r.TLS.PeerCertificates) > 0 {
			*seen = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		c, ok := byQuery[r.URL.Query().Get("query")]
		if !ok {
			http.Error(w, "no captured answer for "+r.URL.Query().Get("query")+": run the PuppetDB tier", http.StatusNotImplemented)
			return
		}
		w.WriteHeader(c.Status)
		_, _ = w.Write([]byte(c.Body))
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	writePEM(t, ca, "CERTIFICATE", srv.Certificate().Raw)
	cert, key := clientCert(t, dir)
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return PuppetDBSettings{Host: host, Port: p, CA: ca, Cert: cert, Key: key}, seen
}

func clientCert(t *testing.T, dir string) (cert, key string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mcorun-test-client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	writePEM(t, cert, "CERTIFICATE", der)
	writePEM(t, key, "EC PRIVATE KEY", kb)
	return cert, key
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPuppetDBDown: a PuppetDB that does not listen, or a missing certificate, is a clear
// error naming what to check.
func TestPuppetDBDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	m := puppetDB{s: PuppetDBSettings{Host: "127.0.0.1", Port: port}}
	_, err = m.Discover(context.Background(), Request{})
	if !errors.Is(err, ErrSource) || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "check plugin.choria.puppetdb_host") {
		t.Errorf("down: %v", err)
	}
	m = puppetDB{s: PuppetDBSettings{Host: "127.0.0.1", Port: port, Cert: "/nonexistent/cert.pem"}}
	if _, err := m.Discover(context.Background(), Request{}); err == nil || !strings.Contains(err.Error(), "needs both plugin.security.file.certificate and plugin.security.file.key") {
		t.Errorf("cert without key: %v", err)
	}
	if _, err := m.Discover(context.Background(), Request{Options: map[string]string{"x": "y"}}); err == nil || !strings.Contains(err.Error(), `unknown option "x"`) {
		t.Errorf("option: %v", err)
	}
}

// TestPQLQuoting: values cannot break out of their PQL strings, and fact names that PQL
// cannot address are refused.
func TestPQLQuoting(t *testing.T) {
	q, err := PQL(message.Filter{Fact: []message.FactFilter{{Fact: "role", Operator: "==", Value: `web" or true or "`}}}, "")
	if err != nil || !strings.Contains(q, `facts.role = "web\" or true or \""`) {
		t.Errorf("quoting: %s, %v", q, err)
	}
	if _, err := PQL(message.Filter{Fact: []message.FactFilter{{Fact: "a b", Operator: "==", Value: "x"}}}, ""); !errors.Is(err, ErrUnsupportedFilter) {
		t.Errorf("fact name: %v", err)
	}
	if _, err := PQL(message.Filter{Fact: []message.FactFilter{{Fact: "a", Operator: ">", Value: "x"}}}, ""); err == nil || !strings.Contains(err.Error(), "only with a number") {
		t.Errorf("> x: %v", err)
	}
}
