package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RubyNode is one stock mcollectived node: its identity, its facts and its classes.
type RubyNode struct {
	Identity string
	Facts    map[string]string
	Classes  []string
	// Extra is appended to the node's config; a later line overrides an earlier one, so it
	// can switch the security provider (securityprovider = ssl, plugin.ssl_*).
	Extra string
}

// factsPlugin is a YAML fact source for stock mcollectived: Debian's own YAML facts plugin
// calls a Psych API that Ruby 3.1 no longer has. It reads the file named by plugin.testenv.
const factsPlugin = `require "yaml"
module MCollective; module Facts; class Testenv_facts<Base
  def load_facts_from_source
    YAML.safe_load(File.read(Config.instance.pluginconf["testenv"]), permitted_classes: [Symbol], aliases: true)
  end
end; end; end
`

// StartMcollectived starts one Debian mcollectived per node on collective, connected to the
// RabbitMQ STOMP listener at addr (in VHost, as the mcollective user) and signing with the
// psk provider and psk. Facts come from a YAML fact source plugin the helper writes into a
// private libdir, classes from a classes file. It returns each node's log file by identity.
//
// It does not wait for the nodes to subscribe: callers wait until a discovery sees them.
// When the test ends every daemon gets SIGTERM, then SIGKILL after 5 s; when the test failed
// their logs and output are written to the test log. It skips (under CI, fails) the test
// when mcollectived is not installed.
func StartMcollectived(t testing.TB, collective, addr, psk string, nodes []RubyNode) (logs map[string]string) {
	t.Helper()
	bin := RequireMcollectived(t)
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("StartMcollectived: address %q: %v", addr, err)
	}
	dir := t.TempDir()
	libdir := filepath.Join(dir, "plugins")
	writeTestFile(t, filepath.Join(libdir, "mcollective", "facts", "testenv_facts.rb"), factsPlugin)
	logs = make(map[string]string, len(nodes))
	for _, n := range nodes {
		p := func(ext string) string { return filepath.Join(dir, n.Identity+ext) }
		logs[n.Identity] = p(".log")
		writeTestFile(t, p(".yaml"), factsYAML(n.Facts))
		writeTestFile(t, p(".classes"), strings.Join(n.Classes, "\n")+"\n")
		writeTestFile(t, p(".cfg"), fmt.Sprintf(`identity = %[1]s
main_collective = %[2]s
collectives = %[2]s
libdir = %[3]s:/usr/share/mcollective/plugins
logfile = %[4]s
loglevel = info
daemonize = 0
securityprovider = psk
plugin.psk = %[5]s
connector = rabbitmq
plugin.rabbitmq.vhost = %[6]s
plugin.rabbitmq.pool.size = 1
plugin.rabbitmq.pool.1.host = %[7]s
plugin.rabbitmq.pool.1.port = %[8]s
plugin.rabbitmq.pool.1.user = mcollective
plugin.rabbitmq.pool.1.password = secret
factsource = testenv
plugin.testenv = %[9]s
classesfile = %[10]s
%[11]s`, n.Identity, collective, libdir, p(".log"), psk, VHost, host, port, p(".yaml"), p(".classes"), n.Extra))
		cmd := exec.Command(bin, "--config", p(".cfg"))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start mcollectived for %s: %v", n.Identity, err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
			if t.Failed() {
				b, _ := os.ReadFile(p(".log"))
				t.Logf("mcollectived %s log:\n%s\noutput:\n%s", n.Identity, b, out.String())
			}
		})
	}
	return logs
}

// factsYAML renders facts as a YAML mapping of single-quoted strings, keys sorted.
func factsYAML(facts map[string]string) string {
	var b strings.Builder
	b.WriteString("---\n")
	keys := make([]string, 0, len(facts))
	for k := range facts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: '%s'\n", k, strings.ReplaceAll(facts[k], "'", "''"))
	}
	return b.String()
}

func writeTestFile(t testing.TB, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
