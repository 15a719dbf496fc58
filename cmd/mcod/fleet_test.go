package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/testenv"
)

// mcodBin is the mcod binary built once for the package's tests.
var mcodBin string

func TestMain(m *testing.M) {
	// The race-enabled binaries the tests start would each sleep a second at exit.
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	dir, err := os.MkdirTemp("", "mcod-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mcodBin = filepath.Join(dir, "mcod")
	out, err := exec.Command("go", "build", "-race", "-o", mcodBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building mcod: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// nodeSpec describes one test node: its identity, facts (YAML) and classes.
type nodeSpec struct {
	identity string
	facts    string
	classes  []string
	extra    string // extra server.cfg lines
}

// fleet is a set of mcod processes on their own collective of the real RabbitMQ, so that
// tests never see each other's nodes.
type fleet struct {
	t          *testing.T
	dir        string
	collective string
	psk        string
	addr       string
	nodes      map[string]*exec.Cmd
	logs       map[string]string
}

// newFleet declares a fresh collective's exchanges on the broker and removes them afterwards.
func newFleet(t *testing.T) *fleet {
	t.Helper()
	addr := testenv.RequireRabbitMQ(t)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	f := &fleet{
		t: t, dir: t.TempDir(), collective: "t" + hex.EncodeToString(suffix), psk: "testpsk",
		addr: addr, nodes: map[string]*exec.Cmd{}, logs: map[string]string{},
	}
	for _, x := range []string{f.collective + "_broadcast:topic", f.collective + "_directed:direct"} {
		name, typ, _ := strings.Cut(x, ":")
		mgmt(t, http.MethodPut, "/api/exchanges/%2Fmcollective/"+name, `{"type":"`+typ+`","durable":false}`)
		t.Cleanup(func() { mgmt(t, http.MethodDelete, "/api/exchanges/%2Fmcollective/"+name, "") })
	}
	return f
}

func mgmt(t *testing.T, method, path, body string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://127.0.0.1:15672"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("mcollective", "secret")
	req.Header.Set("content-type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		testenv.SkipOrFail(t, "rabbitmq management API not reachable: %v (run .ci/setup-services)", err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 && method != http.MethodDelete {
		t.Fatalf("%s %s: %s", method, path, resp.Status)
	}
}

// common is the connector and security config shared by servers and the client.
func (f *fleet) common() string {
	host, port, _ := strings.Cut(f.addr, ":")
	return fmt.Sprintf(`main_collective = %[1]s
collectives = %[1]s
securityprovider = psk
plugin.psk = %[2]s
connector = rabbitmq
plugin.rabbitmq.vhost = /mcollective
plugin.rabbitmq.pool.size = 1
plugin.rabbitmq.pool.1.host = %[3]s
plugin.rabbitmq.pool.1.port = %[4]s
plugin.rabbitmq.pool.1.user = mcollective
plugin.rabbitmq.pool.1.password = secret
`, f.collective, f.psk, host, port)
}

// start launches an mcod for spec and returns once its log says it is serving.
func (f *fleet) start(spec nodeSpec) {
	t := f.t
	t.Helper()
	factsFile := filepath.Join(f.dir, spec.identity+".yaml")
	classesFile := filepath.Join(f.dir, spec.identity+".classes")
	logFile := filepath.Join(f.dir, spec.identity+".log")
	cfgFile := filepath.Join(f.dir, spec.identity+".cfg")
	write(t, factsFile, spec.facts)
	write(t, classesFile, strings.Join(spec.classes, "\n")+"\n")
	write(t, cfgFile, f.common()+fmt.Sprintf(`identity = %s
factsource = yaml
plugin.yaml = %s
classesfile = %s
logfile = %s
loglevel = debug
%s`, spec.identity, factsFile, classesFile, logFile, spec.extra))
	cmd := exec.Command(mcodBin, "--config", cfgFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.nodes[spec.identity] = cmd
	f.logs[spec.identity] = logFile
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("%s log:\n%s\nstderr:\n%s", spec.identity, b, stderr.String())
		}
	})
	f.waitLog(t, spec.identity, "serving", 15*time.Second)
}

// waitLog waits until the node's log contains s.
func (f *fleet) waitLog(t *testing.T, identity, s string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(f.logs[identity])
		if bytes.Contains(b, []byte(s)) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(f.logs[identity])
	t.Fatalf("%s: log never said %q:\n%s", identity, s, b)
}

// clientConfig writes a client.cfg for stock mco.
func (f *fleet) clientConfig(t *testing.T) string {
	p := filepath.Join(f.dir, "client.cfg")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	write(t, p, f.common()+`identity = mco-test-client
libdir = /usr/share/mcollective/plugins
logger_type = console
loglevel = error
`)
	return p
}

// mco runs Debian's stock mco against the fleet and returns its stdout; it fails the test
// when mco exits non-zero.
func (f *fleet) mco(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := f.mcoRun(t, args...)
	if err != nil {
		t.Fatalf("mco %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// mcoRun runs mco and returns its stdout, its stderr and how it exited.
func (f *fleet) mcoRun(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	mcoBin := testenv.RequireMCO(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mcoBin, append(args, "--config", f.clientConfig(t))...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
