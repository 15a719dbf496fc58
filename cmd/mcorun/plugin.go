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

	"github.com/spf13/pflag"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/listing"
)

const pluginUsage = `Usage:
  mcorun plugin doc [NAME] [--config FILE] [--json]
  mcorun plugin ddl AGENT [--config FILE]
  mcorun plugin ddl --data NAME

With NAME, doc shows the DDL of the agent of that name as a document: its
metadata, then each action with its inputs (type, validation, optional,
maximum length, default) and outputs (display name, default) and aggregate
summaries. When no agent has that name, or for NAME_data, it shows the data
plugin's: its query input and the fields -S can compare, as in
fstat("/etc/motd").size>0. Without NAME, lists the agents and data plugins
that have a DDL. It needs no broker: the DDLs are built in or read from the
libdir of the config (LIBDIR/mcollective/data/NAME_data.json for a data
plugin).

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
  mcorun plugin doc fstat
  mcorun plugin doc service_data
  mcorun plugin ddl service > /usr/share/mcollective/plugins/mcollective/agent/service.ddl
  mcorun plugin ddl --data service > /usr/share/mcollective/plugins/mcollective/data/service_data.ddl
`

func pluginCommand() *command {
	return &command{name: "plugin", summary: "plugin doc [NAME] | ddl AGENT: show an agent's or data plugin's DDL, list them, or print a Ruby DDL for stock mco", usage: pluginUsage, run: runPlugin}
}

func runPlugin(_ context.Context, e *env, args []string) int {
	var c commonFlags
	fs := newFlagSet("plugin", &c)
	data := fs.Bool("data", false, "plugin ddl: NAME is a data plugin")
	fs.VisitAll(func(f *pflag.Flag) {
		// plugin doc and ddl read DDLs only: the filter and scope flags mean nothing here.
		if f.Name != "config" && f.Name != "json" && f.Name != "data" && f.Name != "wide" {
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
		return usageErr(e, "plugin", errors.New("want 'plugin doc [NAME]', 'plugin ddl AGENT' or 'plugin ddl --data NAME'"))
	}
	cfg, err := docConfig(e, &c)
	if err != nil {
		fmt.Fprintf(e.stderr, "mcorun plugin: %v\n", err)
		return exitUsage
	}
	agents, dataPlugins := knownAgents(cfg), knownData(cfg)
	st := tableStyle(e, &c)
	if fs.NArg() == 1 {
		if c.json {
			_ = writeJSON(e.stdout, map[string]any{"agents": sortedKeys(agents), "data_plugins": sortedKeys(dataPlugins)})
			return exitOK
		}
		writePluginList(e.stdout, st, agents, dataPlugins)
		return exitOK
	}
	name := fs.Arg(1)
	if a, ok := agents[name]; ok {
		if c.json {
			_ = writeJSON(e.stdout, a)
			return exitOK
		}
		fmt.Fprint(e.stdout, formatDoc(a, st))
		return exitOK
	}
	// A data plugin when no agent has the name; NAME_data names the data plugin of an agent's
	// name (package, service, puppet).
	d, ok := dataPlugins[strings.TrimSuffix(name, "_data")]
	if !ok {
		fmt.Fprintf(e.stderr, "mcorun plugin: no DDL for an agent or data plugin named %q; 'mcorun plugin doc' lists the known ones\n", name)
		return exitUsage
	}
	if c.json {
		_ = writeJSON(e.stdout, d)
		return exitOK
	}
	fmt.Fprint(e.stdout, formatDataDoc(d, st))
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

func writePluginList(w io.Writer, st listing.Style, agents map[string]*ddl.Agent, data map[string]*ddl.Data) {
	fmt.Fprintln(w, "Agents:")
	var rows [][]string
	for _, n := range sortedKeys(agents) {
		rows = append(rows, []string{n, agents[n].Metadata.Version, agents[n].Metadata.Description})
	}
	_ = listing.Render(w, []string{"Agent", "Version", "Description"}, rows, st)
	fmt.Fprintln(w, "\nData plugins:")
	rows = nil
	for _, n := range sortedKeys(data) {
		rows = append(rows, []string{n, data[n].Metadata.Version, data[n].Metadata.Description})
	}
	_ = listing.Render(w, []string{"Data plugin", "Version", "Description"}, rows, st)
}

// formatDoc renders an agent DDL: mco's metadata block, then each action with tables of
// its inputs and outputs.
func formatDoc(a *ddl.Agent, st listing.Style) string {
	var b strings.Builder
	writeMetadata(&b, a.Metadata)
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
		writeInputs(&b, st, act.Input, "This action does not have any inputs")
		b.WriteString("\n       OUTPUT:\n")
		writeOutputs(&b, st, act.Output, "This action does not have any outputs")
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

// writeMetadata writes mco's metadata block of a DDL: its title and description, then
// author, version, license, timeout and home page.
func writeMetadata(b *strings.Builder, m ddl.Metadata) {
	title := m.DisplayNameOrName()
	fmt.Fprintf(b, "%s\n%s\n\n%s\n\n", title, strings.Repeat("=", len(title)), m.Description)
	fmt.Fprintf(b, "      Author: %s\n     Version: %s\n     License: %s\n     Timeout: %d\n   Home Page: %s\n\n", m.Author, m.Version, m.License, m.Timeout, m.URL)
}

// writeInputs writes a table of inputs, or none when there are none.
func writeInputs(b *strings.Builder, st listing.Style, inputs map[string]*ddl.Input, none string) {
	if len(inputs) == 0 {
		b.WriteString("          " + none + "\n")
		return
	}
	var rows [][]string
	for _, k := range sortedKeys(inputs) {
		in := inputs[k]
		validation := in.Validation
		if in.Type == "list" {
			validation = strings.Join(in.List, ", ")
		}
		maxLen := ""
		if in.MaxLength > 0 {
			maxLen = fmt.Sprint(in.MaxLength)
		}
		rows = append(rows, []string{k, in.Type, fmt.Sprint(in.Optional), validation, maxLen, defaultString(in.Default), in.Description})
	}
	_ = listing.Render(b, []string{"Input", "Type", "Optional", "Validation", "Max length", "Default", "Description"}, rows, st)
}

// writeOutputs writes a table of outputs, or none when there are none.
func writeOutputs(b *strings.Builder, st listing.Style, outputs map[string]*ddl.Output, none string) {
	if len(outputs) == 0 {
		b.WriteString("          " + none + "\n")
		return
	}
	var rows [][]string
	for _, k := range sortedKeys(outputs) {
		o := outputs[k]
		rows = append(rows, []string{k, o.DisplayAs, defaultString(o.Default), o.Description})
	}
	_ = listing.Render(b, []string{"Output", "Display as", "Default", "Description"}, rows, st)
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
