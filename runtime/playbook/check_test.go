package playbook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/ddl"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "lib.star"), []byte("def helper():\n    pass\nLIMIT = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		src  string
		args map[string]string
		want []string // diagnostics, without the file name
	}{
		{name: "clean", src: `load("lib.star", "helper", "LIMIT")
load("@mcorun//fleet.star", "outliers")
p = params(window = 5)
rs = rpc("rpcutil", "get_fact", {"fact": "os"}, nodes = discover())
rpc("service", "restart", {"service": "nginx"})
x = {"service": "nginx"}
rpc("service", "restart", x)
rpc(agent = "rpcutil", action = "ping")
print(args.window, p.window)
`, args: map[string]string{"window": "3"}},
		{name: "syntax error", src: "x = 1\ny = x +\n", want: []string{"2:8: got newline, want primary expression"}},
		{name: "unknown names", src: "discovr()\nrpc('rpcutil', 'ping')\ny = z + 1\n",
			want: []string{"1:1: undefined: discovr", "3:5: undefined: z"}},
		{name: "unknown agent", src: "rpc('nosuch', 'ping')\n",
			want: []string{`1:5: rpc: unknown agent "nosuch": ddl nosuch: unknown agent: builtin agent "nosuch": ddl not found (install its DDL as nosuch.json in a libdir)`}},
		{name: "unknown action", src: "rpc('rpcutil', 'pong')\n",
			want: []string{`1:16: rpc: agent rpcutil has no action "pong" (actions: agent_inventory, collective_info, daemon_stats, get_config_item, get_data, get_fact, get_facts, inventory, ping)`}},
		{name: "bad literal args", src: `rpc("service", "restart", {"service": "NGINX!"})
rpc("service", "restart", {"servce": "nginx"})
rpc("service", "status", {"service": 5}, nodes = ["web1"])
rpc("rpcutil", "get_fact")
`, want: []string{
			`1:39: rpc: service.restart: Cannot validate input service: NGINX! is not a valid service name`,
			`2:27: rpc: service.restart: Action restart needs a service argument`,
			`2:28: rpc: service.restart: input "servce" is not declared in the DDL (inputs: service)`,
			`3:38: rpc: service.status: Cannot validate input service: value should be a string`,
			`4:1: rpc: rpcutil.get_fact: Action get_fact needs a fact argument`,
		}},
		{name: "sizes no call can use", src: `rpc("rpcutil", "ping", batch = "0%")
rpc("rpcutil", "ping", limit = 0)
rpc("rpcutil", "ping", batch = "x")
rpc("rpcutil", "ping", batch = "30%", limit = 2)
`, want: []string{
			`1:32: rpc: batch "0%": a batch needs at least one node; leave it unset for no batching`,
			`2:32: rpc: limit "0": a limit of zero selects no node`,
			`3:32: rpc: batch: size "x": want a count N or a percentage N% with N a whole number, such as 2 or "10%"`,
		}},
		{name: "unknown keywords", src: `n = discover(filtr = "role=web", timeout = "2s")
rpc("rpcutil", "ping", nodes = n, batchsize = 2)
rolling(n, lambda b: None, windows = 2)
f = filter.fact("os", "Debian", operator = "==") & filter.identity("a", exact = True)
log("x", anything = 1)
print(struct(a = 1), params(b = 2), filter(role = "web"))
`, want: []string{
			`1:14: discover: unexpected keyword argument "filtr" (parameters: filter, timeout, method, nodes, limit, collective, seed, options)`,
			`2:35: rpc: unexpected keyword argument "batchsize" (parameters: agent, action, args,`,
			`3:28: rolling: unexpected keyword argument "windows" (parameters: nodes, step,`,
			`4:33: filter.fact: unexpected keyword argument "operator" (parameters: name, value, op)`,
			`4:73: filter.identity: unexpected keyword argument "exact": it takes no keywords`,
			`6:44: filter: unexpected keyword argument "role": it takes no keywords`,
		}},
		{name: "exit codes", src: "exit(3)\nexit(code = 5)\nexit(2)\nexit(code = 130)\nexit(len([]))\n", want: []string{
			`3:6: exit: code 2 is not a playbook outcome: want 0 (ok), 1 (failed), 3 (some nodes failed), 4`,
			`4:13: exit: code 130 is not a playbook outcome`,
		}},
		{name: "literal filters", src: `n = discover(filter.compound("role=web and"))
x = filter.fact("a b", 1) & filter.cls("/[/")
rpc("rpcutil", "ping", filter = "/[/")
discover("x=/(/")
z = filter.compound(expr = 'role=web and (a=1')
y = filter.compound("role=" + "web and")
ok = filter.compound("role=web") & filter("role=db", "web") & filter.identity("a", "/b/") & filter.agent("rpcutil")
`, want: []string{
			"1:40: filter.compound: compound filter: 'and' at the end of the expression at column 10\n  role=web and\n           ^",
			`2:5: filter.fact: bad fact name "a b"`,
			`2:29: filter.cls: class filter "/[/": match: malformed filter`,
			`3:33: filter: with "/[/": class filter "/[/": match: malformed filter`,
			`4:10: filter: with "x=/(/": fact x=~/(/: match: malformed filter`,
			`5:42: filter.compound: compound filter: unbalanced parenthesis: '(' never closed at column 14`,
		}},
		{name: "data plugin fields", src: `ok = filter.compound('fstat("/etc/motd").size>0')
f = filter.compound('role=web and fstat("/etc/motd").sise>0')
g = filter.compound("fsta('/').size>0")
`, want: []string{
			`2:54: filter.compound: compound filter: data plugin fstat has no field "sise" (fields: atime,`,
			`3:22: filter.compound: compound filter: unknown data plugin "fsta"`,
		}},
		{name: "shadowed builtins are not checked", src: "def discover(**kw):\n    return kw\ndiscover(anything = 1)\n"},
		{name: "shadowed rpc is not checked", src: "def rpc(a, b):\n    return a\nrpc('nosuch', 'x')\n"},
		{name: "unknown arg", src: "p = params(window = 5)\n", args: map[string]string{"windw": "1"},
			want: []string{`1:5: params: unknown arg "windw" (declared: window)`}},
		{name: "ill-typed arg", src: "p = params(window = 5)\n", args: map[string]string{"window": "x"},
			want: []string{`1:5: params: arg "window": want int, got "x"`}},
		{name: "duration without a unit", src: "p = params(timeout = param.duration(\"10m\"))\n", args: map[string]string{"timeout": "10"},
			want: []string{`1:5: params: arg "timeout": want a duration with a unit, such as 30s, 5m or 1h30m, got "10"`}},
		{name: "compound expression as filter words", src: "n = discover(\"role=app and environment=production\")\n",
			want: []string{`1:14: filter: "role=app and environment=production" reads as a compound expression, where "and" would be a class name: use filter.compound("role=app and environment=production")`}},
		{name: "param declarations", src: "p = params(a = param.duration(\"10\"), b = param.size(\"x\"), c = param.choice(\"x\", default = \"y\"), d = param.int(3), e = param.size(None), f = param.duration(time.second))\n",
			want: []string{
				`1:16: param.duration: default "10": want a duration with a unit, such as 30s, 5m or 1h30m, got "10"`,
				`1:42: param.size: default "x": size "x": want a count N or a percentage N%`,
				`1:63: param.choice: default: want one of x, got "y"`,
			}},
		{name: "param keywords", src: "p = params(timeout = param.duration(dflt = \"10m\"))\n",
			want: []string{`1:37: param.duration: unexpected keyword argument "dflt" (parameters: default)`}},
		{name: "arg without params", src: "print(1)\n", args: map[string]string{"window": "1"},
			want: []string{`1:1: unknown arg "window": the playbook declares no params()`}},
		{name: "undeclared args attribute", src: "p = params(window = 5)\nprint(args.windw)\n",
			want: []string{`2:12: args.windw: params() declares no "windw"`}},
		{name: "bad loads", src: `load("missing.star", "x")
load("lib.star", "nothelper")
load("@mcorun//nosuch.star", "y")
load("@other//a.star", "z")
`, want: []string{
			`1:6: load: "missing.star": open`,
			`2:19: load: lib.star does not define nothelper`,
			`3:6: load: no standard module "@mcorun//nosuch.star"`,
			`4:6: load: unknown repository in "@other//a.star": only @mcorun// is known`,
		}},
	}
	fleet := newTestFleet(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, "pb.star")
			diags := Check(file, []byte(tt.src), fleet.DDL, tt.args)
			if len(diags) != len(tt.want) {
				t.Fatalf("got %d diagnostics, want %d:\n%v", len(diags), len(tt.want), diags)
			}
			for i, d := range diags {
				if got := d.String(); !strings.HasPrefix(got, file+":"+tt.want[i]) {
					t.Errorf("diagnostic %d:\n got %s\nwant %s:%s", i, got, file, tt.want[i])
				}
			}
		})
	}
}

