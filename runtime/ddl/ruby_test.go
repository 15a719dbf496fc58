package ddl

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/testenv"
)

func TestRubyValidation(t *testing.T) {
	for v, want := range map[string]string{
		"":              "nil",
		":shellsafe":    ":shellsafe",
		"shellsafe":     ":shellsafe",
		":integer":      ":integer",
		"service_name":  `Regexp.new('\\A[a-zA-Z.\\-_\\d:@]+\\z')`,
		":package_name": `Regexp.new('\\A[a-zA-Z.\\-_\\d]+\\z')`,
		":nettest_fqdn": "nil",
		":no_such":      "nil",
		"^.+$":          "'^.+$'",
		"/./":           "Regexp.new('.', 0)",
		"/a'b/im":       `Regexp.new('a\'b', 5)`,
		"/x/q":          "'/x/q'",
		"it's":          `'it\'s'`,
		`#{system(1)}`:  `'#{system(1)}'`,
	} {
		if got := rubyValidation(v); got != want {
			t.Errorf("rubyValidation(%q) = %s, want %s", v, got, want)
		}
	}
}

func TestRubySymbolAndLit(t *testing.T) {
	for in, want := range map[string]string{"status": ":status", "a1": ":a1", "1a": ":'1a'", "a-b": ":'a-b'", "": ":''"} {
		if got := rubySymbol(in); got != want {
			t.Errorf("rubySymbol(%q) = %s, want %s", in, got, want)
		}
	}
	got := rubyLit(map[string]any{"b": []any{int64(1), 2.5, true, nil}, "a": `x\y`})
	if want := `{'a' => 'x\\y', 'b' => [1, 2.5, true, nil]}`; got != want {
		t.Errorf("rubyLit = %s, want %s", got, want)
	}
}

func TestRenderRubyShape(t *testing.T) {
	a, err := Builtin("service")
	if err != nil {
		t.Fatal(err)
	}
	s := RenderRuby(a)
	for _, want := range []string{
		"metadata :name => 'service',", ":timeout => 60\n",
		"action 'restart', :description => 'Restart a service' do\n  display :failed\n",
		"  input :service, :prompt => 'Service Name', :description => 'The service to restart', :type => :string, :optional => false, :validation => Regexp.new(",
		":maxlength => 90\n",
		"  output :status, :description => 'The status of the service after restarting', :display_as => 'Service Status', :default => 'unknown'\n",
		"  summarize do\n    aggregate summary(:status)\n  end\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("RenderRuby(service) lacks %q:\n%s", want, s)
		}
	}
	n, err := Builtin("nettest")
	if err != nil {
		t.Fatal(err)
	}
	if s := RenderRuby(n); strings.Contains(s, "nettest_mma") || !strings.Contains(s, "aggregate summary(:connect_status)") {
		t.Errorf("RenderRuby(nettest): want summary kept and nettest_mma left out:\n%s", s)
	}
}

// rubyLoadDDL loads a DDL file with stock MCollective's own DDL classes and prints its
// metadata and entities as JSON (symbols as ":name", regexps as "/source/options"); with an
// action and JSON arguments after the path, it validates them as mco does before a request
// and prints "valid" or the error.
const rubyLoadDDL = `
require 'mcollective'
require 'json'
kind, name, path, action, args = ARGV
ddl = kind == "agent" ? MCollective::DDL::AgentDDL.new(name, :agent, false) : MCollective::DDL::DataDDL.new(name, :data, false)
ddl.instance_eval(File.read(path), path)
if action
  begin
    a = JSON.parse(args).map { |k, v| [k.to_sym, v] }.to_h
    ddl.validate_rpc_request(action, a)
    puts "valid"
  rescue => e
    puts e.to_s
  end
  exit 0
end
conv = lambda do |v|
  case v
  when Hash then v.map { |k, x| [k.to_s, conv.call(x)] }.to_h
  when Array then v.map { |x| conv.call(x) }
  when Symbol then ":" + v.to_s
  when Regexp then "/" + v.source + "/" + v.options.to_s
  else v
  end
end
puts JSON.generate({"meta" => conv.call(ddl.meta), "entities" => conv.call(ddl.entities)})
`

