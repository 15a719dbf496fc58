package agents

import (
	"fmt"

	"github.com/mcorun/mcorun/agents/data"

	"github.com/mcorun/mcorun/agents/nettest"
	pkgagent "github.com/mcorun/mcorun/agents/package"
	"github.com/mcorun/mcorun/agents/service"
	"github.com/mcorun/mcorun/agents/shell"
	"github.com/mcorun/mcorun/runtime/agent"
)

// Acting configures the agents that act on a node, beyond the Standard set: service and
// package (with their data plugins), nettest, and shell when the node serves it.
type Acting struct {
	Service service.Options
	Package pkgagent.Options
	Nettest nettest.Options
	// Shell is nil when the node does not serve the shell agent (plugin.shell.enabled is
	// false, the default: it runs any command it is sent).
	Shell *shell.Options
	// FstatPaths limits the paths the fstat data plugin may examine
	// (plugin.fstat.allowed_paths); nil allows every path.
	FstatPaths data.Paths
}

// Plugins is the server.Options.Plugins of a node serving the Standard set and the agents
// of a. mcod, the sandbox and the test fleet all use it, so that every node serves the same
// agents through the same code. The acting agents are built here, once, so that a bad
// setting (an unknown provider, an unwritable shell state path) is an error before the node
// starts.
func Plugins(a Acting) (func(agent.Node) ([]*agent.Agent, []*agent.DataPlugin), error) {
	svc, svcData, err := service.New(a.Service)
	if err != nil {
		return nil, fmt.Errorf("service agent: %w", err)
	}
	pkg, err := pkgagent.Open(a.Package)
	if err != nil {
		return nil, fmt.Errorf("package agent: %w", err)
	}
	net, err := nettest.New(a.Nettest)
	if err != nil {
		return nil, fmt.Errorf("nettest agent: %w", err)
	}
	acting := []*agent.Agent{svc, pkg.Agent(), net}
	if a.Shell != nil {
		sh, err := shell.New(*a.Shell)
		if err != nil {
			return nil, fmt.Errorf("shell agent: %w", err)
		}
		acting = append(acting, sh)
	}
	more := []*agent.DataPlugin{svcData, pkg.DataPlugin()}
	return func(n agent.Node) ([]*agent.Agent, []*agent.DataPlugin) {
		as, ds := standard(n, data.FstatWithin(a.FstatPaths))
		return append(as, acting...), append(ds, more...)
	}, nil
}
