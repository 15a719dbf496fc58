package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mcorun/mcorun/runtime/filter"
	"github.com/mcorun/mcorun/runtime/match"
	"github.com/mcorun/mcorun/runtime/message"
)

// InventorySchema is the $schema of Choria's inventory files, the format ReadInventory reads.
const InventorySchema = "https://choria.io/schemas/choria/discovery/v1/inventory_file.json"

// InventoryFile is Choria's inventory file: nodes with their facts, classes, agents and
// collectives, and named groups, each a saved filter. It is read from YAML or JSON.
type InventoryFile struct {
	Schema string           `yaml:"$schema" json:"$schema"`
	Groups []InventoryGroup `yaml:"groups" json:"groups"`
	Nodes  []InventoryNode  `yaml:"nodes" json:"nodes"`
}

// InventoryGroup is a filter saved under a name, selected with -I group:NAME.
type InventoryGroup struct {
	Name   string       `yaml:"name" json:"name"`
	Filter *GroupFilter `yaml:"filter" json:"filter"`
}

// GroupFilter is a group's filter, written as the -F, -C, -I, -A and -S flags take it.
type GroupFilter struct {
	Agents     []string `yaml:"agents" json:"agents"`
	Classes    []string `yaml:"classes" json:"classes"`
	Facts      []string `yaml:"facts" json:"facts"`
	Identities []string `yaml:"identities" json:"identities"`
	Compound   string   `yaml:"compound" json:"compound"`
}

// InventoryNode is one node of an inventory.
type InventoryNode struct {
	Name        string         `yaml:"name" json:"name"`
	Collectives []string       `yaml:"collectives" json:"collectives"`
	Facts       map[string]any `yaml:"facts" json:"facts"`
	Classes     []string       `yaml:"classes" json:"classes"`
	Agents      []string       `yaml:"agents" json:"agents"`
}

// ParseInventory decodes an inventory file (YAML, or JSON, which YAML reads too) and checks it:
// unknown keys are refused unless lax, every node has a valid, unique name, and every group a
// unique name. A group's filter is parsed when -I group:NAME selects it, so that one group
// written in Choria's expression language does not make the other groups unusable. Errors
// name the node or group at fault.
func ParseInventory(b []byte, lax bool) (*InventoryFile, error) {
	var inv InventoryFile
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		// JSON is read as JSON: several times faster than YAML for big inventories
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.UseNumber()
		if !lax {
			dec.DisallowUnknownFields()
		}
		if err := dec.Decode(&inv); err != nil {
			return nil, fmt.Errorf("not a valid inventory (schema %s): %w", InventorySchema, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("not a valid inventory (schema %s): data after the JSON document", InventorySchema)
		}
		for i := range inv.Nodes {
			for k, v := range inv.Nodes[i].Facts {
				inv.Nodes[i].Facts[k] = jsonNumbers(v)
			}
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(!lax)
		if err := dec.Decode(&inv); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("empty inventory: want a document with \"nodes\" (schema %s)", InventorySchema)
			}
			return nil, fmt.Errorf("not a valid inventory (schema %s): %w", InventorySchema, err)
		}
	}
	if inv.Schema != "" && inv.Schema != InventorySchema {
		return nil, fmt.Errorf("$schema %q: want %s", inv.Schema, InventorySchema)
	}
	if inv.Nodes == nil {
		return nil, fmt.Errorf("no \"nodes\" list (schema %s)", InventorySchema)
	}
	seen := make(map[string]bool, len(inv.Nodes))
	for i, n := range inv.Nodes {
		if err := checkIdentity(n.Name); err != nil {
			return nil, fmt.Errorf("node %d: name: %w", i+1, err)
		}
		if seen[n.Name] {
			return nil, fmt.Errorf("node %d: %s is listed twice", i+1, n.Name)
		}
		seen[n.Name] = true
	}
	groups := map[string]bool{}
	for i, g := range inv.Groups {
		if g.Name == "" {
			return nil, fmt.Errorf("group %d: no name", i+1)
		}
		if groups[g.Name] {
			return nil, fmt.Errorf("group %q is defined twice", g.Name)
		}
		groups[g.Name] = true
	}
	return &inv, nil
}

// jsonNumbers turns the json.Numbers of a decoded fact into int64 or float64, as YAML decodes
// numbers, so that 4 matches processorcount=4 from either format.
func jsonNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		if !strings.ContainsAny(x.String(), ".eE") {
			return x.String() // an integer beyond int64: Ruby prints its digits
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case []any:
		for i, e := range x {
			x[i] = jsonNumbers(e)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = jsonNumbers(e)
		}
	}
	return v
}

// filter builds the group's filter with the flags' parser.
func (g InventoryGroup) filter() (message.Filter, error) {
	if g.Filter == nil {
		return message.Filter{}, nil
	}
	f := g.Filter
	return filter.Build(filter.Options{Facts: f.Facts, Classes: f.Classes, Identities: f.Identities,
		Agents: f.Agents, Select: f.Compound})
}

// Group returns the group named name.
func (inv *InventoryFile) Group(name string) (InventoryGroup, bool) {
	for _, g := range inv.Groups {
		if g.Name == name {
			return g, true
		}
	}
	return InventoryGroup{}, false
}

