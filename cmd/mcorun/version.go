package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/pflag"
)

const versionUsage = `Usage:
  mcorun version
  mcorun --version

Prints mcorun's version: the module version it was installed at (go install
...@v1.2.3), or "devel" and the commit it was built from for a build from a
checkout, and the Go version that built it.
`

func versionCommand() *command {
	return &command{name: "version", summary: "print mcorun's version", usage: versionUsage, run: runVersion}
}

func runVersion(_ context.Context, e *env, args []string) int {
	fs := pflag.NewFlagSet("mcorun version", pflag.ContinueOnError)
	if done, err := parseFlags(e, fs, versionUsage, args); done {
		return exitOK
	} else if err != nil {
		return usageErr(e, "version", err)
	}
	if fs.NArg() > 0 {
		return usageErr(e, "version", fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	info, ok := debug.ReadBuildInfo()
	fmt.Fprintln(e.stdout, versionLine(info, ok))
	return exitOK
}

// versionLine is what mcorun version prints for the build info: "mcorun v1.2.3 (go1.22.1)"
// for an installed module, "mcorun devel (revision 0123456789ab, modified, 2026-01-02T03:04:05Z;
// go1.22.1)" for a build from a checkout.
func versionLine(info *debug.BuildInfo, ok bool) string {
	if !ok || info == nil {
		return "mcorun devel (no build information in this binary)"
	}
	v := info.Main.Version
	if v != "" && v != "(devel)" {
		return fmt.Sprintf("mcorun %s (%s)", v, info.GoVersion)
	}
	var rev, when string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	var parts []string
	if rev == "" {
		parts = append(parts, "no commit recorded: built outside a checkout, by go run or go test, or with -buildvcs=false")
	} else {
		parts = append(parts, "revision "+rev[:min(12, len(rev))])
		if modified {
			parts = append(parts, "modified")
		}
		if when != "" {
			parts = append(parts, when)
		}
	}
	return fmt.Sprintf("mcorun devel (%s; %s)", strings.Join(parts, ", "), info.GoVersion)
}
