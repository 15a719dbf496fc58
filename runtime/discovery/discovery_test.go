package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/filter"
	"github.com/mcorun/mcorun/runtime/message"
)

// mustFilter builds a filter as the flags do.
func mustFilter(t testing.TB, o filter.Options) message.Filter {
	t.Helper()
	f, err := filter.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func discoverWith(t *testing.T, method string, r Request) ([]string, error) {
	t.Helper()
	m, err := New(method, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := m.Discover(context.Background(), r)
	slices.Sort(nodes)
	return nodes, err
}

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{"": MC, "mc": MC, "broadcast": MC, "choria": PuppetDB, "FILE": Flatfile, " inventory ": Inventory} {
		if got, err := Canonical(in); err != nil || got != want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Canonical("ldap"); err == nil || !strings.Contains(err.Error(), "use one of mc, flatfile, inventory, external, puppetdb") {
		t.Errorf("Canonical(ldap) error = %v", err)
	}
}

// TestCheckRefuses: every filter a method cannot evaluate is refused by name, with the
// method that can; the call's own agent is not the user's filter.
func TestCheckRefuses(t *testing.T) {
	tests := []struct {
		method string
		o      filter.Options
		want   string
	}{
		{Flatfile, filter.Options{Facts: []string{"role=web"}}, "the flatfile method cannot evaluate fact filters (-F)"},
		{Flatfile, filter.Options{Classes: []string{"base"}}, "class filters (-C)"},
		{Flatfile, filter.Options{Agents: []string{"puppet"}}, "agent filters (-A)"},
		{Flatfile, filter.Options{Select: "role=web"}, "compound filters (-S)"},
		{Inventory, filter.Options{Select: `role=web and fstat("/etc/motd").size>0`}, "the data plugin fstat() in -S; data plugins run on the nodes: use --dm mc"},
		{PuppetDB, filter.Options{Select: "role=web"}, "the puppetdb method cannot evaluate compound filters (-S)"},
	}
	for _, tt := range tests {
		err := Check(tt.method, mustFilter(t, tt.o), "")
		if !errors.Is(err, ErrUnsupportedFilter) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %+v: %v; want ErrUnsupportedFilter with %q", tt.method, tt.o, err, tt.want)
		}
	}
	ok := []struct {
		method string
		o      filter.Options
	}{
		{Flatfile, filter.Options{Identities: []string{"/web/"}}},
		{Inventory, filter.Options{Facts: []string{"role=web"}, Classes: []string{"base"}, Agents: []string{"puppet"}, Select: "role=web or rack=r1"}},
		{External, filter.Options{Select: `fstat("/etc/motd").size>0`}},
		{MC, filter.Options{Select: `fstat("/etc/motd").size>0`}},
		{PuppetDB, filter.Options{Facts: []string{"role=web"}, Agents: []string{"puppet"}}},
	}
	for _, tt := range ok {
		if err := Check(tt.method, mustFilter(t, tt.o), ""); err != nil {
			t.Errorf("%s %+v: %v", tt.method, tt.o, err)
		}
	}
	if err := Check(Flatfile, message.Filter{Agent: []string{"rpcutil"}}, "rpcutil"); err != nil {
		t.Errorf("flatfile refused the call's own agent: %v", err)
	}
}

func TestDiff(t *testing.T) {
	a, b := Diff([]string{"c", "a", "b", "a"}, []string{"d", "b", "c"})
	if !slices.Equal(a, []string{"a"}) || !slices.Equal(b, []string{"d"}) {
		t.Errorf("Diff = %v, %v", a, b)
	}
	a, b = Diff(nil, []string{"x"})
	if a != nil || !slices.Equal(b, []string{"x"}) {
		t.Errorf("Diff(nil, x) = %v, %v", a, b)
	}
}

func TestParseOptions(t *testing.T) {
	o, err := ParseOptions([]string{"file=a=b.txt", " format=json ", ""})
	if err != nil || o["file"] != "a=b.txt" || o["format"] != "json" || len(o) != 2 {
		t.Errorf("ParseOptions = %v, %v", o, err)
	}
	if _, err := ParseOptions([]string{"file"}); err == nil || !strings.Contains(err.Error(), "want KEY=VALUE") {
		t.Errorf("ParseOptions(file) error = %v", err)
	}
}

// TestFlatfileFormats: every list format Choria's flatfile reads, and mcorun's own JSON.
func TestFlatfileFormats(t *testing.T) {
	dir := t.TempDir()
	want := []string{"web01.dc1.example.net", "web02.dc1.example.net"}
	files := map[string]string{
		"nodes.txt":   "web01.dc1.example.net\n  # comment\n\nweb02.dc1.example.net  \n",
		"nodes.json":  `["web01.dc1.example.net", "web02.dc1.example.net"]`,
		"nodes.yaml":  "- web01.dc1.example.net\n- web02.dc1.example.net\n",
		"mco.json":    `[{"sender": "web01.dc1.example.net", "statuscode": 0, "data": {}}, {"sender": "web02.dc1.example.net", "statuscode": 1}]`,
		"choria.json": `{"agent": "rpcutil", "action": "ping", "replies": [{"sender": "web01.dc1.example.net"}, {"sender": "web02.dc1.example.net"}]}`,
		"find.json":   `{"nodes": ["web01.dc1.example.net", "web02.dc1.example.net"], "discovery_ms": 1}`,
		"list":        `["web01.dc1.example.net","web02.dc1.example.net"]`,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := discoverWith(t, Flatfile, Request{Options: map[string]string{"file": p}})
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: %v, %v; want %v", name, got, err, want)
		}
	}
	got, err := discoverWith(t, Flatfile, Request{Options: map[string]string{"file": filepath.Join(dir, "nodes.txt")},
		Filter: message.Filter{Identity: []string{"/02/"}}})
	if err != nil || !slices.Equal(got, want[1:]) {
		t.Errorf("-I /02/: %v, %v", got, err)
	}
}

