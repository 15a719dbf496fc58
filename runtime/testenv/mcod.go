package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NoRaceExitSleep is the GORACE setting under which a race-enabled binary does not sleep a
// second at exit; BuildBinaries sets it for the test process and everything it starts.
const NoRaceExitSleep = "atexit_sleep_ms=0"

// BuildBinaries is for TestMain: it sets GORACE=NoRaceExitSleep, then builds each Go package
// in pkgs (a path go build understands, such as "." or "../mcod"), with the race detector when
// the test binary has it, into
// one new temporary directory, each binary named after its package's directory. It returns
// the binaries' paths in the order of pkgs and a function that removes the directory. When a
// build fails it prints why and exits the process with status 1.
func BuildBinaries(pkgs ...string) (bins []string, remove func()) {
	os.Setenv("GORACE", NoRaceExitSleep)
	dir, err := os.MkdirTemp("", "testenv-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, pkg := range pkgs {
		abs, err := filepath.Abs(pkg)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		bin := filepath.Join(dir, filepath.Base(abs))
		args := []string{"build", "-o", bin, pkg}
		if raceEnabled {
			args = []string{"build", "-race", "-o", bin, pkg}
		}
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
		bins = append(bins, bin)
	}
	return bins, func() { os.RemoveAll(dir) }
}

// Process is a daemon a test runs until it ends.
type Process struct {
	Name string   // how the test log names it
	Args []string // the binary, then its arguments
	Log  string   // its log file, written to the test log when the test failed
	// Grace is how long it may take to exit after SIGTERM before it is killed; 10 s when zero.
	Grace time.Duration
}

// StartProcess starts p, with GORACE=NoRaceExitSleep, and returns it. When the test ends the
// process gets SIGTERM, then SIGKILL after p.Grace; when the test failed, its log and what it
// printed are written to the test log. It fails the test when the process cannot start.
func StartProcess(t testing.TB, p Process) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(p.Args[0], p.Args[1:]...)
	cmd.Env = append(os.Environ(), "GORACE="+NoRaceExitSleep)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.Name, err)
	}
	grace := p.Grace
	if grace == 0 {
		grace = 10 * time.Second
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(grace):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.Log)
			t.Logf("%s log:\n%s\noutput:\n%s", p.Name, b, out.String())
		}
	})
	return cmd
}

// WaitLog waits until the log file contains s, and fails the test, showing the log, when it
// does not within the given time. name says whose log it is.
func WaitLog(t testing.TB, name, log, s string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(log); bytes.Contains(b, []byte(s)) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(log)
	t.Fatalf("%s: log never said %q:\n%s", name, s, b)
}

// CollectiveConfig is the config that the nodes and clients of a collective on the test
// RabbitMQ share: the collective, the psk security provider with psk, and the connector to
// the STOMP listener at addr in VHost, as the mcollective user.
func CollectiveConfig(collective, psk, addr string) string {
	host, port, _ := strings.Cut(addr, ":")
	return fmt.Sprintf(`main_collective = %[1]s
collectives = %[1]s
securityprovider = psk
plugin.psk = %[2]s
connector = rabbitmq
plugin.rabbitmq.vhost = %[3]s
plugin.rabbitmq.pool.size = 1
plugin.rabbitmq.pool.1.host = %[4]s
plugin.rabbitmq.pool.1.port = %[5]s
plugin.rabbitmq.pool.1.user = mcollective
plugin.rabbitmq.pool.1.password = secret
`, collective, psk, VHost, host, port)
}

// MCodNode is one mcod node a test runs.
type MCodNode struct {
	Identity string
	Facts    string   // YAML
	Classes  []string // written to its classes file
	LogLevel string   // debug when empty
	Extra    string   // config lines after the generated ones, which they may override
	Args     []string // command-line arguments after --config
}

// ServeTimeout is how long StartMCod waits for a node to serve.
const ServeTimeout = 20 * time.Second

// LaunchMCod writes n's facts, classes and config into dir, named after its identity, and
// starts the mcod binary bin on that config with StartProcess, without waiting for it. The
// config is common (the collective, security and connector lines), then the node's identity,
// YAML fact source, classes file, log file, log level and state directory, then n.Extra. It returns the
// node's log file.
func LaunchMCod(t testing.TB, bin, dir, common string, n MCodNode) (log string) {
	t.Helper()
	p := func(ext string) string { return filepath.Join(dir, n.Identity+ext) }
	level := n.LogLevel
	if level == "" {
		level = "debug"
	}
	writeTestFile(t, p(".yaml"), n.Facts)
	writeTestFile(t, p(".classes"), strings.Join(n.Classes, "\n")+"\n")
	writeTestFile(t, p(".cfg"), common+fmt.Sprintf(`identity = %s
factsource = yaml
plugin.yaml = %s
classesfile = %s
logfile = %s
loglevel = %s
plugin.mcod.state_dir = %s
%s`, n.Identity, p(".yaml"), p(".classes"), p(".log"), level, p(".state"), n.Extra))
	StartProcess(t, Process{Name: n.Identity, Args: append([]string{bin, "--config", p(".cfg")}, n.Args...), Log: p(".log")})
	return p(".log")
}

// StartMCod is LaunchMCod, then waits up to ServeTimeout until the node's log says it is
// serving.
func StartMCod(t testing.TB, bin, dir, common string, n MCodNode) (log string) {
	t.Helper()
	log = LaunchMCod(t, bin, dir, common, n)
	WaitLog(t, n.Identity, log, "serving", ServeTimeout)
	return log
}
