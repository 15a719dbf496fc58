package puppet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

// resource manages one resource with `puppet resource TYPE NAME key=value...`, when the type
// and name lists allow it and the last catalog did not manage it. Every type is denied
// unless a whitelist names it or a blacklist is set.
func (p *Puppet) resource(ctx context.Context, req *agent.Request, rep *agent.Reply) {
	fail := func(msg string) { rep.Fail(message.Aborted, msg) }
	o := p.opts
	if o.ResourceTypeWhitelist != "" && o.ResourceTypeBlacklist != "" {
		fail("You cannot specify both puppet.resource_type_whitelist and puppet.resource_type_blacklist in the config file")
		return
	}
	whitelist := o.ResourceTypeWhitelist
	if whitelist == "none" {
		whitelist = ""
	}
	typ, _ := req.Data["type"].(string)
	typ = strings.ToLower(typ)
	name, _ := req.Data["name"].(string)
	resourceName := fmt.Sprintf("%s[%s]", capitalize(typ), name)

	names, blocked := o.ResourceNameWhitelist[typ], o.ResourceNameBlacklist[typ]
	if names != "" && blocked != "" {
		fail(fmt.Sprintf("You cannot specify both puppet.resource_name_whitelist.%s and puppet.resource_name_blacklist.%s in the config file", typ, typ))
		return
	}
	if o.ResourceTypeBlacklist != "" {
		if slices.Contains(ddl.RubySplit(o.ResourceTypeBlacklist, ","), typ) {
			fail(fmt.Sprintf("The %s type is listed in the type blacklist", typ))
			return
		}
	} else if !slices.Contains(ddl.RubySplit(whitelist, ","), typ) {
		fail(fmt.Sprintf("The %s type is not listed in the type whitelist", typ))
		return
	}
	if blocked != "" {
		if slices.Contains(ddl.RubySplit(blocked, ","), name) {
			fail(fmt.Sprintf("The %s name is listed in the name blacklist", name))
			return
		}
	} else if names != "" && !slices.Contains(ddl.RubySplit(names, ","), name) {
		fail(fmt.Sprintf("The %s name is not listed in the name whitelist", name))
		return
	}
	if !o.ResourceAllowManaged && p.mgr.managing(resourceName) {
		fail(fmt.Sprintf("Puppet is managing the resource '%s', refusing to create conflicting states", resourceName))
		return
	}

	args := []string{"resource", "--color=false"}
	if o.Config != "" {
		args = append(args, "--config", o.Config)
	}
	args = append(args, typ, name)
	keys := make([]string, 0, len(req.Data))
	for k := range req.Data {
		if k != "type" && k != "name" && k != "process_results" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, fmt.Sprintf("%s=%v", k, req.Data[k]))
	}
	cmd := exec.CommandContext(ctx, o.Bin, args...)
	cmd.Env = append(os.Environ(), "PATH="+os.Getenv("PATH")+":/opt/puppetlabs/bin")
	out, err := cmd.CombinedOutput()
	var logs []string
	changed, failed := false, err != nil
	for _, l := range strings.Split(string(out), "\n") {
		for _, level := range []string{"Notice: ", "Warning: ", "Error: "} {
			if msg, ok := strings.CutPrefix(l, level); ok {
				logs = append(logs, msg)
				if strings.HasPrefix(msg, "/"+resourceName+"/") {
					changed = changed || level == "Notice: "
					failed = failed || level == "Error: "
				}
			}
		}
	}
	result := "no output produced"
	if len(logs) > 0 {
		result = strings.Join(logs, "\n")
	}
	rep.Data["result"] = result
	rep.Data["changed"] = changed
	if failed {
		fail(fmt.Sprintf("Failed to apply %s: %s", resourceName, result))
	}
}