// TestFlatfileBadInput: each bad list is refused with what is wrong and where.
func TestFlatfileBadInput(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"space.txt":  "web01\nweb 02\n",
		"empty.txt":  "# nothing\n",
		"bad.json":   `["web01",`,
		"num.json":   `["web01", 3]`,
		"obj.json":   `{"hosts": ["a"]}`,
		"bad.yaml":   "- a\n b: [",
		"nested.yml": "replies: 3\n",
	}
	wants := map[string]string{
		"space.txt":  `line 2: identity "web 02" holds white space`,
		"empty.txt":  "no identities in the file",
		"bad.json":   "not valid JSON",
		"num.json":   `entry 2: want an identity or a reply with a "sender", got a number`,
		"obj.json":   `an object without "replies" or "nodes"`,
		"bad.yaml":   "not valid YAML",
		"nested.yml": `"replies": want a list, got a number`,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := discoverWith(t, Flatfile, Request{Options: map[string]string{"file": p}})
		if !errors.Is(err, ErrSource) || !strings.Contains(err.Error(), wants[name]) {
			t.Errorf("%s: %v; want ErrSource with %q", name, err, wants[name])
		}
	}
	for _, tt := range []struct {
		opts map[string]string
		want string
	}{
		{nil, "no file: pass --do file=FILE"},
		{map[string]string{"file": filepath.Join(dir, "none.txt")}, "no such file"},
		{map[string]string{"file": dir}, "is a directory"},
		{map[string]string{"file": filepath.Join(dir, "space.txt"), "fromat": "json"}, `unknown option "fromat": the flatfile method takes file, format`},
	} {
		if _, err := discoverWith(t, Flatfile, Request{Options: tt.opts}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v; want %q", tt.opts, err, tt.want)
		}
	}
}

const testInventory = "testdata/inventory.yaml"

