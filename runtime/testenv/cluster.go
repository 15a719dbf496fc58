package testenv

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ClusterEnv names the environment variable that lists the STOMP addresses of the test
// RabbitMQ cluster that .ci/rabbitmq-cluster starts, comma-separated, node 1 first.
const ClusterEnv = "MCORUN_TEST_CLUSTER"

// DefaultCluster is where .ci/rabbitmq-cluster puts the STOMP listeners of a 2-node cluster.
const DefaultCluster = "127.0.0.1:61623,127.0.0.1:61633"

// RabbitCluster is the test RabbitMQ cluster: a separate broker from the shared one, whose
// nodes a test may stop and start.
type RabbitCluster struct {
	Addrs  []string // STOMP host:port of node 1, 2, ...
	script string   // .ci/rabbitmq-cluster
}

// RequireRabbitCluster returns the test RabbitMQ cluster when it has at least n nodes and
// each accepts STOMP connections, or skips (under CI, fails) the test, saying how to start
// it. Stopping and starting nodes needs root, as the script does.
func RequireRabbitCluster(t testing.TB, n int) *RabbitCluster {
	t.Helper()
	list := os.Getenv(ClusterEnv)
	if list == "" {
		list = DefaultCluster
	}
	c := &RabbitCluster{Addrs: strings.Split(list, ",")}
	if len(c.Addrs) < n {
		SkipOrFail(t, "%s lists %d RabbitMQ nodes, the test needs %d: run .ci/rabbitmq-cluster up %d", ClusterEnv, len(c.Addrs), n, n)
		return nil
	}
	for _, a := range c.Addrs[:n] {
		conn, err := net.DialTimeout("tcp", a, 2*time.Second)
		if err != nil {
			SkipOrFail(t, "rabbitmq cluster node %s not reachable: run .ci/rabbitmq-cluster up %d (%v)", a, n, err)
			return nil
		}
		_ = conn.Close()
	}
	script, err := findScript("rabbitmq-cluster")
	if err != nil {
		SkipOrFail(t, "%v", err)
		return nil
	}
	c.script = script
	return c
}

// mgmtURL is node i's management API, with the mcollective user's credentials.
func (c *RabbitCluster) mgmtURL(i int) string {
	return "http://mcollective:secret@127.0.0.1:" + strconv.Itoa(15672+10*i)
}

// Kill kills node i (1-based) at once, as a crash does.
func (c *RabbitCluster) Kill(t testing.TB, i int) { t.Helper(); c.run(t, "kill", i) }

// Start starts node i again and waits until it runs; it rejoins the cluster by itself.
func (c *RabbitCluster) Start(t testing.TB, i int) { t.Helper(); c.run(t, "start", i) }

func (c *RabbitCluster) run(t testing.TB, verb string, i int) {
	t.Helper()
	out, err := exec.Command(c.script, verb, strconv.Itoa(i)).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s %d: %v\n%s", c.script, verb, i, err, out)
	}
}

// Collective declares a fresh collective's exchanges on the cluster, through the first
// node whose management API answers, and deletes them when the test ends (see Collective).
func (c *RabbitCluster) Collective(t testing.TB) string {
	t.Helper()
	name := freshCollective()
	for _, x := range collectiveExchanges(name) {
		path := "/api/exchanges/" + url.PathEscape(VHost) + "/" + x.name
		if err := c.mgmt("PUT", path, `{"type":"`+x.typ+`","durable":false}`); err != nil {
			SkipOrFail(t, "rabbitmq cluster management API: declare exchange %s: %v", x.name, err)
			return ""
		}
		t.Cleanup(func() { _ = c.mgmt("DELETE", path, "") })
	}
	return name
}

func (c *RabbitCluster) mgmt(method, path, body string) error {
	var last error
	for i := range c.Addrs {
		code, err := mgmtAt(c.mgmtURL(i+1), method, path, body)
		if err == nil && code < 300 {
			return nil
		}
		last = fmt.Errorf("node %d: status %d: %v", i+1, code, err)
	}
	return last
}

// findScript finds .ci/<name> in the module the test runs in.
func findScript(name string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, ".ci", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no .ci/%s above the test's directory", name)
		}
		dir = parent
	}
}