// Select returns the nodes matching f in collective ("" for any), in file order, evaluating
// f with runtime/match, the matcher the nodes themselves use. A node that lists no
// collectives is in every one. -I group:NAME entries select the named groups' nodes; they
// cannot be mixed with other filters (the call's own agent, callAgent, aside).
func (inv *InventoryFile) Select(ctx context.Context, f message.Filter, collective, callAgent string) ([]string, error) {
	if err := Check(Inventory, f, callAgent); err != nil {
		return nil, err
	}
	groups, err := inv.groupFilters(f, callAgent)
	if err != nil {
		return nil, err
	}
	if groups == nil {
		return inv.selectOne(ctx, f, collective)
	}
	var out []string
	for _, gf := range groups {
		nodes, err := inv.selectOne(ctx, gf, collective)
		if err != nil {
			return nil, err
		}
		out = append(out, nodes...)
	}
	return out, nil
}

// groupFilters returns the filters of the groups -I group:NAME names (nil when it names none),
// each with the call's agent added.
func (inv *InventoryFile) groupFilters(f message.Filter, callAgent string) ([]message.Filter, error) {
	var names []string
	others := 0
	for _, id := range f.Identity {
		if g, ok := strings.CutPrefix(id, "group:"); ok {
			names = append(names, g)
		} else {
			others++
		}
	}
	if names == nil {
		return nil, nil
	}
	userAgents := slices.DeleteFunc(slices.Clone(f.Agent), func(a string) bool { return a == callAgent })
	if others > 0 || len(f.Fact) > 0 || len(f.CFClass) > 0 || len(userAgents) > 0 || len(f.Compound) > 0 {
		return nil, tagged(ErrUnsupportedFilter, "-I group:NAME cannot be combined with other filters; put them in the group, or drop the group")
	}
	out := make([]message.Filter, 0, len(names))
	for _, name := range names {
		g, ok := inv.Group(name)
		if !ok {
			return nil, tagged(ErrSource, "inventory: no group %q; the inventory defines %s", name, inv.groupNames())
		}
		gf, err := g.filter()
		if err != nil {
			return nil, tagged(ErrSource, "inventory: group %q: %w (a group's compound is mco's -S syntax, not Choria's expression language)", name, err)
		}
		if callAgent != "" && !slices.Contains(gf.Agent, callAgent) {
			gf.Agent = append(gf.Agent, callAgent)
		}
		out = append(out, gf)
	}
	return out, nil
}

func (inv *InventoryFile) groupNames() string {
	if len(inv.Groups) == 0 {
		return "no groups"
	}
	names := make([]string, len(inv.Groups))
	for i, g := range inv.Groups {
		names[i] = g.Name
	}
	return strings.Join(names, ", ")
}

func (inv *InventoryFile) selectOne(ctx context.Context, f message.Filter, collective string) ([]string, error) {
	var out []string
	m := match.Matcher{Regexps: match.NewRegexps()} // every node is matched with the same regexes
	for i := range inv.Nodes {
		n := &inv.Nodes[i]
		if collective != "" && len(n.Collectives) > 0 && !slices.Contains(n.Collectives, collective) {
			continue
		}
		ok, err := m.Match(ctx, f, invNode{n})
		if err != nil {
			return nil, tagged(ErrUnsupportedFilter, "%w", err)
		}
		if ok {
			out = append(out, n.Name)
		}
		if i&1023 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return out, nil
}

// invNode is an inventory node as runtime/match sees it.
type invNode struct{ n *InventoryNode }

func (v invNode) Identity() string             { return v.n.Name }
func (v invNode) Fact(name string) (any, bool) { x, ok := v.n.Facts[name]; return x, ok }
func (v invNode) Classes() []string            { return v.n.Classes }
func (v invNode) HasAgent(name string) bool    { return slices.Contains(v.n.Agents, name) }
func (v invNode) Agents() []string             { return v.n.Agents }
func (v invNode) Data(context.Context, string, any) (map[string]any, error) {
	return nil, errors.New("data plugins run only on the nodes")
}

// inventory discovers from an inventory file (--dm inventory [--do file=F]).
type inventory struct{ source string }

func (i inventory) Discover(ctx context.Context, r Request) ([]string, error) {
	if err := Check(Inventory, r.Filter, r.CallAgent); err != nil {
		return nil, err
	}
	if err := knownOptions(Inventory, r.Options, "file", "novalidate"); err != nil {
		return nil, err
	}
	file := i.source
	if f := r.Options["file"]; f != "" {
		file = f
	}
	if file == "" {
		return nil, sourceErr(Inventory, fmt.Errorf("no inventory file: pass --do file=FILE or set plugin.%s", KeyInventorySource))
	}
	b, err := readFile(file)
	if err != nil {
		return nil, sourceErr(Inventory, err)
	}
	_, lax := r.Options["novalidate"]
	inv, err := ParseInventory(b, lax)
	if err != nil {
		return nil, sourceErr(Inventory, fmt.Errorf("%s: %w", file, err))
	}
	return inv.Select(ctx, r.Filter, r.Collective, r.CallAgent)
}
