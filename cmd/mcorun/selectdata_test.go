package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSelectChecksDataPlugins: a -S data plugin call needs a DDL (built in or in a libdir)
// that declares the field it compares; otherwise the verb is a usage error and nothing is
// sent.
func TestSelectChecksDataPlugins(t *testing.T) {
	lib := t.TempDir()
	writeFiles(t, lib, map[string]string{"mcollective/data/uptime_data.json": `{"metadata": {"name": "uptime"},
		"description": "d", "output": {"days": {"description": "d", "display_as": "Days"}}}`})
	tests := []struct {
		expr string
		code int
		want string
	}{
		{`fstat("/etc/motd").size>0`, exitOK, ""},
		{`uptime().days>1`, exitOK, ""},
		{`fstat("/etc/motd").sise>0`, exitUsage, `mcorun ping: bad filter: compound filter: data plugin fstat has no field "sise" (fields: atime,`},
		{`role=web and fsta("/etc/motd").size>0`, exitUsage, `unknown data plugin "fsta" (data plugins: agent, collective, fact, fstat, ` +
			`package, puppet, service); for another one, install its DDL as fsta_data.json in mcollective/data under a libdir (` + lib + ") at column 14"},
	}
	for _, tt := range tests {
		dials := 0
		e, _, errOut, cfg := testEnv(t, &fakeFleet{pings: []pingReply{{Sender: "web1"}}}, &dials)
		src, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg = filepath.Join(t.TempDir(), "client.cfg")
		if err := os.WriteFile(cfg, append(src, "libdir = "+lib+"\n"...), 0o600); err != nil {
			t.Fatal(err)
		}
		code := run(context.Background(), e, []string{"ping", "--config", cfg, "-S", tt.expr})
		if code != tt.code || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("-S %s: exit %d, want %d; stderr:\n%s\nwant %q", tt.expr, code, tt.code, errOut, tt.want)
		}
		if tt.code == exitUsage && dials != 0 {
			t.Errorf("-S %s: connected %d times before rejecting the filter", tt.expr, dials)
		}
	}
}
