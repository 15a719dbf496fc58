package client

import (
	"fmt"
	"strconv"
	"strings"
)

// Size is a number of nodes given as "N" or "N%": a batch size, a limit, a sample or a
// failure threshold. ParseSize is the only parser of that syntax in mcorun; the command
// line, playbooks (rpc, discover, rolling, NodeSet.batches and sample) and the client all
// call it, so "30%" means the same everywhere.
//
// The rule, once:
//
//   - "N" is N nodes, capped at the population: a limit of 50 on 20 nodes is 20.
//   - "N%" is N percent of the population rounded up, so any non-zero percentage of a
//     non-empty population is at least one node: 30% of 7 is 3 (batches of 3, 3, 1), as
//     mco's --batch computes it. mco's --limit rounds down instead (30% of 7 is 2); mcorun
//     uses the one rule for both and may therefore pick one node more than mco.
//   - N is an integer from 0; a percentage is at most 100%. Surrounding blanks are ignored.
//   - Zero ("0" or "0%") parses, because a failure threshold of 0 is meaningful; a batch or
//     a limit of zero is refused by the plan (see NewPlan), before anything is sent.
//
// A threshold compares exactly instead of rounding: Exceeds reports whether k of total is
// more than the size allows, so a threshold of 10% on 7 nodes tolerates no failure
// (1 of 7 is 14%).
type Size struct {
	n       int
	percent bool
	text    string
}

// ParseSize parses "N" or "N%". The empty string is the zero Size, which means "no size
// given" (IsSet reports false).
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return Size{}, nil
	}
	num, pct := strings.CutSuffix(t, "%")
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || num != strings.TrimSpace(num) || strings.HasPrefix(num, "+") {
		return Size{}, fmt.Errorf("size %q: want a count N or a percentage N%% with N a whole number, such as 2 or \"10%%\"", s)
	}
	if pct && n > 100 {
		return Size{}, fmt.Errorf("size %q: a percentage is at most 100%%", s)
	}
	return Size{n: n, percent: pct, text: t}, nil
}

// SizeOf is the Size of a plain count n >= 0.
func SizeOf(n int) Size { return Size{n: n, text: strconv.Itoa(n)} }

// IsSet reports whether a size was given.
func (s Size) IsSet() bool { return s.text != "" }

// IsZero reports whether the size is "0" or "0%".
func (s Size) IsZero() bool { return s.IsSet() && s.n == 0 }

// Percent reports whether the size is a percentage.
func (s Size) Percent() bool { return s.percent }

// String is the size as given, "" when unset.
func (s Size) String() string { return s.text }

// Of is the number of nodes the size selects from total: all of them when unset, else by
// the rule in the type's doc.
func (s Size) Of(total int) int {
	if !s.IsSet() {
		return total
	}
	if s.percent {
		return (s.n*total + 99) / 100
	}
	return min(s.n, total)
}

// Exceeds reports whether k nodes out of total are more than the size allows, compared
// exactly: more than N nodes, or more than N percent of total. An unset size allows none.
func (s Size) Exceeds(k, total int) bool {
	if s.percent {
		return k*100 > s.n*total
	}
	return k > s.n
}

// Batches cuts nodes into consecutive groups of at most size nodes; size < 1 gives one
// group, and no nodes no group. It is how a batched call, rolling() and NodeSet.batches()
// cut their batches.
func Batches(nodes []string, size int) [][]string {
	if len(nodes) == 0 {
		return nil
	}
	if size < 1 || size >= len(nodes) {
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