// requireRubyMCollective skips (under CI, fails) when stock MCollective's Ruby library is
// not installed.
func requireRubyMCollective(t *testing.T) string {
	t.Helper()
	ruby, err := exec.LookPath("ruby")
	if err == nil {
		err = exec.Command(ruby, "-e", "require 'mcollective'").Run()
	}
	if err != nil {
		testenv.SkipOrFail(t, "stock MCollective's Ruby library is not loadable (%v): run .ci/setup-services (apt-get install mcollective-client)", err)
		return ""
	}
	return ruby
}

func rubyLoad(t *testing.T, ruby, kind, name, text string, extra ...string) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), name+".ddl")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ruby, append([]string{"-e", rubyLoadDDL, kind, name, p}, extra...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("stock MCollective refused the rendered %s DDL %s: %v\n%s\nDDL:\n%s", kind, name, err, out, text)
	}
	return out
}

type rubyEntity struct {
	Display     string                    `json:"display"`
	Description string                    `json:"description"`
	Input       map[string]map[string]any `json:"input"`
	Output      map[string]map[string]any `json:"output"`
	Aggregate   []struct {
		Function string `json:"function"`
		Args     []any  `json:"args"`
	} `json:"aggregate"`
}

type rubyLoaded struct {
	Meta     map[string]any        `json:"meta"`
	Entities map[string]rubyEntity `json:"entities"`
}

// checkRubyInputs compares what MCollective read back with our inputs.
func checkRubyInputs(t *testing.T, where string, ours map[string]*Input, theirs map[string]map[string]any) {
	t.Helper()
	if !slices.Equal(sortedKeys(ours), sortedKeys(theirs)) {
		t.Errorf("%s: inputs %v, rendered back as %v", where, sortedKeys(ours), sortedKeys(theirs))
	}
	for k, in := range ours {
		r := theirs[k]
		if r == nil {
			continue
		}
		if r["type"] != ":"+in.Type || r["optional"] != in.Optional || r["prompt"] != in.Prompt || r["description"] != in.Description {
			t.Errorf("%s input %s: read back %v from %+v", where, k, r, *in)
		}
		if in.Type == "string" && r["maxlength"] != float64(in.MaxLength) {
			t.Errorf("%s input %s: maxlength %v, want %d", where, k, r["maxlength"], in.MaxLength)
		}
		if in.Default != nil && r["default"] != in.Default {
			t.Errorf("%s input %s: default %#v, want %#v", where, k, r["default"], in.Default)
		}
	}
}

func checkRubyOutputs(t *testing.T, where string, ours map[string]*Output, theirs map[string]map[string]any) {
	t.Helper()
	if !slices.Equal(sortedKeys(ours), sortedKeys(theirs)) {
		t.Errorf("%s: outputs %v, rendered back as %v", where, sortedKeys(ours), sortedKeys(theirs))
	}
	for k, o := range ours {
		if r := theirs[k]; r != nil && (r["display_as"] != o.DisplayAs || r["description"] != o.Description) {
			t.Errorf("%s output %s: read back %v from %+v", where, k, r, *o)
		}
	}
}

