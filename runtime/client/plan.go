package client

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

// count resolves a size spec, "N" or "N%", against n nodes as mco does: N is capped at n, and
// a percentage is rounded down but at least 1 when n > 0. An empty spec means all n.
func count(spec string, n int) (int, error) {
	if spec == "" {
		return n, nil
	}
	num, pct := strings.CutSuffix(spec, "%")
	v, err := strconv.Atoi(num)
	if err != nil || v < 0 || (pct && v == 0) {
		return 0, fmt.Errorf("size %q: want N or N%% with N a positive integer", spec)
	}
	if pct {
		v = n * v / 100
		if v == 0 && n > 0 {
			v = 1
		}
	}
	return min(v, n), nil
}

// pickLimit selects the nodes a limit spec allows from sorted, deduplicated nodes: the first
// N when seed is 0, otherwise N chosen by a random source seeded with seed, so one seed
// always picks the same nodes from the same set. The result is sorted.
func pickLimit(nodes []string, spec string, seed int64) ([]string, error) {
	if spec == "" {
		return nodes, nil
	}
	n, err := count(spec, len(nodes))
	if err != nil {
		return nil, fmt.Errorf("limit: %w", err)
	}
	if n == 0 && len(nodes) > 0 {
		return nil, fmt.Errorf("limit %q: selects no node", spec)
	}
	if n >= len(nodes) {
		return nodes, nil
	}
	if seed == 0 {
		return slices.Clone(nodes[:n]), nil
	}
	pool := slices.Clone(nodes)
	r := rand.New(rand.NewPCG(uint64(seed), 0x6d636f72756e)) //nolint:gosec // selection, not security
	r.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	out := pool[:n]
	slices.Sort(out)
	return out, nil
}

// batches cuts nodes into consecutive slices of at most size nodes; size <= 0 gives one.
func batches(nodes []string, size int) [][]string {
	if size <= 0 || size >= len(nodes) {
		return [][]string{nodes}
	}
	var out [][]string
	for len(nodes) > 0 {
		k := min(size, len(nodes))
		out = append(out, nodes[:k])
		nodes = nodes[k:]
	}
	return out
}

// sortedUnique returns a sorted copy of ss without duplicates or empty strings.
func sortedUnique(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// withAgent returns a copy of f whose agent entries include agent.
func withAgent(f message.Filter, agent string) message.Filter {
	f.Agent = slices.Clone(f.Agent)
	if agent != "" && !slices.Contains(f.Agent, agent) {
		f.Agent = append(f.Agent, agent)
	}
	return f
}

// route is how one call's requests travel.
type route struct {
	directed bool
	filter   message.Filter
}

// planRoute decides between directed and broadcast requests as message.rb does. forced marks
// a node list that did not come from discovery with the user's filter (given nodes, batch,
// limit): such requests are directed with the filter reset to the agent alone. Discovered
// nodes go directed, keeping the full filter, when there are at most threshold of them.
// Without direct addressing everything is a broadcast, and a forced node list becomes an
// identity filter.
func planRoute(f message.Filter, agent string, nodes []string, forced, noDirect bool, threshold int) route {
	if noDirect {
		if forced {
			return route{filter: message.Filter{Agent: []string{agent}, Identity: slices.Clone(nodes)}}
		}
		return route{filter: withAgent(f, agent)}
	}
	if forced {
		return route{directed: true, filter: message.Filter{Agent: []string{agent}}}
	}
	return route{directed: len(nodes) <= threshold, filter: withAgent(f, agent)}
}

// callTimeout is how long a call waits for replies after sending: the explicit timeout, else
// the DDL timeout (10 s when unset) plus the discovery timeout, as rpc/client.rb computes it.
func callTimeout(explicit time.Duration, a *ddl.Agent, discovery time.Duration) time.Duration {
	if explicit > 0 {
		return explicit
	}
	t := DefaultDDLTimeout
	if a != nil && a.Metadata.Timeout > 0 {
		t = time.Duration(a.Metadata.Timeout) * time.Second
	}
	return t + discovery
}

// dataTimeout is the sum of the DDL timeouts of the data plugins a filter's compound
// expressions call, which mco adds to its discovery timeout. Unknown plugins add nothing.
func dataTimeout(f message.Filter) time.Duration {
	var d time.Duration
	for _, expr := range f.Compound {
		for _, it := range expr {
			if it.Kind != message.FStatement || it.Func == nil {
				continue
			}
			if dd, err := ddl.BuiltinData(it.Func.Name); err == nil {
				d += time.Duration(dd.Metadata.Timeout) * time.Second
			}
		}
	}
	return d
}
