package server

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/ddl"
)

// node is the server as filter matching sees it.
type node struct{ s *Server }

func (n node) Identity() string             { return n.s.opts.Identity }
func (n node) Fact(name string) (any, bool) { return n.s.opts.Facts.Fact(name) }
func (n node) Classes() []string            { return n.s.opts.Classes.List() }
func (n node) Agents() []string             { return n.s.Agents() }
func (n node) HasAgent(name string) bool {
	_, ok := n.s.agent(name)
	return ok
}
func (n node) Data(ctx context.Context, plugin string, query any) (map[string]any, error) {
	return n.s.data.Query(ctx, plugin, query)
}

// agentNode is the server as its agents and data plugins see it (rpcutil, the agent data
// plugin, ...).
type agentNode struct{ s *Server }

var _ agent.Node = agentNode{}

func (n agentNode) Facts() map[string]any        { return n.s.opts.Facts.Facts() }
func (n agentNode) Fact(name string) (any, bool) { return n.s.opts.Facts.Fact(name) }
func (n agentNode) Classes() []string            { return n.s.opts.Classes.List() }
func (n agentNode) Collectives() []string        { return n.s.opts.Collectives }
func (n agentNode) MainCollective() string       { return n.s.opts.MainCollective }
func (n agentNode) DataPlugins() []string        { return n.s.data.Names() }
func (n agentNode) Data(ctx context.Context, source string, query any) (map[string]any, error) {
	return n.s.data.Query(ctx, source, query)
}

func (n agentNode) Agents() []*ddl.Agent {
	n.s.amu.RLock()
	defer n.s.amu.RUnlock()
	out := make([]*ddl.Agent, 0, len(n.s.agents))
	for _, name := range slices.Sorted(maps.Keys(n.s.agents)) {
		out = append(out, n.s.agents[name].DDL)
	}
	return out
}

func (n agentNode) Now() time.Time { return n.s.opts.Now() }

func (n agentNode) ConfigItem(name string) (any, bool) {
	if n.s.opts.ConfigItem == nil {
		return nil, false
	}
	return n.s.opts.ConfigItem(name)
}

func (n agentNode) Stats() agent.Stats {
	st := &n.s.stats
	return agent.Stats{
		StartTime:   n.s.started,
		Total:       st.total.Load(),
		Validated:   st.validated.Load(),
		Unvalidated: st.unvalidated.Load(),
		Passed:      st.passed.Load(),
		Filtered:    st.filtered.Load(),
		Replies:     st.replies.Load(),
		TTLExpired:  st.ttlExpired.Load(),
		ConfigFile:  n.s.opts.ConfigFile,
		Pid:         os.Getpid(),
		Threads:     []string{fmt.Sprintf("%d workers of %d", len(n.s.sem), cap(n.s.sem))},
	}
}
