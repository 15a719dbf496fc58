package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/testenv"
)

// cluster3Addrs are the STOMP listeners of .ci/rabbitmq-cluster up 3.
const cluster3Addrs = "127.0.0.1:61623,127.0.0.1:61633,127.0.0.1:61643"

// poolConfig is a plugin.rabbitmq.pool of the given brokers, in that order.
func poolConfig(addrs []string) string {
	s := fmt.Sprintf("plugin.rabbitmq.pool.size = %d\n", len(addrs))
	for i, a := range addrs {
		host, port, _ := net.SplitHostPort(a)
		s += fmt.Sprintf("plugin.rabbitmq.pool.%[1]d.host = %[2]s\nplugin.rabbitmq.pool.%[1]d.port = %[3]s\n"+
			"plugin.rabbitmq.pool.%[1]d.user = mcollective\nplugin.rabbitmq.pool.%[1]d.password = secret\n", i+1, host, port)
	}
	return s + "plugin.rabbitmq.max_reconnect_delay = 1\n"
}

// rotate returns addrs starting at its k-th element.
func rotate(addrs []string, k int) []string {
	k %= len(addrs)
	return append(slices.Clone(addrs[k:]), addrs[:k]...)
}

// connectedRE finds the connector's "connected" and "reconnected" log lines and their broker.
var connectedRE = regexp.MustCompile(`connector: (?:re)?connected .*broker=(\S+)`)

