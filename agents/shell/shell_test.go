package shell

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/config"
)

func TestOptionsFromConfig(t *testing.T) {
	cfg := &config.Config{Plugin: map[string]string{"shell.state_path": "/var/lib/mcod/shell", "shell.max_output": "4096", "shell.timeout": "2.5"}}
	o, err := OptionsFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if o.StatePath != "/var/lib/mcod/shell" || o.MaxOutput != 4096 || o.Timeout != 2500*time.Millisecond || o.Dir != "/" {
		t.Errorf("options %+v", o)
	}
	d, err := OptionsFromConfig(&config.Config{})
	if err != nil || d.StatePath != DefaultStatePath || d.MaxOutput != DefaultMaxOutput || d.Timeout != 0 {
		t.Errorf("defaults %+v, %v", d, err)
	}
	for _, bad := range []map[string]string{{"shell.max_output": "0"}, {"shell.timeout": "-1"}, {"shell.max_output": "lots"}} {
		if _, err := OptionsFromConfig(&config.Config{Plugin: bad}); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	var keys []string
	for k := range ConfigKeys() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if got := strings.Join(keys, ","); got != "plugin.shell.directory,plugin.shell.enabled,plugin.shell.max_output,plugin.shell.state_path,plugin.shell.timeout" {
		t.Errorf("ConfigKeys = %s", got)
	}
}

func TestNewNeedsStatePath(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without a state path succeeded")
	}
	a, err := New(Options{StatePath: t.TempDir()})
	if err != nil || a.Name() != "shell" || len(a.Actions) != 5 {
		t.Fatalf("New: %v, %v", a, err)
	}
}

// recordingOS records what the agent asks of the operating system.
type recordingOS struct{ cmds []Cmd }

func (r *recordingOS) Run(_ context.Context, c Cmd) (Exit, error) {
	r.cmds = append(r.cmds, c)
	return Exit{Pid: 4242}, nil
}
func (r *recordingOS) Signal(int, syscall.Signal) error { return syscall.ESRCH }

// TestSeam: the command is one argv element of /bin/sh -c, never spliced into a string, and
// the user's credential and environment go with it.
func TestSeam(t *testing.T) {
	rec := &recordingOS{}
	nobody := Identity{Cred: &syscall.Credential{Uid: 99, Gid: 98, Groups: []uint32{97}}, Home: "/home/n", Name: "n"}
	ts := newTestShell(t, func(o *Options) {
		o.OS = rec
		o.IsRoot = func() bool { return true }
		o.LookupUser = func(string) (Identity, error) { return nobody, nil }
		o.Env = []string{"PATH=/bin", "HOME=/root"}
	})
	cmd := `echo "$(id)"; rm -rf '/x y'`
	ts.mustOK("run", map[string]any{"command": cmd, "user": "n"})
	ts.mustOK("start", map[string]any{"command": cmd})
	if len(rec.cmds) != 2 {
		t.Fatalf("%d commands", len(rec.cmds))
	}
	run, start := rec.cmds[0], rec.cmds[1]
	if !reflect.DeepEqual(run.Argv, []string{"/bin/sh", "-c", cmd}) || run.Cred != nobody.Cred || run.Detach {
		t.Errorf("run: %+v", run)
	}
	if !reflect.DeepEqual(run.Env, []string{"PATH=/bin", "HOME=/home/n", "USER=n", "LOGNAME=n"}) {
		t.Errorf("run env %v", run.Env)
	}
	if len(start.Argv) != 6 || start.Argv[4] != cmd || !start.Detach || start.Cred != nil || len(start.ExtraFiles) != 1 {
		t.Errorf("start: %+v", start)
	}
}
