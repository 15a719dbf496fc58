package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/listing"
	"github.com/mcorun/mcorun/runtime/rubyfmt"
	"github.com/mcorun/mcorun/runtime/value"
)

const inventoryUsage = `Usage:
  mcorun inventory NODE [flags]

Shows one node's server statistics, agents, data plugins, configuration
management classes and facts, in the layout of mco inventory.

Examples:
  mcorun inventory web01.dc1.example.net
  mcorun inventory web01.dc1.example.net --json
  mcorun inventory web01.dc1.example.net --format csv
`

func inventoryCommand() *command {
	return &command{name: "inventory", summary: "show one node's statistics, agents, classes and facts", usage: inventoryUsage, run: runInventory}
}

func runInventory(ctx context.Context, e *env, args []string) int {
	var c commonFlags
	fs := newFlagSet("inventory", &c)
	addFormatFlag(fs, &c)
	s, fl, closeFn, code, ok := startVerb(ctx, e, "inventory", inventoryUsage, fs, &c, args, func(fs *pflag.FlagSet) error {
		if fs.NArg() != 1 {
			return fmt.Errorf("want exactly one NODE, got %d arguments", fs.NArg())
		}
		return refuseSelection(fs)
	})
	if !ok {
		return code
	}
	defer closeFn()
	node := fs.Arg(0)
	opts := c.callOptions(s.filter, []string{node}, true)
	stats, code, ok := callOne(ctx, s, fl, "daemon_stats", node, opts)
	if !ok {
		return code
	}
	inv, code, ok := callOne(ctx, s, fl, "inventory", node, opts)
	if !ok {
		return code
	}
	if c.json {
		stv, invv := value.JSON(mapAny(stats.Data)), value.JSON(mapAny(inv.Data))
		st, _ := stv.(map[string]any)
		in, _ := invv.(map[string]any)
		doc := map[string]any{"identity": inv.Sender, "stats": stv, "inventory": invv}
		if err := s.writeList(inventoryList(doc, st, in)); err != nil {
			return s.fail(err)
		}
		return exitOK
	}
	fmt.Fprint(e.stdout, formatInventory(inv.Sender, stats.Data, inv.Data))
	return exitOK
}

// selectionFlags are the flags that choose nodes; inventory names its one node instead.
var selectionFlags = []string{"wf", "wc", "wi", "wa", "with", "select", "limit-nodes", "limit-seed", "one", "batch", "batch-sleep", "nodes"}

// refuseSelection refuses the node-selecting flags, which inventory would otherwise ignore.
func refuseSelection(fs *pflag.FlagSet) error {
	for _, name := range selectionFlags {
		if f := fs.Lookup(name); f != nil && f.Changed {
			flag := "--" + f.Name
			if f.Shorthand != "" {
				flag = "-" + f.Shorthand
			}
			return fmt.Errorf("%s does not apply to inventory, which shows the one NODE it is given; list the matching nodes with 'mcorun find' and its filters, then run 'mcorun inventory NODE'", flag)
		}
	}
	return nil
}

// callOne calls an rpcutil action on one node; a missing or failed reply is reported.
func callOne(ctx context.Context, s *session, fl fleet, action, node string, opts client.CallOptions) (client.Result, int, bool) {
	res, err := fl.Call(ctx, "rpcutil", action, map[string]any{}, opts)
	if err != nil {
		return client.Result{}, s.fail(fmt.Errorf("rpcutil#%s: %w", action, err)), false
	}
	if len(res.Failed) > 0 {
		r := res.Failed[0]
		fmt.Fprintf(s.e.stderr, "Failed to retrieve %s from %s: %s\n", action, node, r.Message)
		return client.Result{}, exitFailed, false
	}
	if len(res.OK) == 0 {
		fmt.Fprintf(s.e.stderr, "Did not receive any results from node %s\n"+
			"Check the identity ('mcorun find' lists the nodes that answer) and that mcod runs on it.\n", node)
		return client.Result{}, exitMissing, false
	}
	return res.OK[0], 0, true
}

