package main

import (
	"context"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"},
		{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"}}
	for _, c := range []struct {
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{&debug.BuildInfo{GoVersion: "go1.22.1", Main: debug.Module{Version: "v1.2.3"}, Settings: vcs}, true, "mcorun v1.2.3 (go1.22.1)"},
		{&debug.BuildInfo{GoVersion: "go1.22.1", Main: debug.Module{Version: "(devel)"}, Settings: vcs}, true,
			"mcorun devel (revision 0123456789ab, modified, 2026-01-02T03:04:05Z; go1.22.1)"},
		{&debug.BuildInfo{GoVersion: "go1.22.1", Main: debug.Module{Version: "(devel)"}}, true,
			"mcorun devel (no commit recorded: built outside a checkout, by go run or go test, or with -buildvcs=false; go1.22.1)"},
		{nil, false, "mcorun devel (no build information in this binary)"},
	} {
		if got := versionLine(c.info, c.ok); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}

func TestVersionVerbs(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}, {"--sandbox", "3", "--version"}} {
		e, out, errOut, _ := testEnv(t, &fakeFleet{}, nil)
		if code := run(context.Background(), e, args); code != exitOK || !strings.HasPrefix(out.String(), "mcorun ") ||
			strings.Count(out.String(), "\n") != 1 || errOut.Len() > 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	e, _, errOut, _ := testEnv(t, &fakeFleet{}, nil)
	if code := run(context.Background(), e, []string{"version", "extra"}); code != exitUsage ||
		!strings.Contains(errOut.String(), `unexpected argument "extra"`) {
		t.Errorf("version extra: exit %d, %s", code, errOut)
	}
}
