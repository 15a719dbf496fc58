package starlib

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"go.starlark.net/starlark"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/discovery"
	"go.starlark.net/syntax"
)

// NodeSet is an immutable, sorted set of node identities: what discover() returns and what
// nodes= arguments take.
//
// Starlark: len(s), x in s, for x in s, s[i], s[i:j] (a NodeSet), s | t, s & t, s - t,
// s == t, and the methods s.batches(n) -> list of NodeSets, s.sample(n, seed=None) ->
// NodeSet, s.list() -> list of strings. It is true when non-empty and hashable.
type NodeSet struct {
	ids []string // sorted, no duplicates
}

var (
	_ starlark.Indexable  = (*NodeSet)(nil)
	_ starlark.Sliceable  = (*NodeSet)(nil)
	_ starlark.Sequence   = (*NodeSet)(nil)
	_ starlark.Container  = (*NodeSet)(nil)
	_ starlark.HasBinary  = (*NodeSet)(nil)
	_ starlark.HasAttrs   = (*NodeSet)(nil)
	_ starlark.Comparable = (*NodeSet)(nil)
)

// NewNodeSet returns the set of ids, sorted and without duplicates. It does not keep ids.
func NewNodeSet(ids []string) *NodeSet {
	s := slices.Clone(ids)
	slices.Sort(s)
	return &NodeSet{ids: slices.Compact(s)}
}

// IDs returns the identities in order. The caller must not change the slice.
func (s *NodeSet) IDs() []string { return s.ids }

// Contains reports whether id is in the set.
func (s *NodeSet) Contains(id string) bool {
	_, ok := slices.BinarySearch(s.ids, id)
	return ok
}

// reprLimit is how many identities a NodeSet's repr shows.
const reprLimit = 10

// String returns a repr such as NodeSet(3: ["a", "b", "c"]), truncated for big sets.
func (s *NodeSet) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "NodeSet(%d: [", len(s.ids))
	for i, id := range s.ids {
		if i == reprLimit-1 && len(s.ids) > reprLimit {
			fmt.Fprintf(&b, ", ... %d more", len(s.ids)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(id))
	}
	b.WriteString("])")
	return b.String()
}

// Type implements starlark.Value.
func (s *NodeSet) Type() string { return "NodeSet" }

// Freeze implements starlark.Value; a NodeSet is immutable.
func (s *NodeSet) Freeze() {}

// Truth implements starlark.Value: a NodeSet is true when non-empty.
func (s *NodeSet) Truth() starlark.Bool { return len(s.ids) > 0 }

// Hash implements starlark.Value.
func (s *NodeSet) Hash() (uint32, error) {
	h := fnv.New32a()
	for _, id := range s.ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return h.Sum32(), nil
}

// Len implements starlark.Sequence.
func (s *NodeSet) Len() int { return len(s.ids) }

// Index implements starlark.Indexable.
func (s *NodeSet) Index(i int) starlark.Value { return starlark.String(s.ids[i]) }

// Slice implements starlark.Sliceable: s[i:j:k] is the NodeSet of those identities, so
// s[:n] takes the first n in order.
func (s *NodeSet) Slice(start, end, step int) starlark.Value {
	var ids []string
	if step > 0 {
		for i := start; i < end; i += step {
			ids = append(ids, s.ids[i])
		}
	} else {
		for i := start; i > end; i += step {
			ids = append(ids, s.ids[i])
		}
	}
	return NewNodeSet(ids)
}

// Iterate implements starlark.Iterable.
func (s *NodeSet) Iterate() starlark.Iterator { return &stringsIter{ids: s.ids} }

// Has implements starlark.Container: "id" in s.
func (s *NodeSet) Has(x starlark.Value) (bool, error) {
	id, ok := x.(starlark.String)
	if !ok {
		return false, fmt.Errorf("in NodeSet: want string, got %s", x.Type())
	}
	return s.Contains(string(id)), nil
}

// CompareSameType implements starlark.Comparable: == and != only.
func (s *NodeSet) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	eq := slices.Equal(s.ids, y.(*NodeSet).ids)
	switch op {
	case syntax.EQL:
		return eq, nil
	case syntax.NEQ:
		return !eq, nil
	}
	return false, fmt.Errorf("NodeSet %s NodeSet not supported", op)
}

// Binary implements starlark.HasBinary: | (union), & (intersection) and - (difference). The
// other operand may be a NodeSet or a list of identities.
func (s *NodeSet) Binary(op syntax.Token, y starlark.Value, side starlark.Side) (starlark.Value, error) {
	if op != syntax.PIPE && op != syntax.AMP && op != syntax.MINUS {
		return nil, nil
	}
	var other nodesArg
	if _, ok := y.(starlark.NoneType); ok {
		return nil, nil
	}
	if err := other.Unpack(y); err != nil {
		return nil, nil // let the interpreter report unknown operands
	}
	a, b := s, other.nodes
	if side == starlark.Right {
		a, b = b, a
	}
	switch op {
	case syntax.PIPE:
		return NewNodeSet(append(slices.Clone(a.ids), b.ids...)), nil
	case syntax.AMP:
		return a.filter(func(id string) bool { return b.Contains(id) }), nil
	default:
		return a.filter(func(id string) bool { return !b.Contains(id) }), nil
	}
}

