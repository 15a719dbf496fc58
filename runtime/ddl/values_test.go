package ddl

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestDefaults(t *testing.T) {
	a := testAgent(t)
	got := a.Defaults("run")
	want := map[string]any{"status": int64(0), "out": "unknown", "list": []any{int64(1), "x"}, "none": nil}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Defaults = %#v, want %#v", got, want)
	}
	got["list"].([]any)[0] = "changed"
	if again := a.Defaults("run"); !reflect.DeepEqual(again, want) {
		t.Errorf("Defaults shares state: %#v", again)
	}
	if d := a.Defaults("nosuch"); len(d) != 0 {
		t.Errorf("Defaults(nosuch) = %v", d)
	}
	r, err := Builtin("rpcutil")
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Defaults("get_fact"); !reflect.DeepEqual(d, map[string]any{"fact": nil, "value": nil}) {
		t.Errorf("rpcutil get_fact defaults = %#v", d)
	}
}

func TestSetInputDefaults(t *testing.T) {
	a := testAgent(t)
	data := map[string]any{"cmd": "ls"}
	a.SetInputDefaults("run", data)
	want := map[string]any{"cmd": "ls", "force": false}
	if !reflect.DeepEqual(data, want) {
		t.Errorf("SetInputDefaults = %#v, want %#v (optional n keeps absent)", data, want)
	}
	data = map[string]any{"cmd": "ls", "force": true}
	a.SetInputDefaults("run", data)
	if data["force"] != true {
		t.Errorf("SetInputDefaults overwrote a given input")
	}
}