func TestCheckReadsFile(t *testing.T) {
	d := Check(filepath.Join(t.TempDir(), "none.star"), nil, nil, nil)
	if len(d) != 1 || !strings.Contains(d[0].String(), "none.star:1:1: open") {
		t.Errorf("%v", d)
	}
	// without a DDL function the built-in DDLs are known
	f := filepath.Join(t.TempDir(), "pb.star")
	if d := Check(f, []byte("rpc('rpcutil', 'ping')\nrpc('nosuch', 'status')\n"), nil, nil); len(d) != 1 ||
		!strings.Contains(d[0].Msg, `unknown agent "nosuch"`) {
		t.Errorf("%v", d)
	}
}

func TestCheckDataLibDir(t *testing.T) {
	lib := t.TempDir()
	if err := os.MkdirAll(filepath.Join(lib, "mcollective", "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	custom := `{"metadata": {"name": "uptime"}, "description": "d", "output": {"days": {"description": "d", "display_as": "Days"}}}`
	if err := os.WriteFile(filepath.Join(lib, "mcollective", "data", "uptime_data.json"), []byte(custom), 0o600); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "pb.star")
	src := []byte("a = filter.compound('uptime().days>1')\nb = filter.compound('uptime().hours>1')\n")
	d := CheckData(f, src, nil, ddl.DataFromLibDirs([]string{lib}), nil)
	if len(d) != 1 || !strings.HasPrefix(d[0].String(), f+`:2:31: filter.compound: compound filter: data plugin uptime has no field "hours" (fields: days)`) {
		t.Errorf("with the libdir: %v", d)
	}
	if d := Check(f, src, nil, nil); len(d) != 2 || !strings.Contains(d[0].Msg, `unknown data plugin "uptime"`) {
		t.Errorf("without it: %v", d)
	}
}