// TestInventoryFilters: each filter kind is evaluated on the inventory's facts, classes and
// agents by runtime/match, as a node would evaluate it on itself.
func TestInventoryFilters(t *testing.T) {
	tests := []struct {
		name       string
		o          filter.Options
		collective string
		callAgent  string
		want       []string
	}{
		{"all", filter.Options{}, "", "", []string{"app01.dc1.example.net", "db01.dc2.example.net", "ghost01.dc1.example.net", "web01.dc1.example.net", "web02.dc1.example.net"}},
		{"fact", filter.Options{Facts: []string{"role=web"}}, "", "", []string{"ghost01.dc1.example.net", "web01.dc1.example.net", "web02.dc1.example.net"}},
		{"fact >=", filter.Options{Facts: []string{"processorcount>=8"}}, "", "", []string{"db01.dc2.example.net", "web02.dc1.example.net"}},
		{"fact regex", filter.Options{Facts: []string{"rack=/r[12]/"}}, "", "", []string{"app01.dc1.example.net", "web01.dc1.example.net", "web02.dc1.example.net"}},
		{"class", filter.Options{Classes: []string{"db::postgres"}}, "", "", []string{"db01.dc2.example.net"}},
		{"class regex", filter.Options{Classes: []string{"/java/"}}, "", "", []string{"app01.dc1.example.net"}},
		{"identity", filter.Options{Identities: []string{"/^web/", "db01.dc2.example.net"}}, "", "", []string{"db01.dc2.example.net", "web01.dc1.example.net", "web02.dc1.example.net"}},
		{"agent", filter.Options{Agents: []string{"service"}}, "", "", []string{"web01.dc1.example.net", "web02.dc1.example.net"}},
		{"with", filter.Options{With: []string{"web::nginx rack=r4"}}, "", "", []string{"ghost01.dc1.example.net"}},
		{"compound", filter.Options{Select: "(role=web and !rack=r4) or base and db::postgres"}, "", "", []string{"db01.dc2.example.net", "web01.dc1.example.net", "web02.dc1.example.net"}},
		{"collective", filter.Options{}, "dc2", "", []string{"db01.dc2.example.net"}},
		{"call agent", filter.Options{Facts: []string{"role=web"}}, "", "puppet", []string{"web01.dc1.example.net", "web02.dc1.example.net"}},
		{"group", filter.Options{Identities: []string{"group:web"}}, "", "", []string{"ghost01.dc1.example.net", "web01.dc1.example.net", "web02.dc1.example.net"}},
		{"groups", filter.Options{Identities: []string{"group:dc2", "group:big_web"}}, "", "", []string{"db01.dc2.example.net", "web02.dc1.example.net"}},
		{"group and call agent", filter.Options{Identities: []string{"group:web"}}, "", "service", []string{"web01.dc1.example.net", "web02.dc1.example.net"}},
		{"empty group", filter.Options{Identities: []string{"group:all"}}, "", "", []string{"app01.dc1.example.net", "db01.dc2.example.net", "ghost01.dc1.example.net", "web01.dc1.example.net", "web02.dc1.example.net"}},
	}
	for _, tt := range tests {
		f := mustFilter(t, tt.o)
		if tt.callAgent != "" {
			f.Agent = append(f.Agent, tt.callAgent)
		}
		got, err := discoverWith(t, Inventory, Request{Filter: f, Collective: tt.collective, CallAgent: tt.callAgent,
			Options: map[string]string{"file": testInventory}})
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

// TestInventoryBadInput: a malformed inventory, an unknown group or a group mixed with other
// filters is a clear error.
func TestInventoryBadInput(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"key.yaml":    "nodes:\n  - name: a\n    fact: {x: 1}\n",
		"dup.yaml":    "nodes:\n  - name: a\n  - name: a\n",
		"name.yaml":   "nodes:\n  - name: ''\n",
		"nonodes.yml": "groups: []\n",
		"group.yaml":  "groups:\n  - name: g\n  - name: g\nnodes: []\n",
		"schema.json": `{"$schema": "https://example.com/other.json", "nodes": []}`,
		"type.json":   `{"nodes": {"a": 1}}`,
		"empty.yaml":  "",
	}
	wants := map[string]string{
		"key.yaml":    "field fact not found",
		"dup.yaml":    "node 2: a is listed twice",
		"name.yaml":   "node 1: name: empty identity",
		"nonodes.yml": `no "nodes" list`,
		"group.yaml":  `group "g" is defined twice`,
		"schema.json": `$schema "https://example.com/other.json"`,
		"type.json":   "not a valid inventory",
		"empty.yaml":  "empty inventory",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := discoverWith(t, Inventory, Request{Options: map[string]string{"file": p}})
		if !errors.Is(err, ErrSource) || !strings.Contains(err.Error(), wants[name]) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v; want ErrSource naming the file with %q", name, err, wants[name])
		}
	}
	lax, err := discoverWith(t, Inventory, Request{Options: map[string]string{"file": filepath.Join(dir, "key.yaml"), "novalidate": ""}})
	if err != nil || !slices.Equal(lax, []string{"a"}) {
		t.Errorf("novalidate: %v, %v", lax, err)
	}
	choria := filepath.Join(dir, "choria.yaml")
	if err := os.WriteFile(choria, []byte("groups:\n  - name: acme\n    filter: {compound: 'with(\"customer=acme\")'}\n  - name: mt\n    filter: {facts: [country=mt]}\n"+
		"nodes:\n  - {name: a, facts: {country: mt}}\n  - {name: b, facts: {country: de}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if nodes, err := discoverWith(t, Inventory, Request{Filter: message.Filter{Identity: []string{"group:mt"}}, Options: map[string]string{"file": choria}}); err != nil || !slices.Equal(nodes, []string{"a"}) {
		t.Errorf("a usable group beside one in Choria's expression language: %v, %v", nodes, err)
	}
	if _, err := discoverWith(t, Inventory, Request{Filter: message.Filter{Identity: []string{"group:acme"}}, Options: map[string]string{"file": choria}}); !errors.Is(err, ErrSource) ||
		!strings.Contains(err.Error(), `group "acme": compound filter`) || !strings.Contains(err.Error(), "not Choria's expression language") {
		t.Errorf("group in Choria's expression language: %v", err)
	}
	for _, tt := range []struct {
		o    filter.Options
		want string
	}{
		{filter.Options{Identities: []string{"group:nosuch"}}, `no group "nosuch"; the inventory defines web, dc2, big_web, all`},
		{filter.Options{Identities: []string{"group:web", "web01.dc1.example.net"}}, "-I group:NAME cannot be combined with other filters"},
		{filter.Options{Identities: []string{"group:web"}, Facts: []string{"rack=r1"}}, "cannot be combined"},
	} {
		_, err := discoverWith(t, Inventory, Request{Filter: mustFilter(t, tt.o), Options: map[string]string{"file": testInventory}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v; want %q", tt.o, err, tt.want)
		}
	}
	if _, err := discoverWith(t, Inventory, Request{}); err == nil || !strings.Contains(err.Error(), "no inventory file: pass --do file=FILE or set plugin.choria.discovery.inventory.source") {
		t.Errorf("no file: %v", err)
	}
}

// TestInventoryFromSettings: the config's source is used unless --do file= overrides it, and
// default_discovery_options apply under the call's own.
func TestInventoryFromSettings(t *testing.T) {
	m, err := New(Inventory, Settings{InventorySource: "testdata/none.yaml", DefaultOptions: map[string]string{"file": testInventory}})
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := m.Discover(context.Background(), Request{Filter: message.Filter{Identity: []string{"/^db/"}}})
	if err != nil || !slices.Equal(nodes, []string{"db01.dc2.example.net"}) {
		t.Errorf("default options: %v, %v", nodes, err)
	}
	if _, err := m.Discover(context.Background(), Request{Options: map[string]string{"file": "testdata/other.yaml"}}); err == nil || !strings.Contains(err.Error(), "other.yaml") {
		t.Errorf("the call's file did not win: %v", err)
	}
	m, _ = New(Inventory, Settings{InventorySource: testInventory})
	if nodes, err := m.Discover(context.Background(), Request{}); err != nil || len(nodes) != 5 {
		t.Errorf("config source: %v, %v", nodes, err)
	}
}

// TestExternal runs testdata/external.sh, a command written from Choria's protocol
// documentation: it gets the request file, the reply file and the protocol, and the request
// holds the filter, collective, options and timeout in Choria's shape.
func TestExternal(t *testing.T) {
	dump := filepath.Join(t.TempDir(), "request.json")
	f := mustFilter(t, filter.Options{Facts: []string{"role=db"}, Select: "rack=r3 and not base"})
	nodes, err := discoverWith(t, External, Request{Filter: f, Collective: "dc2", Timeout: 3 * time.Second,
		Options: map[string]string{"command": "testdata/external.sh", "dump": dump}})
	if err != nil || !slices.Equal(nodes, []string{"db01.dc2.example.net"}) {
		t.Fatalf("external: %v, %v", nodes, err)
	}
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	var req map[string]any
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"$schema": ExternalRequestSchema, "protocol": ExternalRequestProtocol, "collective": "dc2",
		"federations": []any{}, "timeout": 3.0,
		"options": map[string]any{"dump": dump},
		"filter": map[string]any{
			"fact":     []any{map[string]any{"fact": "role", "operator": "==", "value": "db"}},
			"cf_class": []any{}, "agent": []any{}, "identity": []any{},
			"compound": []any{[]any{map[string]any{"expr": "rack=r3 and not base"}}},
		},
	}
	gotJSON, _ := json.Marshal(req)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("request\n got %s\nwant %s", gotJSON, wantJSON)
	}
	m, _ := New(External, Settings{ExternalCommand: "testdata/external.sh"})
	if nodes, err := m.Discover(context.Background(), Request{}); err != nil || len(nodes) != 2 {
		t.Errorf("config command: %v, %v", nodes, err)
	}
}

