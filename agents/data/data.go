// Package data holds the server's data plugins: fact, agent, fstat and collective. They answer
// the data function calls of compound filters (fstat("/etc/motd").size > 0) and rpcutil's
// get_data action, as MCollective's Data plugins do.
package data

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/ddl"
)

// ErrUnknownPlugin is wrapped by the error a Registry returns for a plugin it does not hold.
var ErrUnknownPlugin = errors.New("unknown data plugin")

// ErrTimeout is wrapped by the error a lookup returns when a plugin outlives its DDL timeout.
var ErrTimeout = errors.New("data plugin timed out")

// Plugin is one data plugin: its DDL and the function that answers a query. Query returns
// only the outputs it sets; Lookup adds the DDL defaults for the rest.
type Plugin struct {
	DDL   *ddl.Data
	Query func(ctx context.Context, query any) (map[string]any, error)
}

// Name is the plugin's name, e.g. "fstat".
func (p *Plugin) Name() string { return p.DDL.Metadata.Name }

// Lookup runs a query as MCollective's Data::Base#lookup does: it validates the query against
// the DDL (a *ddl.ValidationError on failure), runs Query under the DDL timeout (one second
// when the DDL has none), and returns every DDL output, defaults first, overlaid with the
// plugin's results. A string query for a boolean or numeric input is converted first, as
// rpcutil get_data does.
func (p *Plugin) Lookup(ctx context.Context, query any) (map[string]any, error) {
	if s, ok := query.(string); ok && p.DDL.Query != nil && p.DDL.Query.Type != "string" {
		if v, err := p.DDL.Query.Convert(s); err == nil {
			query = v
		}
	}
	if err := p.DDL.ValidateQuery(query); err != nil {
		return nil, err
	}
	timeout := time.Duration(p.DDL.Metadata.Timeout) * time.Second
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	type result struct {
		m   map[string]any
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := p.Query(ctx, query)
		done <- result{m, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, r.err
		}
		out := p.DDL.Defaults()
		for k, v := range r.m {
			out[k] = v
		}
		return out, nil
	case <-ctx.Done():
		return nil, &kindError{msg: fmt.Sprintf("Data plugin %s_data timed out on query '%v'", p.Name(), query), kind: ErrTimeout}
	}
}

// Registry holds the data plugins a server offers, by name ("fstat").
type Registry map[string]*Plugin

// NewRegistry returns a registry of the given plugins.
func NewRegistry(plugins ...*Plugin) Registry {
	r := Registry{}
	for _, p := range plugins {
		r[p.Name()] = p
	}
	return r
}

// Builtin returns a registry of the four built-in plugins over the given fact source, agent
// lookup and collective list.
func Builtin(facts func() map[string]any, agents func(name string) (*ddl.Agent, bool), collectives func() []string) Registry {
	return NewRegistry(Fact(facts), AgentPlugin(agents), Fstat(), Collective(collectives))
}

// Names lists the plugins as MCollective's PluginManager names them ("fstat_data"), sorted:
// the data_plugins of rpcutil inventory.
func (r Registry) Names() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n+"_data")
	}
	sort.Strings(names)
	return names
}

// Get returns the plugin called name; name may carry the "_data" suffix.
func (r Registry) Get(name string) (*Plugin, bool) {
	p, ok := r[strings.TrimSuffix(strings.ToLower(name), "_data")]
	return p, ok
}

// Query looks name up and runs query through it with Lookup. An unknown plugin gives an error
// wrapping ErrUnknownPlugin whose text is MCollective's.
func (r Registry) Query(ctx context.Context, name string, query any) (map[string]any, error) {
	p, ok := r.Get(name)
	if !ok {
		full := strings.TrimSuffix(strings.ToLower(name), "_data") + "_data"
		return nil, &kindError{msg: fmt.Sprintf("Can't find DDL for data plugin '%s'", full), kind: ErrUnknownPlugin}
	}
	return p.Lookup(ctx, query)
}

// kindError carries MCollective's message verbatim and matches its sentinel with errors.Is.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

// mustDDL loads a built-in data DDL; the embedded files are tested, so failure is a bug.
func mustDDL(name string) *ddl.Data {
	d, err := ddl.BuiltinData(name)
	if err != nil {
		panic(err)
	}
	return d
}

// Collective is the collective data plugin: member is whether the node belongs to the named
// collective.
func Collective(collectives func() []string) *Plugin {
	return &Plugin{DDL: mustDDL("collective"), Query: func(_ context.Context, q any) (map[string]any, error) {
		name, _ := q.(string)
		member := false
		for _, c := range collectives() {
			if c == name {
				member = true
				break
			}
		}
		return map[string]any{"member": member}, nil
	}}
}

// AgentPlugin is the agent data plugin: the metadata of the named agent (agent, license,
// timeout, description, url, version, author). An agent the node does not serve is an error.
func AgentPlugin(lookup func(name string) (*ddl.Agent, bool)) *Plugin {
	return &Plugin{DDL: mustDDL("agent"), Query: func(_ context.Context, q any) (map[string]any, error) {
		name, _ := q.(string)
		a, ok := lookup(name)
		if !ok {
			return nil, fmt.Errorf("No agent called %s found", name)
		}
		m := a.Metadata
		return map[string]any{
			"agent":       name,
			"license":     m.License,
			"timeout":     int64(m.Timeout),
			"description": m.Description,
			"url":         m.URL,
			"version":     m.Version,
			"author":      m.Author,
		}, nil
	}}
}
