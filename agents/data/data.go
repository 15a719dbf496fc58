// Package data holds the node's data plugins: fact, agent, fstat, collective and puppet, each
// an agent.DataPlugin. They answer the data function calls of compound filters
// (fstat("/etc/motd").size > 0) and rpcutil's get_data action, as MCollective's Data plugins
// do.
package data

import (
	"context"
	"fmt"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/ddl"
)

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
func Collective(collectives func() []string) *agent.DataPlugin {
	return &agent.DataPlugin{DDL: mustDDL("collective"), Query: func(_ context.Context, q any) (map[string]any, error) {
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
func AgentPlugin(lookup func(name string) (*ddl.Agent, bool)) *agent.DataPlugin {
	return &agent.DataPlugin{DDL: mustDDL("agent"), Query: func(_ context.Context, q any) (map[string]any, error) {
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