func (s *NodeSet) filter(keep func(string) bool) *NodeSet {
	out := make([]string, 0, len(s.ids))
	for _, id := range s.ids {
		if keep(id) {
			out = append(out, id)
		}
	}
	return &NodeSet{ids: out}
}

var nodeSetMethods = map[string]*starlark.Builtin{
	"batches": starlark.NewBuiltin("batches", nodeSetBatches),
	"sample":  starlark.NewBuiltin("sample", nodeSetSample),
	"list":    starlark.NewBuiltin("list", nodeSetList),
	"diff":    starlark.NewBuiltin("diff", nodeSetDiff),
}

// Attr implements starlark.HasAttrs.
func (s *NodeSet) Attr(name string) (starlark.Value, error) {
	if m, ok := nodeSetMethods[name]; ok {
		return m.BindReceiver(s), nil
	}
	return nil, nil
}

// AttrNames implements starlark.HasAttrs.
func (s *NodeSet) AttrNames() []string { return []string{"batches", "diff", "list", "sample"} }

// nodeSetDiff is s.diff(other) -> (only in s, only in other): two NodeSets, for comparing two
// discovery sources, e.g. live, known = discover(), discover(method="puppetdb").
func nodeSetDiff(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var other nodesArg
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "other", &other); err != nil {
		return nil, err
	}
	s := b.Receiver().(*NodeSet)
	onlyS, onlyOther := discovery.Diff(s.ids, other.nodes.ids)
	return starlark.Tuple{&NodeSet{ids: nonNilIDs(onlyS)}, &NodeSet{ids: nonNilIDs(onlyOther)}}, nil
}

func nonNilIDs(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// Batches splits the set, in order, into sets of at most n identities.
func (s *NodeSet) Batches(n int) []*NodeSet {
	var out []*NodeSet
	for _, c := range client.Batches(s.ids, n) {
		out = append(out, &NodeSet{ids: c})
	}
	return out
}

func nodeSetBatches(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var size countArg
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "n", &size); err != nil {
		return nil, err
	}
	s := b.Receiver().(*NodeSet)
	if size.size.IsZero() {
		return nil, fmt.Errorf("batches: n must be at least 1, got %s", size.s)
	}
	n := size.of(len(s.ids))
	var list []starlark.Value
	for _, c := range s.Batches(n) {
		list = append(list, c)
	}
	return starlark.NewList(list), nil
}

func nodeSetSample(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var size countArg
	var seed starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "n", &size, "seed?", &seed); err != nil {
		return nil, err
	}
	s := b.Receiver().(*NodeSet)
	n := min(size.of(len(s.ids)), len(s.ids))
	var rng *rand.Rand
	switch x := seed.(type) {
	case starlark.NoneType:
		rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	case starlark.Int:
		v, ok := x.Int64()
		if !ok {
			return nil, fmt.Errorf("sample: seed out of range: %s", x)
		}
		rng = rand.New(rand.NewPCG(uint64(v), 0x6d636f72756e))
	case starlark.String:
		h := fnv.New64a()
		h.Write([]byte(x))
		rng = rand.New(rand.NewPCG(h.Sum64(), 0x6d636f72756e))
	default:
		return nil, fmt.Errorf("sample: seed: want int or string, got %s", seed.Type())
	}
	perm := rng.Perm(len(s.ids))[:n]
	picked := make([]string, n)
	for i, j := range perm {
		picked[i] = s.ids[j]
	}
	return NewNodeSet(picked), nil
}

func nodeSetList(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	return stringsToList(b.Receiver().(*NodeSet).ids), nil
}

func stringsToList(ids []string) *starlark.List {
	vals := make([]starlark.Value, len(ids))
	for i, id := range ids {
		vals[i] = starlark.String(id)
	}
	return starlark.NewList(vals)
}

// nodeset(ids=()) builds a NodeSet from identities, a NodeSet or a ResultSet.
func nodesetBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var ids nodesArg
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ids?", &ids); err != nil {
		return nil, err
	}
	if ids.nodes == nil {
		return NewNodeSet(nil), nil
	}
	return ids.nodes, nil
}

type stringsIter struct {
	ids []string
	i   int
}

func (it *stringsIter) Next(p *starlark.Value) bool {
	if it.i >= len(it.ids) {
		return false
	}
	*p = starlark.String(it.ids[it.i])
	it.i++
	return true
}

func (it *stringsIter) Done() {}
