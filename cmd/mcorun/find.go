package main

import (
	"context"
	"fmt"
	"time"

	"github.com/mcorun/mcorun/runtime/listing"
)

const findUsage = `Usage:
  mcorun find [filters] [flags]

Discovers the nodes that match the filters and prints their identities, one a
line, sorted. With -v it also reports the discovery on stderr, like mco find.

Examples:
  mcorun find
  mcorun find -C web::nginx -F environment=production
  mcorun find -I /^web/ -v
  mcorun find -F role=web --limit-nodes 2
  mcorun find -S 'fstat("/etc/motd").size>0' --json
  mcorun find -F role=web --format csv
`

func findCommand() *command {
	return &command{name: "find", summary: "list the nodes that match the filters", usage: findUsage, run: runFind}
}

func runFind(ctx context.Context, e *env, args []string) int {
	var c commonFlags
	fs := newFlagSet("find", &c)
	addFormatFlag(fs, &c)
	s, fl, closeFn, code, ok := startVerb(ctx, e, "find", findUsage, fs, &c, args, noOperands)
	if !ok {
		return code
	}
	defer closeFn()
	start := time.Now()
	nodes, err := fl.Discover(ctx, c.listOptions(s.filter, s.nodes))
	if err != nil {
		return s.fail(fmt.Errorf("discovery: %w", err))
	}
	elapsed := time.Since(start)
	if c.json {
		if nodes == nil {
			nodes = []string{}
		}
		doc := struct {
			Nodes       []string `json:"nodes"`
			DiscoveryMS float64  `json:"discovery_ms"`
		}{nodes, round2(ms(elapsed))}
		rows := make([][]any, len(nodes))
		for i, n := range nodes {
			rows[i] = []any{n}
		}
		if err := s.writeList(listing.List{Columns: []string{"identity"}, Rows: rows, Doc: doc}); err != nil {
			return s.fail(err)
		}
	} else {
		if c.verbose {
			fmt.Fprintln(e.stderr)
		}
		for _, n := range nodes {
			fmt.Fprintln(e.stdout, n)
		}
		if c.verbose {
			fmt.Fprintf(e.stderr, "\nDiscovered %d nodes in %.2f seconds using the %s discovery plugin\n", len(nodes), elapsed.Seconds(), discoveryMethod(s.nodes))
		}
	}
	if len(nodes) == 0 {
		if !c.json {
			fmt.Fprintln(e.stderr, "No nodes matched the filters. 'mcorun find' without filters lists every node; 'mcorun inventory NODE' shows a node's facts and classes.")
		}
		return exitNothingDiscovered
	}
	return exitOK
}

// discoveryMethod names the discovery method as mco does: mc broadcasts, flatfile and
// stdin read a given list.
func discoveryMethod(nodes []string) string {
	if nodes != nil {
		return "flatfile"
	}
	return "mc"
}
