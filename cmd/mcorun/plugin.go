package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/spf13/pflag"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/ddl"
)

const pluginUsage = `Usage:
  mcorun plugin doc [AGENT] [--config FILE] [--json]
  mcorun plugin ddl AGENT [--config FILE]
  mcorun plugin ddl --data NAME

With AGENT, doc shows the agent's DDL as a document: its metadata, then each
action with its inputs (type, validation, optional, maximum length, default)
and outputs (display name, default) and aggregate summaries. Without AGENT,
lists the agents and data plugins that have a DDL. It needs no broker: the
DDLs are built in or read from the libdir of the config.

ddl prints the agent's DDL (with --data, the data plugin's) in MCollective's
Ruby DDL language, for stock mco clients: install it as
LIBDIR/mcollective/agent/AGENT.ddl (a data plugin's as
LIBDIR/mcollective/data/NAME_data.ddl) in a libdir of the client's
client.cfg, and stock mco can call that agent on mcod nodes: no plugin files
need copying. Validators stock mco lacks become the equivalent regular
expression (service_name, package_name) or are left to the node, which checks
every input before anything runs; aggregates stock mco lacks (nettest_mma)
are left out.

Examples:
  mcorun plugin doc
  mcorun plugin doc rpcutil
  mcorun plugin doc rpcutil --json
  mcorun plugin ddl service > /usr/share/mcollective/plugins/mcollective/agent/service.ddl
  mcorun plugin ddl --data service > /usr/share/mcollective/plugins/mcollective/data/service_data.ddl
`

func pluginCommand() *command {
	return &command{name: "plugin", summary: "plugin doc [AGENT] | ddl AGENT: show an agent's DDL, list the agents, or print a Ruby DDL for stock mco", usage: pluginUsage, run: runPlugin}
}

func runPlugin(_ context.Context, e *env, args []string) int {
	var c commonFlags
	fs := newFlagSet("plugin", &c)
	data := fs.Bool("data", false, "plugin ddl: NAME is a data plugin")
	fs.VisitAll(func(f *pflag.Flag) {
		// plugin doc and ddl read DDLs only: the filter and scope flags mean nothing here.
		if f.Name != "config" && f.Name != "json" && f.Name != "data" {
			f.Hidden = true
		}
	})
	if done, err := parseFlags(e, fs, pluginUsage, args); done {
		return exitOK
	} else if err != nil {
		return usageErr(e, "plugin", err)
	}
	if fs.NArg() == 2 && fs.Arg(0) == "ddl" {
		return runPluginDDL(e, &c, fs.Arg(1), *data)
	}
	if fs.NArg() == 0 || fs.Arg(0) != "doc" || fs.NArg() > 2 || *data {
		return usageErr(e, "plugin", errors.New("want 'plugin doc [AGENT]', 'plugin ddl AGENT' or 'plugin ddl --data NAME'"))
	}
	cfg, err := docConfig(e, &c)
	if err != nil {
		fmt.Fprintf(e.stderr, "mcorun plugin: %v\n", err)
		return exitUsage
	}
	agents := knownAgents(cfg)
	fancy := e.stdoutTTY && e.getenv("NO_COLOR") == ""
	if fs.NArg() == 1 {
		if c.json {
			names := make([]string, 0, len(agents))
			for n := range agents {
				names = append(names, n)
			}
			sort.Strings(names)
			_ = writeJSON(e.stdout, map[string]any{"agents": names, "data_plugins": ddl.BuiltinDataPlugins()})
			return exitOK
		}
		writePluginList(e.stdout, fancy, agents)
		return exitOK
	}
	name := fs.Arg(1)
	a, ok := agents[name]
	if !ok {
		fmt.Fprintf(e.stderr, "mcorun plugin: no DDL for agent %q; 'mcorun plugin doc' lists the known agents\n", name)
		return exitUsage
	}
	if c.json {
		_ = writeJSON(e.stdout, a)
		return exitOK
	}
	fmt.Fprint(e.stdout, formatDoc(a, fancy))
	return exitOK
}

// runPluginDDL prints the Ruby DDL of an agent (built in or from the config's libdirs) or,
// with data, of a built-in data plugin.
func runPluginDDL(e *env, c *commonFlags, name string, data bool) int {
	if data {
		d, err := ddl.BuiltinData(name)
		if err != nil {
			fmt.Fprintf(e.stderr, "mcorun plugin: no DDL for data plugin %q; 'mcorun plugin doc' lists the known data plugins\n", name)
			return exitUsage
		}
		fmt.Fprint(e.stdout, ddl.RenderRubyData(d))
		return exitOK
	}
	cfg, err := docConfig(e, c)
	if err != nil {
		fmt.Fprintf(e.stderr, "mcorun plugin: %v\n", err)
		return exitUsage
	}
	a, ok := knownAgents(cfg)[name]
	if !ok {
		fmt.Fprintf(e.stderr, "mcorun plugin: no DDL for agent %q; 'mcorun plugin doc' lists the known agents\n", name)
		return exitUsage
	}
	fmt.Fprint(e.stdout, ddl.RenderRuby(a))
	return exitOK
}

