package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/mcorun/mcorun/runtime/client"
)

const packageUsage = `Usage:
  mcorun package [filters] [flags] PACKAGE install|uninstall|purge|update|status|search
  mcorun package [filters] [flags] ACTION PACKAGE
  mcorun package [filters] [flags] install PACKAGE [VERSION]
  mcorun package [filters] [flags] count|md5|checkupdates|apt_checkupdates|yum_checkupdates
  mcorun package [filters] [flags] refresh|apt_update|yum_clean

ACTION can be one of the following, as for mco package:

  install           install PACKAGE (a VERSION argument or --version picks one)
  uninstall         uninstall PACKAGE
  purge             uninstall PACKAGE and purge its configuration files
  update            update PACKAGE
  status            whether PACKAGE is installed, and its version
  search            whether PACKAGE is available to the node
  count             the number of packages installed
  md5               the md5 of the list of installed packages
  checkupdates      the available updates (apt_checkupdates, yum_checkupdates:
                    of that package manager only)
  refresh           refresh the list of available packages
  apt_update        update every package (apt)
  yum_clean         clean the yum cache

status prints each node's "name-version.arch" (or absent/purged); count and
md5 print each node's answer; the checkupdates actions list each node's
outdated packages (-v adds their versions). install, uninstall, purge and
update list only the nodes that failed, with their message; -v lists every
node's ensure. Then come the summaries (Summary of Ensure, of Arch, ...).

Every action that changes the nodes (install, uninstall, purge, update,
refresh, apt_update, yum_clean) asks first when no filter is given, on a
terminal; without one it refuses unless --yes is given.

Examples:
  mcorun package nginx status
  mcorun package install nginx 1.22.1-9+deb12u1 -C web::nginx
  mcorun package update openssl -F role=web --batch 5
  mcorun package checkupdates -v -F environment=production
  mcorun package count --json | jq .summaries
`

// Actions of mcorun package: those that take a package name, and those that take none.
var (
	packageNamed  = []string{"install", "uninstall", "purge", "update", "status", "search"}
	packageGlobal = []string{"count", "md5", "checkupdates", "apt_checkupdates", "yum_checkupdates", "refresh", "apt_update", "yum_clean"}
	// packageReads are the actions that change nothing: they never ask for confirmation.
	packageReads = []string{"status", "search", "count", "md5", "checkupdates", "apt_checkupdates", "yum_checkupdates"}
)

func packageCommand() *command {
	return &command{name: "package", summary: "install, update, remove and query packages", usage: packageUsage, run: runPackage}
}

func runPackage(ctx context.Context, e *env, args []string) int {
	var c commonFlags
	var yes bool
	var version string
	fs := newFlagSet("package", &c)
	fs.BoolVarP(&yes, "yes", "y", false, "assume yes on any prompt (acting on every node unfiltered)")
	fs.StringVar(&version, "version", "", "install: the VERSION to install (also its last argument)")
	if done, err := parseFlags(e, fs, packageUsage, args); done {
		return exitOK
	} else if err != nil {
		return usageErr(e, "package", err)
	}
	name, action, extra, err := packageOperands(fs)
	if err != nil {
		return usageErr(e, "package", err)
	}
	if extra != "" {
		if action != "install" {
			return usageErr(e, "package", fmt.Errorf("unexpected argument %q: only install takes a version", extra))
		}
		if version != "" && version != extra {
			return usageErr(e, "package", fmt.Errorf("two versions given, --version %q and %q: give one", version, extra))
		}
		version = extra
	}
	if version != "" && action != "install" {
		return usageErr(e, "package", fmt.Errorf("--version is only for install, not %s", action))
	}
	reqArgs := map[string]any{}
	if name != "" {
		reqArgs["package"] = name
	}
	if version != "" {
		reqArgs["version"] = version
	}
	req := actRequest{agent: "package", action: action, args: reqArgs,
		changes: !slices.Contains(packageReads, action), noun: "packages"}
	s, fl, act, closeFn, code, ok := actStart(ctx, e, "package", &c, yes, req)
	if !ok {
		return code
	}
	defer closeFn()
	cr, code, done := discoverAndCall(ctx, s, fl, "package", action, reqArgs, true)
	if done {
		return code
	}
	if !c.json {
		fmt.Fprint(e.stdout, packageLines(s.color, action, c.verbose, cr.replies))
	}
	return finishCall(s, "package", action, act, cr)
}

// packageOperands reads ACTION [PACKAGE [VERSION]] or PACKAGE ACTION [VERSION], as mco
// package does; extra is the version argument, if any.
func packageOperands(fs *pflag.FlagSet) (name, action, extra string, err error) {
	ops := fs.Args()
	all := append(slices.Clone(packageNamed), packageGlobal...)
	switch {
	case len(ops) == 0:
		return "", "", "", errors.New("please specify package name and action, e.g. 'mcorun package nginx status'")
	case slices.Contains(packageGlobal, ops[0]):
		if len(ops) > 1 {
			return "", "", "", fmt.Errorf("unexpected arguments %q: %s takes no package", ops[1:], ops[0])
		}
		return "", ops[0], "", nil
	case len(ops) < 2:
		return "", "", "", errors.New("please specify package name and action, e.g. 'mcorun package nginx status'")
	case slices.Contains(packageNamed, ops[0]):
		name, action, ops = ops[1], ops[0], ops[2:]
	case slices.Contains(packageNamed, ops[1]):
		name, action, ops = ops[0], ops[1], ops[2:]
	default:
		return "", "", "", fmt.Errorf("action has to be one of %s", strings.Join(all, ", "))
	}
	switch len(ops) {
	case 0:
		return name, action, "", nil
	case 1:
		return name, action, ops[0], nil
	}
	return "", "", "", fmt.Errorf("unexpected arguments %q", ops[1:])
}

// packageLines is mco package's listing of the replies for action.
func packageLines(c colorizer, action string, verbose bool, replies []client.Result) string {
	return senderLines(c, replies, func(r client.Result) (string, bool) {
		switch {
		case action == "count" || action == "md5":
			return rubyString(r.Data["output"]), true
		case strings.HasSuffix(action, "checkupdates") || action == "apt_update":
			return outdatedList(r.Data["outdated_packages"], verbose), true
		case action == "status" && !verbose:
			return ensureText(r.Data), true
		case !verbose:
			return "", false
		case action == "refresh":
			return rubyString(r.Data["output"]), true
		case action == "search":
			return rubyString(r.Data["package_count"]), true
		}
		return rubyString(r.Data["ensure"]), true
	})
}

// ensureText is a package's status as mco package prints it: absent or purged, else
// name-ensure, with .arch when the node knows it.
func ensureText(data map[string]any) string {
	ensure := rubyString(data["ensure"])
	if ensure == "absent" || ensure == "purged" {
		return ensure
	}
	text := rubyString(data["name"]) + "-" + ensure
	if arch := data["arch"]; arch != nil {
		text += "." + rubyString(arch)
	}
	return text
}

// outdatedList lists outdated_packages: the names, or name-version with verbose.
func outdatedList(v any, verbose bool) string {
	list, _ := v.([]any)
	names := make([]string, 0, len(list))
	for _, p := range list {
		m, _ := p.(map[string]any)
		name := rubyString(m["package"])
		if verbose {
			name += "-" + rubyString(m["version"])
		}
		names = append(names, name)
	}
	return strings.Join(names, " ")
}
