package main

import (
	"bytes"
	"context"
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
	bins, remove := testenv.BuildBinaries(".")
	mcodBin = bins[0]
	code := m.Run()
	remove()
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
	logs       map[string]string
}

// newFleet declares a fresh collective's exchanges on the broker and removes them afterwards.
func newFleet(t *testing.T) *fleet {
	t.Helper()
	addr := testenv.RequireRabbitMQ(t)
	return &fleet{t: t, dir: t.TempDir(), collective: testenv.Collective(t), psk: "testpsk", addr: addr, logs: map[string]string{}}
}

// common is the connector and security config shared by servers and the client.
func (f *fleet) common() string { return testenv.CollectiveConfig(f.collective, f.psk, f.addr) }

// start launches an mcod for spec and returns once its log says it is serving.
func (f *fleet) start(spec nodeSpec) {
	f.t.Helper()
	f.startProcess(f.t, spec, f.common())
}

// startProcess runs mcod with the config common followed by spec's lines, and extra
// arguments, and waits until it serves.
func (f *fleet) startProcess(t *testing.T, spec nodeSpec, common string, args ...string) {
	t.Helper()
	f.logs[spec.identity] = testenv.StartMCod(t, mcodBin, f.dir, common, testenv.MCodNode{
		Identity: spec.identity, Facts: spec.facts, Classes: spec.classes, Extra: spec.extra, Args: args,
	})
}

// waitLog waits until the node's log contains s.
func (f *fleet) waitLog(t *testing.T, identity, s string, within time.Duration) {
	t.Helper()
	testenv.WaitLog(t, identity, f.logs[identity], s, within)
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
