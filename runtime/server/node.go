package server

import (
	"context"
	"fmt"
	"os"

	"github.com/mcorun/mcorun/agents/data"
	"github.com/mcorun/mcorun/agents/discovery"
	"github.com/mcorun/mcorun/agents/rpcutil"
	"github.com/mcorun/mcorun/runtime/ddl"
)

type dataRegistry = data.Registry

// registerBuiltins adds the rpcutil agent and the built-in data plugins.
func (s *Server) registerBuiltins() error {
	s.data = data.Builtin(s.opts.Facts.Facts, s.agentDDL, func() []string { return s.opts.Collectives })
	s.Register(rpcutil.New(rpcNode{s}))
	return nil
}

// agentDDL finds a served agent's DDL, discovery included.
func (s *Server) agentDDL(name string) (*ddl.Agent, bool) {
	if name == discoveryAgent {
		return discovery.DDL(), true
	}
	a, ok := s.agents[name]
	if !ok {
		return nil, false
	}
	return a.DDL, true
}

// node is the server as filter matching sees it.
type node struct{ s *Server }

func (n node) Identity() string             { return n.s.opts.Identity }
func (n node) Fact(name string) (any, bool) { return n.s.opts.Facts.Fact(name) }
func (n node) Classes() []string            { return n.s.opts.Classes.List() }
func (n node) Agents() []string             { return n.s.Agents() }
func (n node) HasAgent(name string) bool {
	_, ok := n.s.agentDDL(name)
	return ok
}
func (n node) Data(ctx context.Context, plugin string, query any) (map[string]any, error) {
	return n.s.data.Query(ctx, plugin, query)
}

// rpcNode is the server as the rpcutil agent sees it.
type rpcNode struct{ s *Server }

func (n rpcNode) Facts() map[string]any        { return n.s.opts.Facts.Facts() }
func (n rpcNode) Fact(name string) (any, bool) { return n.s.opts.Facts.Fact(name) }
func (n rpcNode) Classes() []string            { return n.s.opts.Classes.List() }
func (n rpcNode) Collectives() []string        { return n.s.opts.Collectives }
func (n rpcNode) MainCollective() string       { return n.s.opts.MainCollective }
func (n rpcNode) DataPlugins() []string        { return n.s.data.Names() }
func (n rpcNode) Data(ctx context.Context, source string, query any) (map[string]any, error) {
	return n.s.data.Query(ctx, source, query)
}

func (n rpcNode) Agents() []*ddl.Agent {
	var out []*ddl.Agent
	for _, name := range n.s.Agents() {
		if d, ok := n.s.agentDDL(name); ok {
			out = append(out, d)
		}
	}
	return out
}

func (n rpcNode) ConfigItem(name string) (any, bool) {
	if n.s.opts.ConfigItem == nil {
		return nil, false
	}
	return n.s.opts.ConfigItem(name)
}

func (n rpcNode) Stats() rpcutil.Stats {
	st := &n.s.stats
	return rpcutil.Stats{
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
