package testenv

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	if _, _, err := net.SplitHostPort(addr); err != nil {
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
		writeTestFile(t, p(".cfg"), CollectiveConfig(collective, psk, addr)+fmt.Sprintf(`identity = %s
libdir = %s:/usr/share/mcollective/plugins
logfile = %s
loglevel = info
daemonize = 0
factsource = testenv
plugin.testenv = %s
classesfile = %s
%s`, n.Identity, libdir, p(".log"), p(".yaml"), p(".classes"), n.Extra))
		StartProcess(t, Process{Name: "mcollectived " + n.Identity, Args: []string{bin, "--config", p(".cfg")}, Log: p(".log"), Grace: 5 * time.Second})
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