// TestRollingFailoverCluster3 runs six mcod processes spread over a 3-node RabbitMQ cluster
// (each node's pool starts at a different broker) and a real `mcorun` rolling playbook
// (window 2, each step a 2 s shell rpc) whose client has a pool of all three brokers. While
// the first window's rpc is in flight it kills the broker the client is connected to, found
// from the client's own "connector: connected" line. The report must show the call in flight
// returning its lost nodes as missing with "broker connection lost", later calls going
// through a surviving broker, the last window done on every node, and every target of every
// step ok, failed or missing. The mcod nodes on the killed broker move to another one by
// themselves. After the node is started again it is running in the cluster, and
// `mcorun ping` sees every node.
func TestRollingFailoverCluster3(t *testing.T) {
	// The 3-node test cluster (.ci/rabbitmq-cluster up 3, which .ci/setup-services runs).
	if os.Getenv(testenv.ClusterEnv) == "" {
		t.Setenv(testenv.ClusterEnv, cluster3Addrs)
	}
	cl := testenv.RequireRabbitCluster(t, 3)
	addrs := cl.Addrs[:3]
	f := &fleet{t: t, dir: t.TempDir(), collective: cl.Collective(t), psk: "cluster3psk", addr: addrs[0], logs: map[string]string{}}
	common := f.common()
	ids := []string{"r1", "r2", "r3", "r4", "r5", "r6"}
	for i, id := range ids {
		f.startProcess(t, nodeSpec{identity: id, facts: "role: x\n",
			extra: poolConfig(rotate(addrs, i)) + "plugin.shell.enabled = true\nplugin.mcod.state_dir = " + filepath.Join(f.dir, id+".state") + "\n"}, common)
	}
	// The client's pool starts at the second broker: the test finds where it is from its log.
	clientCfg := filepath.Join(f.dir, "client.cfg")
	write(t, clientCfg, common+poolConfig(rotate(addrs, 1))+"identity = cluster3-client\n")
	bin := mcorunBinary(t)

	// Every node answers through its own broker before the rollout starts.
	waitPing(t, bin, clientCfg, ids, 30*time.Second)

	book := filepath.Join(f.dir, "roll.star")
	write(t, book, `# Restarts nothing: each step sleeps 2 s on two nodes.
def step(nodes):
    return rpc("shell", "run", {"command": "sleep 2"}, nodes = nodes, timeout = "10s")

report = rolling(nodeset(`+starList(ids)+`), step, window = 2, sleep = "1s", max_failures = `+fmt.Sprint(len(ids))+`)
print(report)
`)
	reportPath := filepath.Join(f.dir, "report.json")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, book, "-v", "--config", clientCfg, "--report", reportPath)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		stderr  strings.Builder
		brokers []string // the client's connected lines, in order
	)
	first := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			stderr.WriteString(line + "\n")
			if m := connectedRE.FindStringSubmatch(line); m != nil {
				brokers = append(brokers, m[1])
				if len(brokers) == 1 {
					first <- m[1]
				}
			}
			mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, errPipe)
	}()
	var victim string
	select {
	case victim = <-first:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-scanned
		_ = cmd.Wait()
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("mcorun logged no connected line:\n%s", stderr.String())
	}
	victimIdx := slices.Index(addrs, victim)
	if victimIdx < 0 {
		t.Fatalf("client connected to %s, not one of the pool %v", victim, addrs)
	}
	// The first window's rpc is in flight: the nodes sleep 2 s.
	time.Sleep(1200 * time.Millisecond)
	t.Cleanup(func() { cl.Start(t, victimIdx+1) })
	killed := time.Now()
	cl.Kill(t, victimIdx+1)
	t.Logf("killed node %d (%s), the client's broker", victimIdx+1, victim)

	<-scanned
	runErr := cmd.Wait()
	mu.Lock()
	errText, seen := stderr.String(), slices.Clone(brokers)
	mu.Unlock()
	t.Logf("mcorun exited: %v\nstdout:\n%s", runErr, stdout.String())

	raw, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatalf("no report: %v\nstderr:\n%s", err, errText)
	}
	var rep struct {
		Steps []struct {
			Kind           string            `json:"kind"`
			Time           time.Time         `json:"time"`
			Targets        []string          `json:"targets"`
			OK             []string          `json:"ok"`
			Failed         []string          `json:"failed"`
			Missing        []string          `json:"missing"`
			MissingReasons map[string]string `json:"missing_reasons"`
			NotSent        []string          `json:"not_sent"`
			Duration       float64           `json:"duration"`
			Error          string            `json:"error"`
		} `json:"steps"`
		Outcome struct {
			Status string `json:"status"`
		} `json:"outcome"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, raw)
	}
	var rpcs []int
	covered := map[string]bool{}
	for i, s := range rep.Steps {
		if s.Kind != "rpc" {
			continue
		}
		rpcs = append(rpcs, i)
		t.Logf("step %d: %.2fs targets %v ok %v failed %v missing %v %v not_sent %v err %q",
			i, s.Duration, s.Targets, s.OK, s.Failed, s.Missing, s.MissingReasons, s.NotSent, s.Error)
		ended := append(append(append(slices.Clone(s.OK), s.Failed...), s.Missing...), s.NotSent...)
		for _, id := range s.Targets {
			covered[id] = true
			if !slices.Contains(ended, id) {
				t.Errorf("step %d: target %s is neither ok, failed nor missing", i, id)
			}
		}
	}
	if len(rpcs) != len(ids)/2 {
		t.Fatalf("%d rpc steps, want %d (the rollout went on after the kill):\n%s\nstderr:\n%s", len(rpcs), len(ids)/2, raw, errText)
	}
	for _, id := range ids {
		if !covered[id] {
			t.Errorf("node %s was targeted by no step", id)
		}
	}
	inFlight := rep.Steps[rpcs[0]]
	if len(inFlight.Missing) == 0 {
		t.Errorf("the call in flight when the broker died lost no node: ok %v", inFlight.OK)
	}
	for _, id := range inFlight.Missing {
		if why := inFlight.MissingReasons[id]; why != client.ReasonConnectionLost {
			t.Errorf("call in flight: %s missing because %q, want %q", id, why, client.ReasonConnectionLost)
		}
	}
	if last := rep.Steps[rpcs[len(rpcs)-1]]; len(last.OK) != len(last.Targets) {
		t.Errorf("the last window after the failover: ok %v of %v, missing %v %v", last.OK, last.Targets, last.Missing, last.MissingReasons)
	}
	// The client reconnected, to a surviving broker, and the calls after the kill used it.
	if len(seen) < 2 {
		t.Errorf("the client did not reconnect after its broker died: connected to %v\n%s", seen, errText)
	} else {
		for _, b := range seen[1:] {
			if b == victim {
				t.Errorf("the client reconnected to the killed broker %s", b)
			}
		}
		// mcorun -v logs each step's line when the step ends: the reconnection came before the
		// second call ended, so that call went through the surviving broker.
		reconnected := strings.Index(errText, "connector: reconnected")
		steps := regexp.MustCompile(`(?m)^rpc shell\.run `).FindAllStringIndex(errText, -1)
		if len(steps) < 2 || reconnected < 0 || reconnected > steps[1][0] {
			t.Errorf("the call after the kill did not go through the reconnected client:\n%s", errText)
		}
	}
	// The mcod nodes that were on the killed broker moved to another one by themselves.
	for i, id := range ids {
		if rotate(addrs, i)[0] != victim {
			continue
		}
		testenv.WaitLog(t, id, f.logs[id], "broker="+rotate(addrs, i)[1], 5*time.Second)
	}
	t.Logf("rollout ended %v after the kill", time.Since(killed))

	// The node comes back into the cluster, and every node answers again.
	cl.Start(t, victimIdx+1)
	node := fmt.Sprintf("mcorun-c%d@localhost", victimIdx+1)
	out, err := exec.Command("rabbitmqctl", "-q", "-n", node, "cluster_status", "--formatter", "json").Output()
	if err != nil {
		t.Fatalf("rabbitmqctl -n %s cluster_status: %v\n%s", node, err, out)
	}
	var status struct {
		Running []string `json:"running_nodes"`
	}
	if err := json.Unmarshal(out, &status); err != nil {
		t.Fatalf("cluster_status: %v\n%s", err, out)
	}
	for i := range addrs {
		if n := fmt.Sprintf("mcorun-c%d@localhost", i+1); !slices.Contains(status.Running, n) {
			t.Errorf("cluster_status after the restart: %s not running (running: %v)", n, status.Running)
		}
	}
	waitPing(t, bin, clientCfg, ids, 30*time.Second)
}

// waitPing runs `mcorun ping` until every node in ids answers, or fails the test.
func waitPing(t *testing.T, bin, cfg string, ids []string, within time.Duration) {
	t.Helper()
	var out []byte
	for end := time.Now().Add(within); ; {
		var err error
		out, err = exec.Command(bin, "ping", "--config", cfg).CombinedOutput()
		missing := 0
		for _, id := range ids {
			if !regexp.MustCompile(`(?m)^` + id + `\s`).Match(out) {
				missing++
			}
		}
		if err == nil && missing == 0 {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("mcorun ping: %d of %v not seen within %v: %v\n%s", missing, ids, within, err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// starList is ids as a Starlark list literal.
func starList(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = fmt.Sprintf("%q", id)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