// TestRenderRubyLoadsInStockMCollective renders every built-in agent and data plugin DDL and
// loads it with stock MCollective's DDL classes, then checks what they read back.
func TestRenderRubyLoadsInStockMCollective(t *testing.T) {
	ruby := requireRubyMCollective(t)
	for _, name := range BuiltinAgents() {
		t.Run("agent "+name, func(t *testing.T) {
			t.Parallel()
			a, err := Builtin(name)
			if err != nil {
				t.Fatal(err)
			}
			var got rubyLoaded
			if err := json.Unmarshal(rubyLoad(t, ruby, "agent", name, RenderRuby(a)), &got); err != nil {
				t.Fatal(err)
			}
			if got.Meta["timeout"] != float64(a.Metadata.Timeout) || got.Meta["version"] != a.Metadata.Version {
				t.Errorf("metadata read back as %v", got.Meta)
			}
			if !slices.Equal(sortedKeys(a.Actions), sortedKeys(got.Entities)) {
				t.Fatalf("actions %v, read back as %v", sortedKeys(a.Actions), sortedKeys(got.Entities))
			}
			for n, act := range a.Actions {
				e := got.Entities[n]
				if want := act.Display; want != "" && e.Display != ":"+want || want == "" && e.Display != ":failed" {
					t.Errorf("%s: display %s, want %q", n, e.Display, want)
				}
				checkRubyInputs(t, n, act.Input, e.Input)
				checkRubyOutputs(t, n, act.Output, e.Output)
				var wantAggs []string
				for _, ag := range act.Aggregate {
					if ag.Function == "summary" || ag.Function == "average" || ag.Function == "sum" {
						wantAggs = append(wantAggs, ":"+ag.Function+"(:"+ag.Output+")")
					}
				}
				var gotAggs []string
				for _, ag := range e.Aggregate {
					if len(ag.Args) > 0 {
						gotAggs = append(gotAggs, ag.Function+"("+ag.Args[0].(string)+")")
					}
				}
				if !slices.Equal(wantAggs, gotAggs) {
					t.Errorf("%s: aggregates %v, want %v", n, gotAggs, wantAggs)
				}
			}
		})
	}
	for _, name := range BuiltinDataPlugins() {
		t.Run("data "+name, func(t *testing.T) {
			t.Parallel()
			d, err := BuiltinData(name)
			if err != nil {
				t.Fatal(err)
			}
			var got rubyLoaded
			if err := json.Unmarshal(rubyLoad(t, ruby, "data", name, RenderRubyData(d)), &got); err != nil {
				t.Fatal(err)
			}
			e, ok := got.Entities["data"]
			if !ok || e.Description != d.Description {
				t.Fatalf("dataquery read back as %+v", got.Entities)
			}
			in := map[string]*Input{}
			if d.Query != nil {
				in["query"] = d.Query
			}
			checkRubyInputs(t, "dataquery", in, e.Input)
			checkRubyOutputs(t, "dataquery", d.Output, e.Output)
		})
	}
}

// TestRenderRubyValidatesLikeTheNode has stock MCollective validate requests against the
// rendered DDLs, as mco does before sending, and checks it agrees with our validation.
func TestRenderRubyValidatesLikeTheNode(t *testing.T) {
	ruby := requireRubyMCollective(t)
	for _, tc := range []struct {
		agent, action string
		args          map[string]any
		valid         bool
	}{
		{"service", "status", map[string]any{"service": "cron"}, true},
		{"service", "status", map[string]any{"service": "ssh@x.service"}, true},
		{"service", "status", map[string]any{"service": "cron;id"}, false},
		{"service", "restart", map[string]any{"service": strings.Repeat("a", 91)}, false},
		{"package", "status", map[string]any{"package": "dpkg"}, true},
		{"package", "status", map[string]any{"package": "dpkg|x"}, false},
		{"package", "install", map[string]any{"package": "x", "version": "1.2-3"}, true},
		{"package", "install", map[string]any{"package": "x", "version": "$(id)"}, false},
		{"shell", "run", map[string]any{"command": "echo hi"}, true},
		{"shell", "status", map[string]any{"handle": "ABC"}, false},
		{"nettest", "connect", map[string]any{"fqdn": "127.0.0.1", "port": 22}, true},
		{"nettest", "connect", map[string]any{"fqdn": "127.0.0.1", "port": "22"}, false},
	} {
		a, err := Builtin(tc.agent)
		if err != nil {
			t.Fatal(err)
		}
		ours := a.Validate(tc.action, tc.args)
		args, _ := json.Marshal(tc.args)
		out := strings.TrimSpace(string(rubyLoad(t, ruby, "agent", tc.agent, RenderRuby(a), tc.action, string(args))))
		if (out == "valid") != tc.valid || (ours == nil) != tc.valid {
			t.Errorf("%s %s %s: stock MCollective says %q, the node %v; want valid=%t", tc.agent, tc.action, args, out, ours, tc.valid)
		}
	}
}