// inventoryList is the list inventory prints with --format: a row per statistic, agent,
// data plugin, class and fact of the node (kind, name, value), and doc for json and yaml.
func inventoryList(doc, stats, inv map[string]any) listing.List {
	l := listing.List{Columns: []string{"kind", "name", "value"}, Doc: doc}
	for _, k := range sortedKeys(stats) {
		l.Rows = append(l.Rows, []any{"stat", k, stats[k]})
	}
	for _, k := range []string{"collectives", "main_collective"} {
		if v, ok := inv[k]; ok {
			l.Rows = append(l.Rows, []any{"stat", k, v})
		}
	}
	for _, list := range []struct{ kind, key string }{{"agent", "agents"}, {"data_plugin", "data_plugins"}, {"class", "classes"}} {
		for _, n := range sortedList(inv[list.key]) {
			l.Rows = append(l.Rows, []any{list.kind, n, nil})
		}
	}
	if facts, ok := inv["facts"].(map[string]any); ok {
		for _, k := range sortedKeys(facts) {
			l.Rows = append(l.Rows, []any{"fact", k, facts[k]})
		}
	}
	return l
}

func mapAny(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// formatInventory is the layout of mco inventory.
func formatInventory(sender string, st, inv map[string]any) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("Inventory for %s:", sender)
	p("")
	p("   Server Statistics:")
	p("                      Version: %s", rubyString(st["version"]))
	p("                   Start Time: %s", rubyTime(st["starttime"]))
	p("                  Config File: %s", rubyString(st["configfile"]))
	if v, ok := inv["collectives"]; ok {
		p("                  Collectives: %s", strings.Join(stringList(v), ", "))
	}
	if v, ok := inv["main_collective"]; ok {
		p("              Main Collective: %s", rubyString(v))
	}
	p("                   Process ID: %s", rubyString(st["pid"]))
	p("               Total Messages: %s", rubyString(st["total"]))
	p("      Messages Passed Filters: %s", rubyString(st["passed"]))
	p("            Messages Filtered: %s", rubyString(st["filtered"]))
	p("             Expired Messages: %s", rubyString(st["ttlexpired"]))
	p("                 Replies Sent: %s", rubyString(st["replies"]))
	utime, _ := lookupKey(st["times"], "utime")
	stime, _ := lookupKey(st["times"], "stime")
	p("         Total Processor Time: %s seconds", rubyString(utime))
	p("                  System Time: %s seconds", rubyString(stime))
	p("")
	p("   Agents:")
	if agents := sortedList(inv["agents"]); len(agents) > 0 {
		for i := 0; i < len(agents); i += 3 {
			g := group3(agents[i:])
			p("      %-15s %-15s %-15s", g[0], g[1], g[2])
		}
	} else {
		p("      No agents installed")
	}
	p("")
	p("   Data Plugins:")
	if plugins := sortedList(inv["data_plugins"]); len(plugins) > 0 {
		for i := 0; i < len(plugins); i += 3 {
			g := group3(plugins[i:])
			p("      %-15s %-15s %-15s", strings.ReplaceAll(g[0], "_data", ""), strings.ReplaceAll(g[1], "_data", ""), strings.ReplaceAll(g[2], "_data", ""))
		}
	} else {
		p("      No data plugins installed")
	}
	p("")
	p("   Configuration Management Classes:")
	if classes := sortedList(inv["classes"]); len(classes) > 0 {
		b.WriteString(columns(classes))
	} else {
		p("      No classes applied")
	}
	p("")
	p("   Facts:")
	if facts := mapEntries(inv["facts"]); len(facts) > 0 {
		for _, f := range facts {
			p("      %s => %s", rubyString(f.key), rubyString(f.val))
		}
	} else {
		p("      No facts known")
	}
	return b.String()
}

func group3(s []string) [3]string {
	var g [3]string
	copy(g[:], s)
	return g
}

func stringList(v any) []string {
	switch t := v.(type) {
	case []string:
		return t
	case []any:
		out := make([]string, len(t))
		for i, x := range t {
			out[i] = rubyString(x)
		}
		return out
	}
	return nil
}

func sortedList(v any) []string {
	out := append([]string(nil), stringList(v)...)
	sort.Strings(out)
	return out
}

// rubyTime formats a Unix time as Ruby's Time#to_s does.
func rubyTime(v any) string {
	f, ok := toFloat(v)
	if !ok {
		return rubyString(v)
	}
	return rubyfmt.Time(time.Unix(int64(f), 0))
}
