package playbook

import (
	"context"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/ddl"
)

// TestRunDataDDLs: filter.compound checks data plugin calls against Options.DataDDLs.
func TestRunDataDDLs(t *testing.T) {
	uptime := func(name string) (*ddl.Data, error) {
		if name == "uptime" {
			return &ddl.Data{Output: map[string]*ddl.Output{"days": {}}}, nil
		}
		return ddl.DataFromLibDirs(nil)(name)
	}
	r := runSource(t, context.Background(), "f = filter.compound('uptime().days>1 and fstat(\"/\").size>0')\n", Options{DataDDLs: uptime})
	if r.ExitCode != ExitOK {
		t.Errorf("a declared field: exit %d: %v", r.ExitCode, r.Err)
	}
	r = runSource(t, context.Background(), "f = filter.compound('uptime().hours>1')\n", Options{DataDDLs: uptime})
	if r.ExitCode != ExitFailed || !strings.Contains(r.stderr, `data plugin uptime has no field "hours" (fields: days)`) {
		t.Errorf("an undeclared field: exit %d, stderr:\n%s", r.ExitCode, r.stderr)
	}
	r = runSource(t, context.Background(), "f = filter.compound('uptime().days>1')\n", Options{})
	if r.ExitCode != ExitFailed || !strings.Contains(r.stderr, `unknown data plugin "uptime"`) {
		t.Errorf("no DataDDLs: exit %d, stderr:\n%s", r.ExitCode, r.stderr)
	}
}
