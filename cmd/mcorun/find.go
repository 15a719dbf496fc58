package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/mcorun/mcorun/runtime/discovery"
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
  mcorun find --dm inventory --do file=inventory.yaml -I group:web
  mcorun find --compare mc,puppetdb -F role=web

--compare A,B runs two discovery methods with the same filters and prints the
nodes only A found, then those only B found (--json: one document). It exits 0
whatever the difference; --do options go to the method that is not mc.
`

func findCommand() *command {
	return &command{name: "find", summary: "list the nodes that match the filters", usage: findUsage, run: runFind}
}

func runFind(ctx context.Context, e *env, args []string) int {
	var (
		c       commonFlags
		compare string
		pair    []string
	)
	fs := newFlagSet("find", &c)
	fs.StringVar(&compare, "compare", "", "compare two discovery methods, e.g. mc,puppetdb: print the nodes each found that the other did not")
	operands := func(fs *pflag.FlagSet) error {
		if err := noOperands(fs); err != nil || compare == "" {
			return err
		}
		var err error
		if pair, err = comparePair(compare, c.dm, c.nodesFile); err != nil {
			return err
		}
		// --do goes to the method that is not mc: the session checks it with that method
		c.dm = pair[0]
		if c.dm == discovery.MC {
			c.dm = pair[1]
		}
		return nil
	}
	addFormatFlag(fs, &c)
	s, fl, closeFn, code, ok := startVerb(ctx, e, "find", findUsage, fs, &c, args, operands)
	if !ok {
		return code
	}
	defer closeFn()
	if pair != nil {
		return runCompare(ctx, s, fl, pair)
	}
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
			fmt.Fprintf(e.stderr, "\nDiscovered %d nodes in %.2f seconds using the %s discovery plugin\n", len(nodes), elapsed.Seconds(), s.discoveryMethod())
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

// discoveryMethod names the discovery method as mco does: mc broadcasts, flatfile reads a
// given list (--nodes), and the other sources are chosen by --dm or the config.
func (s *session) discoveryMethod() string {
	if s.flags.method == "" {
		return "mc"
	}
	return s.flags.method
}

// comparePair parses --compare A,B into two distinct method names.
func comparePair(spec, dm, nodesFile string) ([]string, error) {
	if dm != "" || nodesFile != "" {
		return nil, fmt.Errorf("--compare names both discovery methods: drop --dm and --nodes")
	}
	a, b, ok := strings.Cut(spec, ",")
	if !ok {
		return nil, fmt.Errorf("--compare %q: want two methods, e.g. mc,puppetdb", spec)
	}
	pair := make([]string, 2)
	for i, m := range []string{a, b} {
		n, err := discovery.Canonical(m)
		if err != nil {
			return nil, fmt.Errorf("--compare: %w", err)
		}
		pair[i] = n
	}
	if pair[0] == pair[1] {
		return nil, fmt.Errorf("--compare %q: the two methods are the same", spec)
	}
	return pair, nil
}

// compareDoc is find --compare --json's document.
type compareDoc struct {
	Methods []string            `json:"methods"`
	Nodes   map[string][]string `json:"nodes"`
	Only    map[string][]string `json:"only"`
}

// runCompare discovers with both methods of pair and prints what each found that the other
// did not. Both filters are checked before either discovery runs.
func runCompare(ctx context.Context, s *session, fl fleet, pair []string) int {
	c := s.flags
	for _, m := range pair {
		if err := discovery.Check(m, s.filter, ""); err != nil {
			return s.fail(err)
		}
	}
	found := make([][]string, 2)
	for i, m := range pair {
		o := c.listOptions(s.filter, nil)
		o.Method, o.MethodOptions = m, nil
		if m != discovery.MC {
			o.MethodOptions = c.methodOpts
		}
		nodes, err := fl.Discover(ctx, o)
		if err != nil {
			return s.fail(fmt.Errorf("discovery with %s: %w", m, err))
		}
		found[i] = nodes
	}
	onlyA, onlyB := discovery.Diff(found[0], found[1])
	if c.json {
		doc := compareDoc{Methods: pair,
			Nodes: map[string][]string{pair[0]: nonNil(found[0]), pair[1]: nonNil(found[1])},
			Only:  map[string][]string{pair[0]: nonNil(onlyA), pair[1]: nonNil(onlyB)}}
		if err := writeJSON(s.e.stdout, doc); err != nil {
			return s.fail(err)
		}
		return exitOK
	}
	out := s.e.stdout
	for i, only := range [][]string{onlyA, onlyB} {
		other := pair[1-i]
		fmt.Fprintf(out, "Only in %s (%d of %d, not in %s):\n", pair[i], len(only), len(found[i]), other)
		for _, n := range only {
			fmt.Fprintf(out, "   %s\n", n)
		}
		if i == 0 {
			fmt.Fprintln(out)
		}
	}
	fmt.Fprintf(out, "\n%d nodes in both\n", len(found[0])-len(onlyA))
	return exitOK
}