// TestExternalFailures: an error reply, a non-zero exit (with its stderr), a command that
// hangs (killed at the timeout, with its children) and a missing command are clear errors.
func TestExternalFailures(t *testing.T) {
	tests := []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"fail": "yes"}, "external: external.sh: the CMDB is down"},
		{map[string]string{"exit": "yes"}, "external.sh failed: exit status 7; stderr: cannot reach the CMDB"},
		{map[string]string{"hang": "yes"}, "external.sh did not finish within 1s and was killed"},
	}
	for _, tt := range tests {
		tt.opts["command"] = "testdata/external.sh"
		start := time.Now()
		_, err := discoverWith(t, External, Request{Timeout: time.Second, Options: tt.opts})
		if !errors.Is(err, ErrSource) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v; want %q", tt.opts, err, tt.want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%v took %s", tt.opts, d)
		}
	}
	if _, err := discoverWith(t, External, Request{Options: map[string]string{"command": "/nonexistent/cmd"}}); err == nil || !strings.Contains(err.Error(), "cmd failed") {
		t.Errorf("missing command: %v", err)
	}
	if _, err := discoverWith(t, External, Request{}); err == nil || !strings.Contains(err.Error(), "no command: pass --do command=CMD") {
		t.Errorf("no command: %v", err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.sh")
	if err := os.WriteFile(bad, []byte("#!/bin/sh\necho '{\"nodes\": [\"a\"]}' >\"$2\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := discoverWith(t, External, Request{Options: map[string]string{"command": bad}}); err == nil || !strings.Contains(err.Error(), `reply protocol "": want "io.choria.choria.discovery.v1.external_reply"`) {
		t.Errorf("no protocol: %v", err)
	}
}

func FuzzParseInventory(f *testing.F) {
	b, err := os.ReadFile(testInventory)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"nodes": [{"name": "a", "facts": {"x": [1, {"y": null}]}}], "groups": [{"name": "g", "filter": {"compound": "x=1"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		inv, err := ParseInventory(b, false)
		if err != nil {
			return
		}
		f := message.Filter{Fact: []message.FactFilter{{Fact: "x", Value: "1", Operator: ">="}}, Identity: []string{"group:g"}}
		_, _ = inv.Select(context.Background(), f, "", "")
		_, _ = inv.Select(context.Background(), message.Filter{Fact: f.Fact, CFClass: []string{"/a/"}}, "c", "")
	})
}

func FuzzParseNodeList(f *testing.F) {
	f.Add([]byte("a\nb\n"), "json")
	f.Add([]byte(`{"replies": [{"sender": "a"}]}`), "")
	f.Add([]byte("- a\n- {sender: b}\n"), "yaml")
	f.Fuzz(func(t *testing.T, b []byte, format string) {
		nodes, err := ParseNodeList(b, "fuzz", format)
		if err == nil && len(nodes) == 0 {
			t.Fatal("no error and no nodes")
		}
		for _, n := range nodes {
			if checkIdentity(n) != nil {
				t.Fatalf("invalid identity %q accepted", n)
			}
		}
	})
}

// TestInventoryJSON: a JSON inventory matches as its YAML form does, numbers included.
func TestInventoryJSON(t *testing.T) {
	p := filepath.Join(t.TempDir(), "inv.json")
	body := `{"nodes": [{"name": "a", "facts": {"cpus": 4, "load": 0.5, "big": 12345678901234567890, "os": {"v": [12]}}}, {"name": "b", "facts": {"cpus": 2.5}}]}`
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		facts []string
		want  []string
	}{
		{[]string{"cpus=4"}, []string{"a"}},
		{[]string{"cpus>=3"}, []string{"a"}},
		{[]string{"cpus=2.5"}, []string{"b"}},
		{[]string{"load=0.5"}, []string{"a"}},
		{[]string{"big=12345678901234567890"}, []string{"a"}},
	} {
		got, err := discoverWith(t, Inventory, Request{Filter: mustFilter(t, filter.Options{Facts: tt.facts}), Options: map[string]string{"file": p}})
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%v: %v, %v; want %v", tt.facts, got, err, tt.want)
		}
	}
}

// TestFromConfig: the sources' keys are read as Choria names them, PuppetDB's TLS files fall
// back to the first broker's, and the config knows every key (no warning).
func TestFromConfig(t *testing.T) {
	parse := func(text string) *config.Config {
		t.Helper()
		cfg, err := config.Parse(strings.NewReader(text), "client.cfg")
		if err != nil {
			t.Fatal(err)
		}
		cfg.LookupEnv = func(string) (string, bool) { return "", false }
		return cfg
	}
	const broker = "plugin.rabbitmq.pool.size = 1\nplugin.rabbitmq.pool.1.host = mq\nplugin.rabbitmq.pool.1.ssl = 1\n" +
		"plugin.rabbitmq.pool.1.ssl.ca = /ssl/ca.pem\nplugin.rabbitmq.pool.1.ssl.cert = /ssl/me.pem\nplugin.rabbitmq.pool.1.ssl.key = /ssl/me.key\n"
	cfg := parse(broker + `default_discovery_method = inventory
default_discovery_options = file=/etc/inv.yaml, novalidate=1
plugin.choria.discovery.inventory.source = /etc/mcorun/inventory.yaml
plugin.choria.discovery.external.command = /usr/local/bin/cmdb-nodes --all
plugin.choria.puppetdb_host = puppetdb.example.net
`)
	if len(cfg.Warnings) > 0 {
		t.Errorf("warnings: %v", cfg.Warnings)
	}
	s, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{InventorySource: "/etc/mcorun/inventory.yaml", ExternalCommand: "/usr/local/bin/cmdb-nodes --all",
		PuppetDB:       PuppetDBSettings{Host: "puppetdb.example.net", Port: 8081, Cert: "/ssl/me.pem", Key: "/ssl/me.key", CA: "/ssl/ca.pem"},
		DefaultOptions: map[string]string{"file": "/etc/inv.yaml", "novalidate": "1"}}
	if got, _ := json.Marshal(s); string(got) != string(mustJSON(t, want)) {
		t.Errorf("settings\n got %s\nwant %s", got, mustJSON(t, want))
	}
	if cfg.DefaultDiscoveryMethod != "inventory" || s.PuppetDB.URL() != "https://puppetdb.example.net:8081/pdb/query/v4" {
		t.Errorf("method %q, url %s", cfg.DefaultDiscoveryMethod, s.PuppetDB.URL())
	}
	s, err = FromConfig(parse(broker + "plugin.choria.puppetdb_port = 8443\nplugin.security.file.certificate = /c.pem\nplugin.security.file.key = /c.key\n"))
	if err != nil || s.PuppetDB.Cert != "/c.pem" || s.PuppetDB.Key != "/c.key" || s.PuppetDB.CA != "" || s.PuppetDB.Port != 8443 {
		t.Errorf("plugin.security.file.*: %+v, %v", s.PuppetDB, err)
	}
	for text, want := range map[string]string{
		"plugin.choria.puppetdb_port = 70000\n": "want a TCP port",
		"default_discovery_options = file\n":    "default_discovery_options",
	} {
		if _, err := FromConfig(parse(broker + text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v; want %q", text, err, want)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestChoriaReference is a reference tier: with MCORUN_CHORIA_DIR naming a checkout of
// go-choria, its own external discovery test script (which checks every field of the request
// it gets) answers the external method, and its example inventory is read and filtered.
func TestChoriaReference(t *testing.T) {
	dir := os.Getenv("MCORUN_CHORIA_DIR")
	if dir == "" {
		t.Skip("a reference tier: MCORUN_CHORIA_DIR=/path/to/go-choria go test -run TestChoriaReference ./runtime/discovery")
	}
	script := filepath.Join(dir, "providers/discovery/external/testdata/good.rb")
	f := message.Filter{Fact: []message.FactFilter{{Fact: "country", Operator: "==", Value: "mt"}}, Agent: []string{"rpcutil"}}
	nodes, err := discoverWith(t, External, Request{Filter: f, CallAgent: "rpcutil", Collective: "ginkgo",
		Options: map[string]string{"command": script, "foo": "bar"}})
	if err != nil || !slices.Equal(nodes, []string{"one", "two"}) {
		t.Errorf("%s: %v, %v", script, nodes, err)
	}
	inv := filepath.Join(dir, "providers/discovery/inventory/testdata/good-inventory.yaml")
	for _, tt := range []struct {
		f    message.Filter
		want []string
	}{
		{message.Filter{Identity: []string{"group:malta"}}, []string{"dev1.example.net"}},
		{message.Filter{Identity: []string{"group:germany"}}, []string{"dev2.example.net"}},
		{message.Filter{CFClass: []string{"three"}}, []string{"dev2.example.net"}},
		{message.Filter{}, []string{"dev1.example.net"}},
	} {
		collective := ""
		if len(tt.f.Identity)+len(tt.f.CFClass) == 0 {
			collective = "mt_collective"
		}
		nodes, err := discoverWith(t, Inventory, Request{Filter: tt.f, Collective: collective, Options: map[string]string{"file": inv}})
		if err != nil || !slices.Equal(nodes, tt.want) {
			t.Errorf("%s %+v: %v, %v; want %v", inv, tt.f, nodes, err, tt.want)
		}
	}
}
