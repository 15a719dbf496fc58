package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/sandbox"
)

// globalFlags are the flags that apply before any verb: --sandbox N and --fleet FILE. They
// may appear anywhere on the command line.
type globalFlags struct {
	sandbox int    // simulated nodes; 0 means a real fleet
	fleet   string // the sandbox's fleet file; empty means the built-in one
}

// extractGlobal removes --sandbox N, --sandbox=N, --fleet FILE and --fleet=FILE from args.
// Everything after "--" is left alone.
func extractGlobal(args []string) (globalFlags, []string, error) {
	var g globalFlags
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, val, hasVal := strings.Cut(a, "=")
		if name != "--sandbox" && name != "--fleet" {
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return g, nil, fmt.Errorf("%s needs a value", name)
			}
			i++
			val = args[i]
		}
		switch name {
		case "--sandbox":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 10000 {
				return g, nil, fmt.Errorf("--sandbox %q: want a number of nodes from 1 to 10000", val)
			}
			g.sandbox = n
		case "--fleet":
			g.fleet = val
		}
	}
	if g.fleet != "" && g.sandbox == 0 {
		return g, nil, fmt.Errorf("--fleet %s is only used with --sandbox N", g.fleet)
	}
	return g, rest, nil
}

// startSandbox starts an in-process broker and g.sandbox simulated nodes running the real
// agents, puppet included (see sandboxAgents), and returns the client config that reaches
// them.
func startSandbox(ctx context.Context, g globalFlags, logw io.Writer, verbose bool) (*sandbox.Sandbox, *config.Config, error) {
	log := slog.New(slog.DiscardHandler)
	if verbose {
		log = slog.New(newLineHandler(logw, slog.LevelWarn))
	}
	fleet, err := loadFleet(g)
	if err != nil {
		return nil, nil, err
	}
	sb, err := sandbox.Start(ctx, sandbox.Options{Nodes: g.sandbox, Fleet: fleet, Plugins: sandboxAgents, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox: %w", err)
	}
	return sb, sb.ClientConfig(), nil
}

// loadFleet reads and checks the --fleet file, expanded to --sandbox nodes; nil without
// --fleet (the built-in fleet). Its errors wrap errConfig and name the flag, the file and
// the line, as "--fleet FILE: line 3: unknown key ...".
func loadFleet(g globalFlags) (*sandbox.Fleet, error) {
	if g.fleet == "" {
		return nil, nil
	}
	fleet, err := sandbox.LoadFleet(g.fleet)
	if err == nil {
		_, err = fleet.Nodes(g.sandbox)
	}
	if fe := (*sandbox.FleetError)(nil); errors.As(err, &fe) {
		err = fe.Err
	}
	if err != nil {
		return nil, fleetError{fmt.Errorf("--fleet %s: %w", g.fleet, err)}
	}
	return fleet, nil
}

// fleetError is a bad --fleet file: a configuration error, exit code 2.
type fleetError struct{ error }

func (e fleetError) Unwrap() error { return e.error }

// sandboxAgents are the agents and data plugins each simulated node serves beyond rpcutil,
// discovery and the built-in data plugins: the real puppet agent and puppet data plugin
// over a simulated Puppet, set up by the fleet file's puppet blocks.
func sandboxAgents(n sandbox.Node) (sandbox.Plugins, error) { return sandbox.SimulatedPuppet(n) }
