package filter

import (
	"errors"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/ddl"
)

func TestSelectChecksDataPlugins(t *testing.T) {
	tests := []struct {
		expr, want string // want "" means accepted
	}{
		{`fstat("/etc/motd").size>0`, ""},
		{`role=web and fstat("/etc/motd").size>0 and fact("os").value=Debian`, ""},
		{`fstat("/etc/motd").sise>0`, "data plugin fstat has no field \"sise\" (fields: atime, atime_age, "},
		{`role=web and fstat("/etc/motd").sise>0`, "at column 33\n  role=web and fstat(\"/etc/motd\").sise>0\n                                  ^"},
		{`fsta("/etc/motd").size>0`, "unknown data plugin \"fsta\" (data plugins: agent, collective, fact, fstat"},
		{`role=web and fsta("/etc/motd").size>0`, "at column 14\n"},
	}
	for _, tt := range tests {
		b := Builder{Data: ddl.DataFromLibDirs(nil)}
		err := b.Select(tt.expr)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.expr, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: got %v, want an error with %q", tt.expr, err, tt.want)
		}
		var se *SyntaxError
		if err != nil && !errors.As(err, &se) {
			t.Errorf("%s: %T is not a SyntaxError", tt.expr, err)
		}
		if err != nil && len(b.Filter().Compound) != 0 {
			t.Errorf("%s: the Builder changed on error", tt.expr)
		}
	}
	// Without Data, names and fields are the servers' business, as before.
	var b Builder
	if err := b.Select(`fsta("/etc/motd").sise>0`); err != nil {
		t.Errorf("no Data: %v", err)
	}
	f, err := Build(Options{Select: `fstat("/").sise>0`, Data: ddl.DataFromLibDirs(nil)})
	if err == nil || !f.Empty() {
		t.Errorf("Build with Data: %v, %v", f, err)
	}
}
