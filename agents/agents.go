// Package agents names the standard set of agents and data plugins every node serves. The
// agents and data plugins themselves live in its sub-packages; the server pipeline
// (runtime/server) knows none of them and is given this set by mcod, the sandbox and tests.
package agents

import (
	"github.com/mcorun/mcorun/agents/data"
	"github.com/mcorun/mcorun/agents/discovery"
	"github.com/mcorun/mcorun/agents/rpcutil"
	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/ddl"
)

// Standard returns what every node serves, answering from n: the rpcutil and discovery
// agents, and the fact, agent, fstat and collective data plugins. Its signature is that of
// server.Options.Plugins. Its fstat examines every path, as MCollective's does.
func Standard(n agent.Node) ([]*agent.Agent, []*agent.DataPlugin) {
	return standard(n, data.Fstat())
}

// standard is Standard with the given fstat data plugin.
func standard(n agent.Node, fstat *agent.DataPlugin) ([]*agent.Agent, []*agent.DataPlugin) {
	agentDDL := func(name string) (*ddl.Agent, bool) {
		for _, d := range n.Agents() {
			if d.Metadata.Name == name {
				return d, true
			}
		}
		return nil, false
	}
	return []*agent.Agent{rpcutil.New(n), discovery.New()},
		[]*agent.DataPlugin{data.Fact(n.Facts), data.AgentPlugin(agentDDL), fstat, data.Collective(n.Collectives)}
}