// docConfig loads the config for its libdir. Without --config a missing default file is
// fine: the built-in DDLs are still shown.
func docConfig(e *env, c *commonFlags) (*config.Config, error) {
	path := configPath(e, c.configFile)
	cfg, err := config.Load(path)
	if err == nil {
		return cfg, nil
	}
	if c.configFile == "" && errors.Is(err, os.ErrNotExist) {
		return config.Defaults(path), nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("config file %s not found: check --config", path)
	}
	return nil, fmt.Errorf("%s: %w", path, err)
}

// knownAgents returns the built-in agent DDLs and those found in the libdirs.
func knownAgents(cfg *config.Config) map[string]*ddl.Agent {
	out := map[string]*ddl.Agent{}
	for _, n := range ddl.BuiltinAgents() {
		if a, err := ddl.Builtin(n); err == nil {
			out[n] = a
		}
	}
	for _, dir := range cfg.LibDir {
		// The same places as ddl.FromLibDirs, so that rpc and check find what this lists.
		for _, sub := range []string{filepath.Join(dir, "mcollective", "agent"), dir} {
			all, err := ddl.LoadDir(sub)
			if err != nil {
				continue
			}
			for n, a := range all {
				if out[n] == nil {
					out[n] = a
				}
			}
		}
	}
	return out
}

// newTable returns a table writer: box drawing on a terminal, ASCII borders otherwise.
func newTable(w io.Writer, fancy bool, header ...any) *tablewriter.Table {
	style := tw.StyleASCII
	if fancy {
		style = tw.StyleLight
	}
	t := tablewriter.NewTable(w, tablewriter.WithSymbols(tw.NewSymbols(style)))
	t.Header(header...)
	return t
}

func writePluginList(w io.Writer, fancy bool, agents map[string]*ddl.Agent) {
	names := make([]string, 0, len(agents))
	for n := range agents {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "Agents:")
	t := newTable(w, fancy, "Agent", "Version", "Description")
	for _, n := range names {
		_ = t.Append(n, agents[n].Metadata.Version, agents[n].Metadata.Description)
	}
	_ = t.Render()
	fmt.Fprintln(w, "\nData plugins:")
	t = newTable(w, fancy, "Data plugin", "Version", "Description")
	for _, n := range ddl.BuiltinDataPlugins() {
		d, err := ddl.BuiltinData(n)
		if err != nil {
			continue
		}
		_ = t.Append(n, d.Metadata.Version, d.Metadata.Description)
	}
	_ = t.Render()
}

// formatDoc renders an agent DDL: mco's metadata block, then each action with tables of
// its inputs and outputs.
func formatDoc(a *ddl.Agent, fancy bool) string {
	var b strings.Builder
	m := a.Metadata
	title := m.DisplayNameOrName()
	fmt.Fprintf(&b, "%s\n%s\n\n%s\n\n", title, strings.Repeat("=", len(title)), m.Description)
	fmt.Fprintf(&b, "      Author: %s\n     Version: %s\n     License: %s\n     Timeout: %d\n   Home Page: %s\n\n", m.Author, m.Version, m.License, m.Timeout, m.URL)
	actions := make([]string, 0, len(a.Actions))
	for n := range a.Actions {
		actions = append(actions, n)
	}
	sort.Strings(actions)
	fmt.Fprintf(&b, "ACTIONS:\n========\n   %s\n\n", strings.Join(actions, ", "))
	for _, n := range actions {
		act := a.Actions[n]
		fmt.Fprintf(&b, "   %s action:\n   %s\n       %s\n", n, strings.Repeat("-", len(n)+8), act.Description)
		if act.Display != "" {
			fmt.Fprintf(&b, "       Display: %s\n", act.Display)
		}
		b.WriteString("\n       INPUT:\n")
		if len(act.Input) == 0 {
			b.WriteString("          This action does not have any inputs\n")
		} else {
			t := newTable(&b, fancy, "Input", "Type", "Optional", "Validation", "Max length", "Default", "Description")
			for _, k := range sortedKeys(act.Input) {
				in := act.Input[k]
				validation := in.Validation
				if in.Type == "list" {
					validation = strings.Join(in.List, ", ")
				}
				maxLen := ""
				if in.MaxLength > 0 {
					maxLen = fmt.Sprint(in.MaxLength)
				}
				_ = t.Append(k, in.Type, fmt.Sprint(in.Optional), validation, maxLen, defaultString(in.Default), in.Description)
			}
			_ = t.Render()
		}
		b.WriteString("\n       OUTPUT:\n")
		if len(act.Output) == 0 {
			b.WriteString("          This action does not have any outputs\n")
		} else {
			t := newTable(&b, fancy, "Output", "Display as", "Default", "Description")
			for _, k := range sortedKeys(act.Output) {
				o := act.Output[k]
				_ = t.Append(k, o.DisplayAs, defaultString(o.Default), o.Description)
			}
			_ = t.Render()
		}
		if len(act.Aggregate) > 0 {
			var aggs []string
			for _, ag := range act.Aggregate {
				aggs = append(aggs, fmt.Sprintf("%s(%s)", ag.Function, ag.Output))
			}
			fmt.Fprintf(&b, "\n       SUMMARIES: %s\n", strings.Join(aggs, ", "))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func defaultString(v any) string {
	if v == nil {
		return ""
	}
	return rubyInspect(v)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
