package pkgagent

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

func simAgent(t *testing.T, manager string) (*Package, *agent.Agent) {
	t.Helper()
	p, err := Open(Options{Provider: "sim", Sim: SimConfig{Manager: manager, Packages: map[string]SimPackage{
		"nginx":  {Installed: "1.18.0-6", Available: []string{"1.18.0-6", "1:1.22.1-9"}},
		"curl":   {Available: []string{"7.88.1-10"}},
		"broken": {Available: []string{"2.0-1"}, Fail: "E: Sub-process /usr/bin/dpkg returned an error code (1)"},
		"old":    {ConfigLeft: true, Available: []string{"3.0-1"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return p, p.Agent()
}

func TestSimStatus(t *testing.T) {
	_, a := simAgent(t, "")
	rep := call(t, a, "status", map[string]any{"package": "nginx"})
	want := map[string]any{"name": "nginx", "ensure": "1.18.0-6", "epoch": "0", "version": "1.18.0", "release": "6", "arch": "amd64", "provider": "apt"}
	for k, v := range want {
		if rep.Data[k] != v {
			t.Errorf("status %s = %v, want %v", k, rep.Data[k], v)
		}
	}
	if rep.Status != message.OK {
		t.Errorf("status failed: %v %s", rep.Status, rep.Message)
	}
	for name, ensure := range map[string]string{"curl": Purged, "old": Absent, "nosuch": Purged} {
		rep = call(t, a, "status", map[string]any{"package": name})
		if rep.Data["ensure"] != ensure || rep.Data["version"] != nil {
			t.Errorf("status %s = %v", name, rep.Data)
		}
	}
}

func TestSimInstallLifecycle(t *testing.T) {
	p, a := simAgent(t, "")
	data := p.DataPlugin()
	lookup := func(name string) map[string]any {
		t.Helper()
		m, err := data.Lookup(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := lookup("curl"); m["installed"] != false || m["status"] != Purged {
		t.Errorf("package('curl') before install = %v", m)
	}
	rep := call(t, a, "install", map[string]any{"package": "curl"})
	if rep.Status != message.OK || rep.Data["ensure"] != "7.88.1-10" || !strings.Contains(rep.Data["output"].(string), "Setting up curl") {
		t.Fatalf("install curl = %v %q %v", rep.Status, rep.Message, rep.Data)
	}
	if m := lookup("curl"); m["installed"] != true || m["status"] != "7.88.1-10" {
		t.Errorf("package('curl') after install = %v", m)
	}
	rep = call(t, a, "install", map[string]any{"package": "curl"})
	if rep.Status != message.UnknownError || rep.Message != "Package is already installed" || rep.Data["ensure"] != "7.88.1-10" || rep.Data["output"] != nil {
		t.Errorf("second install = %v %q %v", rep.Status, rep.Message, rep.Data)
	}
	rep = call(t, a, "update", map[string]any{"package": "nginx"})
	if rep.Status != message.OK || rep.Data["ensure"] != "1:1.22.1-9" || rep.Data["epoch"] != "1" || rep.Data["version"] != "1.22.1" || rep.Data["release"] != "9" {
		t.Errorf("update nginx = %v %q %v", rep.Status, rep.Message, rep.Data)
	}
	rep = call(t, a, "install", map[string]any{"package": "nginx", "version": "1.18.0-6"})
	if rep.Status != message.OK || rep.Data["ensure"] != "1.18.0-6" {
		t.Errorf("install nginx=1.18.0-6 = %v %q %v", rep.Status, rep.Message, rep.Data)
	}
	rep = call(t, a, "uninstall", map[string]any{"package": "nginx"})
	if rep.Status != message.OK || rep.Data["ensure"] != Absent {
		t.Errorf("uninstall = %v %q %v", rep.Status, rep.Message, rep.Data)
	}
	for _, action := range []string{"uninstall", "update"} {
		rep = call(t, a, action, map[string]any{"package": "nginx"})
		if rep.Status != message.UnknownError || rep.Message != "Package is not present on the system" || rep.Data["ensure"] != Absent {
			t.Errorf("%s of a removed package = %v %q %v", action, rep.Status, rep.Message, rep.Data)
		}
	}
	rep = call(t, a, "purge", map[string]any{"package": "nginx"})
	if rep.Status != message.OK || rep.Data["ensure"] != Purged {
		t.Errorf("purge = %v %q %v", rep.Status, rep.Message, rep.Data)
	}
	rep = call(t, a, "purge", map[string]any{"package": "nginx"})
	if rep.Status != message.UnknownError || rep.Message != "Package is not present on the system" {
		t.Errorf("second purge = %v %q", rep.Status, rep.Message)
	}
	rep = call(t, a, "install", map[string]any{"package": "broken"})
	if rep.Status != message.UnknownError || !strings.Contains(rep.Message, "dpkg returned an error") || rep.Data["ensure"] != Purged {
		t.Errorf("failing install = %v %q %v", rep.Status, rep.Message, rep.Data)
	}
	rep = call(t, a, "install", map[string]any{"package": "curl", "version": "9.9"})
	if rep.Status != message.UnknownError || !strings.Contains(rep.Message, "Version '9.9'") {
		t.Errorf("install of a missing version = %v %q", rep.Status, rep.Message)
	}
}

func TestSimSearchCountMD5(t *testing.T) {
	_, a := simAgent(t, "")
	rep := call(t, a, "search", map[string]any{"package": "ngi*"})
	list, _ := rep.Data["available_packages"].([]any)
	if rep.Status != message.OK || rep.Data["package_count"] != "2 packages found" || len(list) != 2 || list[1].(map[string]any)["ensure"] != "1:1.22.1-9" {
		t.Errorf("search = %v %q %v", rep.Status, rep.Message, rep.Data)
	}
	rep = call(t, a, "search", map[string]any{"package": "nothing"})
	if rep.Status != message.UnknownError || rep.Message != "Package not found" {
		t.Errorf("search of nothing = %v %q", rep.Status, rep.Message)
	}
	rep = call(t, a, "count", nil)
	if rep.Data["output"] != "1" || rep.Data["exitcode"] != int64(0) {
		t.Errorf("count = %v", rep.Data)
	}
	md5a := call(t, a, "md5", nil).Data["output"]
	call(t, a, "install", map[string]any{"package": "curl"})
	if call(t, a, "count", nil).Data["output"] != "2" {
		t.Error("count did not see the install")
	}
	if md5b := call(t, a, "md5", nil).Data["output"]; md5a == md5b || len(md5b.(string)) != 32 {
		t.Errorf("md5 before %v, after %v", md5a, md5b)
	}
}

func TestSimCheckUpdates(t *testing.T) {
	_, a := simAgent(t, "")
	for _, action := range []string{"checkupdates", "apt_checkupdates", "apt_update"} {
		rep := call(t, a, action, nil)
		list, _ := rep.Data["outdated_packages"].([]any)
		if rep.Status != message.OK || len(list) != 1 {
			t.Fatalf("%s = %v %q %v", action, rep.Status, rep.Message, rep.Data)
		}
		if u := list[0].(map[marshal.Symbol]any); u["package"] != "nginx" || u["version"] != "1:1.22.1-9" || u["repo"] != "sim" {
			t.Errorf("%s outdated = %v", action, u)
		}
	}
	if pm := call(t, a, "checkupdates", nil).Data["package_manager"]; pm != "apt" {
		t.Errorf("package_manager = %v", pm)
	}
	if rep := call(t, a, "refresh", nil); rep.Status != message.OK || rep.Data["exitcode"] != int64(0) {
		t.Errorf("refresh = %v %q %v", rep.Status, rep.Message, rep.Data)
	}
	for _, action := range []string{"yum_checkupdates", "yum_clean"} {
		rep := call(t, a, action, nil)
		if rep.Status != message.UnknownError || rep.Message != "Cannot find yum at /usr/bin/yum" {
			t.Errorf("%s on apt = %v %q", action, rep.Status, rep.Message)
		}
	}
}

func TestSimYum(t *testing.T) {
	_, a := simAgent(t, "yum")
	rep := call(t, a, "yum_checkupdates", nil)
	if rep.Status != message.OK || rep.Data["exitcode"] != int64(100) || len(rep.Data["outdated_packages"].([]any)) != 1 {
		t.Errorf("yum_checkupdates = %v %q %v", rep.Status, rep.Message, rep.Data)
	}
	if rep = call(t, a, "yum_clean", map[string]any{"mode": "metadata"}); rep.Status != message.OK {
		t.Errorf("yum_clean = %v %q", rep.Status, rep.Message)
	}
	for _, action := range []string{"apt_update", "apt_checkupdates"} {
		rep := call(t, a, action, nil)
		if rep.Status != message.UnknownError || rep.Message != "Cannot find apt-get at /usr/bin/apt-get" {
			t.Errorf("%s on yum = %v %q", action, rep.Status, rep.Message)
		}
	}
	if rep = call(t, a, "status", map[string]any{"package": "nginx"}); rep.Data["arch"] != "x86_64" || rep.Data["provider"] != "yum" {
		t.Errorf("yum status = %v", rep.Data)
	}
	call(t, a, "uninstall", map[string]any{"package": "nginx"})
	if rep = call(t, a, "status", map[string]any{"package": "nginx"}); rep.Data["ensure"] != Absent {
		t.Errorf("removed rpm = %v", rep.Data)
	}
}

func TestSimDelayHonoursContext(t *testing.T) {
	p, err := NewSim(SimConfig{Delay: time.Hour, Packages: map[string]SimPackage{"a": {Available: []string{"1"}}}}, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := p.Install(ctx, "a", ""); err == nil {
		t.Fatal("install outlived its context")
	}
	if st, _ := p.Status(context.Background(), "a"); st.Installed() {
		t.Error("a cancelled install changed the package")
	}
}

func TestBadInputRefusedBeforeRunning(t *testing.T) {
	f := &fakeRunner{}
	a, err := New(Options{Provider: "apt", Run: f.run})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []map[string]any{
		{"package": "vim; rm -rf /"}, {"package": "$(reboot)"}, {"package": "a|b"}, {"package": "`id`"},
		{"package": "a && b"}, {"package": "a>b"}, {"package": strings.Repeat("a", 91)},
		{"package": "vim", "version": "1;id"}, {},
	} {
		if err := a.DDL.Validate("install", bad); err == nil {
			t.Errorf("install %v passed the DDL", bad)
		}
	}
	// What shellsafe lets through but would be an option is refused by the agent itself.
	for _, bad := range []map[string]any{{"package": "-oAPT::Foo=1"}, {"package": "a b"}, {"package": "vim", "version": "1 --reinstall"}} {
		rep := call(t, a, "install", bad)
		if rep.Status != message.InvalidData {
			t.Errorf("install %v = %v %q", bad, rep.Status, rep.Message)
		}
	}
	if len(f.ran) != 0 {
		t.Errorf("commands ran for bad input: %v", f.ran)
	}
	d, err := NewData(Options{Provider: "apt", Run: f.run})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Lookup(context.Background(), "vim;id"); err == nil {
		t.Error("package('vim;id') passed the package_name validator")
	}
}

func TestProviderChoice(t *testing.T) {
	exists := func(files ...string) func(string) bool {
		return func(p string) bool {
			for _, f := range files {
				if f == p {
					return true
				}
			}
			return false
		}
	}
	for _, c := range []struct {
		provider string
		files    []string
		want     string
	}{{"", []string{"/usr/bin/apt-get"}, "apt"}, {"", []string{"/usr/bin/yum", "/usr/bin/apt-get"}, "yum"}, {"puppet", []string{"/usr/bin/apt-get"}, "apt"}, {"yum", nil, "yum"}, {"sim", nil, "apt"}} {
		p, err := Open(Options{Provider: c.provider, Exists: exists(c.files...)})
		if err != nil || p.Provider().Name() != c.want {
			t.Errorf("provider %q with %v = %v, %v; want %s", c.provider, c.files, p, err, c.want)
		}
	}
	if _, err := Open(Options{Exists: exists()}); err == nil || !strings.Contains(err.Error(), "plugin.package.provider") {
		t.Errorf("no package manager: %v", err)
	}
	if _, err := Open(Options{Provider: "zypper"}); err == nil {
		t.Error("unknown provider accepted")
	}
}
