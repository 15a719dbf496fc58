package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/testenv"
)

// federationEnv turns on TestFederationTwoSites, a slow tier: it needs the test cluster and a
// separate node as a second site (.ci/rabbitmq-cluster site 4), which .ci/run does not start.
const federationEnv = "MCORUN_FEDERATION"

// siteNode is the node .ci/rabbitmq-cluster site 4 starts: STOMP 61653, AMQP 5712,
// management 15712.
const siteNode = 4

// mgmtDo calls the management API of test node i (1-based) and fails the test unless it
// answers 2xx.
func mgmtDo(t *testing.T, i int, method, path, body string) {
	t.Helper()
	req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", 15672+10*i, path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("mcollective", "secret")
	req.Header.Set("content-type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("management API of node %d: %s %s: %v", i, method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(resp.Body)
		hint := ""
		if strings.Contains(string(msg), "federation-upstream not found") {
			hint = fmt.Sprintf(" (the federation plugin is off there: run .ci/rabbitmq-cluster site %d)", siteNode)
		}
		t.Fatalf("management API of node %d: %s %s: %s: %s%s", i, method, path, resp.Status, msg, hint)
	}
}

// TestFederationTwoSites federates the test cluster (site A, node 1 first) with a separate
// node (site B) as docs/topology.md describes: each site is the other's upstream for the
// collective's broadcast and directed exchanges and for mcollective_reply, with max-hops 1.
// One mcod runs at site A and two at site B; the client is at site A. With
// use_reply_exchange, `mcorun ping` sees the three nodes and a directed rpc reaches a node of
// site B; without it, the client gets only site A's reply, as the nodes of site B answer to a
// temp-queue of a broker they are not on.
func TestFederationTwoSites(t *testing.T) {
	if os.Getenv(federationEnv) != "1" {
		t.Skipf("slow tier: run .ci/rabbitmq-cluster up, then .ci/rabbitmq-cluster site %d, and set %s=1", siteNode, federationEnv)
	}
	cl := testenv.RequireRabbitCluster(t, 1)
	siteB := fmt.Sprintf("127.0.0.1:%d", 61613+10*siteNode)
	if c, err := net.DialTimeout("tcp", siteB, 2*time.Second); err != nil {
		t.Fatalf("site B (%s) not reachable: run .ci/rabbitmq-cluster site %d (%v)", siteB, siteNode, err)
	} else {
		_ = c.Close()
	}
	coll := cl.Collective(t)
	api := func(kind, name string) string {
		return "/api/" + kind + "/" + url.PathEscape(testenv.VHost) + "/" + name
	}
	for _, x := range []string{coll + "_broadcast:topic", coll + "_directed:direct"} {
		name, typ, _ := strings.Cut(x, ":")
		path := api("exchanges", name)
		mgmtDo(t, siteNode, "PUT", path, `{"type":"`+typ+`","durable":false}`)
		t.Cleanup(func() { mgmtDo(t, siteNode, "DELETE", path, "") })
	}
	// Each site's upstream is the other; the cluster's lists every node's AMQP port.
	amqp := func(i int) string {
		return fmt.Sprintf(`"amqp://mcollective:secret@127.0.0.1:%d/%s"`, 5672+10*i, url.PathEscape(testenv.VHost))
	}
	var clusterURIs []string
	for i := range cl.Addrs {
		clusterURIs = append(clusterURIs, amqp(i+1))
	}
	pattern := fmt.Sprintf(`^(%[1]s_broadcast|%[1]s_directed|mcollective_reply)$`, coll)
	for _, side := range []struct {
		node     int
		upstream string
	}{{1, amqp(siteNode)}, {siteNode, "[" + strings.Join(clusterURIs, ",") + "]"}} {
		name := coll + "-upstream"
		up := api("parameters/federation-upstream", name)
		mgmtDo(t, side.node, "PUT", up, `{"value":{"uri":`+side.upstream+`,"max-hops":1,"expires":60000}}`)
		pol := api("policies", coll+"-federation")
		mgmtDo(t, side.node, "PUT", pol, fmt.Sprintf(`{"pattern":%q,"apply-to":"exchanges","definition":{"federation-upstream":%q}}`, pattern, name))
		t.Cleanup(func() {
			mgmtDo(t, side.node, "DELETE", pol, "")
			mgmtDo(t, side.node, "DELETE", up, "")
		})
	}

	f := &fleet{t: t, dir: t.TempDir(), collective: coll, psk: "fedpsk", addr: cl.Addrs[0], logs: map[string]string{}}
	siteA := f.common()
	f.addr = siteB
	siteBCfg := f.common()
	f.startProcess(t, nodeSpec{identity: "fa1", facts: "site: a\n"}, siteA)
	for _, id := range []string{"fb1", "fb2"} {
		f.startProcess(t, nodeSpec{identity: id, facts: "site: b\n"}, siteBCfg)
	}
	bin := mcorunBinary(t)
	withReplyExchange := filepath.Join(f.dir, "client-rx.cfg")
	write(t, withReplyExchange, siteA+"identity = fed-client\nplugin.rabbitmq.use_reply_exchange = true\n")
	// Federation links start and bindings propagate asynchronously: retry until every node
	// answers.
	waitPing(t, bin, withReplyExchange, []string{"fa1", "fb1", "fb2"}, 30*time.Second)

	out, err := exec.Command(bin, "rpc", "rpcutil", "ping", "-I", "fb1", "--json", "--config", withReplyExchange).Output()
	if err != nil || !strings.Contains(string(out), `"fb1"`) {
		t.Errorf("directed rpc to site B's fb1 through federation: %v\n%s", err, out)
	}

	tempQueue := filepath.Join(f.dir, "client-temp.cfg")
	write(t, tempQueue, siteA+"identity = fed-client-tq\n")
	out, err = exec.Command(bin, "ping", "--config", tempQueue).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "fa1") {
		t.Errorf("ping with temp-queue replies: site A's node missing: %v\n%s", err, out)
	}
	for _, id := range []string{"fb1", "fb2"} {
		if strings.Contains(string(out), id) {
			t.Errorf("a temp-queue reply from site B's %s reached site A: the test's premise is wrong\n%s", id, out)
		}
	}
	// Site B's nodes did receive that request through federation: they audited it.
	for _, id := range []string{"fb1", "fb2"} {
		f.waitLog(t, id, "senderid=fed-client-tq", 5*time.Second)
	}
}