func TestConvert(t *testing.T) {
	tests := []struct {
		typ, in string
		want    any
		err     string
	}{
		{"boolean", "true", true, ""},
		{"boolean", "YES", true, ""},
		{"boolean", "y", true, ""},
		{"boolean", "1", true, ""},
		{"boolean", "f", false, ""},
		{"boolean", "No", false, ""},
		{"boolean", "0", false, ""},
		{"boolean", "maybe", nil, "maybe does not look like a boolean argument"},
		{"integer", "42", int64(42), ""},
		{"integer", "-3", int64(-3), ""},
		{"integer", "1.5", 1.5, ""},
		{"float", "2.25", 2.25, ""},
		{"number", "7", int64(7), ""},
		{"number", "1e3", nil, "1e3 does not look like a number"},
		{"string", "true", "true", ""},
		{"list", "fast", "fast", ""},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.in, func(t *testing.T) {
			got, err := (&Input{Type: tt.typ}).Convert(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Convert err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Convert = %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}

func TestBuiltins(t *testing.T) {
	for _, name := range []string{"rpcutil", "discovery"} {
		t.Run(name, func(t *testing.T) {
			if _, err := Builtin(name); err != nil {
				t.Fatal(err)
			}
		})
	}
	r, _ := Builtin("rpcutil")
	if r.Metadata.Timeout != 10 || len(r.Actions) != 9 {
		t.Errorf("rpcutil: timeout %d, %d actions", r.Metadata.Timeout, len(r.Actions))
	}
	if o := r.Actions["daemon_stats"].Output["ttlexpired"]; o.DisplayAs != "TTL Expired" {
		t.Errorf("ttlexpired display_as = %q", o.DisplayAs)
	}
	d, _ := Builtin("discovery")
	if d.Metadata.Timeout != 5 || d.Metadata.DisplayName != "Discovery Agent" {
		t.Errorf("discovery metadata = %+v", d.Metadata)
	}
	if _, err := Builtin("fstat_data"); err == nil {
		t.Error("Builtin(fstat_data) found a data DDL")
	}
	if _, err := Builtin("nosuch"); err == nil {
		t.Error("Builtin(nosuch) succeeded")
	}
	for _, name := range BuiltinDataPlugins() {
		t.Run("data/"+name, func(t *testing.T) {
			d, err := BuiltinData(name)
			if err != nil {
				t.Fatal(err)
			}
			// puppet() is the only built-in data plugin queried without an argument; service()
			// and package() have their plugins' 3 second timeout, the others MCollective's 1.
			timeout := 1
			if name == "service" || name == "package" {
				timeout = 3
			}
			if d.Metadata.Name != name || d.Metadata.Timeout != timeout || (d.Query == nil) != (name == "puppet") {
				t.Errorf("data %s: %+v", name, d.Metadata)
			}
		})
	}
	if got := strings.Join(BuiltinDataPlugins(), ","); got != "agent,collective,fact,fstat,package,puppet,service" {
		t.Errorf("BuiltinDataPlugins = %s", got)
	}
	// Each agent package adds its own DDL; the list is sorted and holds at least these.
	agents := BuiltinAgents()
	if !sort.StringsAreSorted(agents) {
		t.Errorf("BuiltinAgents = %v, not sorted", agents)
	}
	for _, want := range []string{"discovery", "nettest", "package", "puppet", "rpcutil", "service", "shell"} {
		if !slices.Contains(agents, want) {
			t.Errorf("BuiltinAgents = %v, lacks %s", agents, want)
		}
	}
	p, err := Builtin("puppet")
	if err != nil {
		t.Fatal(err)
	}
	if p.Metadata.Timeout != 20 || len(p.Actions) != 6 || p.Actions["status"].Output["since_lastrun"].Default != "Unknown" ||
		p.Actions["last_run_summary"].Output["failed_resources"].Default != int64(-1) ||
		p.Actions["runonce"].Input["tags"].Validation != ":puppet_tags" {
		t.Errorf("puppet ddl = %+v", p.Metadata)
	}
	f, _ := BuiltinData("fstat")
	if len(f.Output) != 18 {
		t.Errorf("fstat outputs = %d, want 18", len(f.Output))
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("pkg.json", `{"metadata":{"name":"Package Agent","timeout":30},"actions":{"status":{"description":"s"}}}`)
	write("notes.txt", "ignored")
	got, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := got["pkg"]
	if len(got) != 1 || p == nil || p.Metadata.Name != "pkg" || p.Metadata.DisplayName != "Package Agent" {
		t.Fatalf("LoadDir = %#v", got)
	}
	write("bad.json", `{"metadata":{"name":"bad"},"actions":{"x":{"input":{"i":{"type":"weird"}}}}}`)
	if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "bad.json") {
		t.Errorf("LoadDir bad = %v, want error naming bad.json", err)
	}
	if _, err := LoadDir(filepath.Join(dir, "missing")); err == nil {
		t.Error("LoadDir(missing) succeeded")
	}
	if _, err := ParseAgent([]byte(`{"metadata":{"name":"x"},"bogus":1}`)); err == nil {
		t.Error("ParseAgent accepted an unknown field")
	}
}

// The service agent's DDL carries service-agent 4.1.0's contract: four actions, each taking a
// service_name-validated service of at most 90 characters and answering status, "unknown" by
// default, summarised.
func TestBuiltinServiceDDL(t *testing.T) {
	a, err := Builtin("service")
	if err != nil {
		t.Fatal(err)
	}
	if a.Metadata.Timeout != 60 || len(a.Actions) != 4 {
		t.Fatalf("metadata %+v with %d actions, want timeout 60 and 4 actions", a.Metadata, len(a.Actions))
	}
	for name, display := range map[string]string{"status": "always", "start": "failed", "stop": "failed", "restart": "failed"} {
		act := a.Actions[name]
		if act == nil {
			t.Fatalf("action %s missing", name)
		}
		in := act.Input["service"]
		if act.Display != display || in == nil || in.Validation != "service_name" || in.MaxLength != 90 || in.Optional {
			t.Errorf("%s: display %q, input %+v", name, act.Display, in)
		}
		if o := act.Output["status"]; o == nil || o.Default != "unknown" || o.DisplayAs != "Service Status" {
			t.Errorf("%s: output status %+v", name, o)
		}
		if len(act.Aggregate) != 1 || act.Aggregate[0].Function != "summary" || act.Aggregate[0].Output != "status" {
			t.Errorf("%s: aggregate %+v", name, act.Aggregate)
		}
	}
	if err := a.Validate("status", map[string]any{"service": "nginx; reboot"}); err == nil {
		t.Error("a service name with a shell metacharacter passed validation")
	}
	if err := a.Validate("start", map[string]any{"service": strings.Repeat("a", 91)}); err == nil {
		t.Error("a 91 character service name passed validation")
	}
	d, err := BuiltinData("service")
	if err != nil {
		t.Fatal(err)
	}
	if d.Query == nil || d.Query.Validation != "service_name" || d.Query.MaxLength != 50 || d.Output["status"] == nil {
		t.Fatalf("service data ddl %+v", d)
	}
}
