package sandbox

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	pkgagent "github.com/mcorun/mcorun/agents/package"
	"github.com/mcorun/mcorun/agents/puppet/sim"
	"github.com/mcorun/mcorun/agents/service"
	"github.com/mcorun/mcorun/runtime/facts"
)

// defaultFleet is a copy of the repository's testdata/fleet.yaml (a test keeps them equal).
//
//go:embed fleet.yaml
var defaultFleet []byte

// Fleet is a fleet file: templates, each standing for a number of similar nodes.
//
//	templates:
//	  - identity: web{n}.dc1.example.net   # {n}: the node's number in its template
//	    count: 8                           # nodes in the file's fleet
//	    pad: 2                             # digits {n} is zero-padded to (default 2)
//	    facts: {role: web, fqdn: "{identity}"}
//	    vary: {rack: [r1, r2]}             # cycled through by node number
//	    classes: [base, web::nginx]
//	    puppet: {run_time: 1s-3s, fail: [6]} # the simulated Puppet; see PuppetSpec
//	    external: agents                   # a libdir of external agents, served for real
type Fleet struct {
	Templates []Template `yaml:"templates"`
}

// Template describes the nodes of one kind. See Fleet for the file format.
type Template struct {
	// Identity is the identity pattern; "{n}" becomes the node's number within the template.
	Identity string `yaml:"identity"`
	// Count is how many nodes of this kind the file's fleet holds (at least 1).
	Count int `yaml:"count"`
	// Pad is the width {n} is zero-padded to; 0 means 2.
	Pad int `yaml:"pad"`
	// Facts are shared by every node of the template. In string values "{n}" and
	// "{identity}" are replaced.
	Facts map[string]any `yaml:"facts"`
	// Vary gives facts that differ between nodes: node number k gets element (k-1) mod len.
	Vary map[string][]any `yaml:"vary"`
	// Classes are the node's configuration-management classes.
	Classes []string `yaml:"classes"`
	// Puppet tunes the simulated Puppet of the nodes; nil gives every node a healthy,
	// enabled agent whose runs take 1 to 3 seconds.
	Puppet *PuppetSpec `yaml:"puppet"`
	// Services and Packages are the nodes' simulated services and packages, served by the
	// real service and package agents over their sim providers.
	Services map[string]ServiceSpec `yaml:"services"`
	Packages map[string]PackageSpec `yaml:"packages"`
	// Shell, when false, turns the shell agent off on the template's nodes. The shell
	// agent runs real commands on this machine, in the node's own working directory.
	Shell *bool `yaml:"shell"`
	// External is a libdir whose external agents (LIBDIR/mcollective/agent/NAME beside
	// NAME.json, docs/agents.md) the template's nodes serve: real processes on this
	// machine. A relative path is relative to the fleet file's directory.
	External string `yaml:"external"`
}

// Node is one simulated node of a fleet.
type Node struct {
	// Index is the node's position in the expanded fleet, from 0.
	Index int
	// Identity is the node's MCollective identity.
	Identity string
	// Template is the index of the template the node came from.
	Template int
	// Facts are normalized as MCollective's YAML fact source does: scalars become strings.
	Facts   map[string]any
	Classes []string
	// Puppet are the settings of the node's simulated Puppet (see SimulatedPuppet), from
	// its template's puppet block; Dir is left for Start to fill in.
	Puppet sim.Options
	// Services and Packages are the node's simulated services and packages.
	Services []service.SimService
	Packages pkgagent.SimConfig
	// Shell reports whether the node serves the shell agent.
	Shell bool
	// External is the libdir of the external agents the node serves; "" for none.
	External string
	// Dir is a scratch directory of the node's own, such as for its simulated Puppet's
	// state. Start creates it when Options.Plugins is set, and Close removes it.
	Dir string
}

// DefaultFleet returns the built-in fleet, a copy of testdata/fleet.yaml: 20 web, app and
// database nodes in two data centres.
func DefaultFleet() *Fleet {
	f, err := ParseFleet(defaultFleet, "fleet.yaml")
	if err != nil {
		panic(err) // the embedded file is checked by the tests
	}
	return f
}

// LoadFleet reads a fleet file. Its errors are *FleetError values.
func LoadFleet(path string) (*Fleet, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &FleetError{File: path, Err: errors.New("no such file")}
	} else if err != nil {
		return nil, &FleetError{File: path, Err: err}
	}
	return ParseFleet(b, path)
}

// ParseFleet parses a fleet file; name is used in errors. Unknown keys are errors. Its
// errors are *FleetError values.
func ParseFleet(b []byte, name string) (*Fleet, error) {
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	var f Fleet
	if err := dec.Decode(&f); errors.Is(err, io.EOF) {
		return nil, &FleetError{File: name, Err: errors.New("the file is empty: want a templates: list")}
	} else if err != nil {
		return nil, &FleetError{File: name, Err: yamlError(err)}
	}
	for i, t := range f.Templates {
		if t.External != "" && !filepath.IsAbs(t.External) {
			abs, err := filepath.Abs(filepath.Join(filepath.Dir(name), t.External))
			if err != nil {
				return nil, &FleetError{File: name, Err: fmt.Errorf("template %d (%s): external: %w", i+1, t.Identity, err)}
			}
			f.Templates[i].External = abs
		}
	}
	if err := f.check(); err != nil {
		return nil, &FleetError{File: name, Err: err}
	}
	return &f, nil
}

var identityRE = regexp.MustCompile(`^[A-Za-z0-9_.\-]+$`)

func (f *Fleet) check() error {
	if len(f.Templates) == 0 {
		return errors.New("no templates")
	}
	for i, t := range f.Templates {
		switch {
		case t.Count < 1:
			return fmt.Errorf("template %d (%s): count must be at least 1", i+1, t.Identity)
		case t.Pad < 0 || t.Pad > 9:
			return fmt.Errorf("template %d (%s): pad must be 0 to 9", i+1, t.Identity)
		case !strings.Contains(t.Identity, "{n}"):
			return fmt.Errorf("template %d: identity %q has no {n}", i+1, t.Identity)
		case !identityRE.MatchString(strings.ReplaceAll(t.Identity, "{n}", "1")):
			return fmt.Errorf("template %d: identity %q may only contain letters, digits, '_', '.', '-' and {n}", i+1, t.Identity)
		}
		for k, v := range t.Vary {
			if len(v) == 0 {
				return fmt.Errorf("template %d (%s): vary.%s is empty", i+1, t.Identity, k)
			}
		}
		if t.Puppet != nil {
			if err := t.Puppet.check(); err != nil {
				return fmt.Errorf("template %d (%s): %w", i+1, t.Identity, err)
			}
		}
		if t.External != "" {
			if st, err := os.Stat(t.External); err != nil || !st.IsDir() {
				return fmt.Errorf("template %d (%s): external: %s is not a directory: want a libdir holding mcollective/agent/", i+1, t.Identity, t.External)
			}
		}
		if err := t.checkActing(); err != nil {
			return fmt.Errorf("template %d (%s): %w", i+1, t.Identity, err)
		}
	}
	return nil
}

// Size is the number of nodes the file describes: the sum of the templates' counts.
func (f *Fleet) Size() int {
	n := 0
	for _, t := range f.Templates {
		n += t.Count
	}
	return n
}

// slot is one node of the file's own fleet: template t, number i (from 0) within it.
type slot struct{ t, i int }

// order interleaves the file's nodes so that every prefix mixes the templates in proportion
// to their counts: each node is placed at (i+½)/count of its template's share.
func (f *Fleet) order() []slot {
	var out []slot
	for t, tp := range f.Templates {
		for i := range tp.Count {
			out = append(out, slot{t, i})
		}
	}
	slices.SortStableFunc(out, func(a, b slot) int {
		// Compare (2a.i+1)/count_a with (2b.i+1)/count_b without division.
		x := (2*a.i + 1) * f.Templates[b.t].Count
		y := (2*b.i + 1) * f.Templates[a.t].Count
		return x - y
	})
	return out
}

// Nodes expands the fleet to n nodes; n <= 0 means Size. Templates are mixed in proportion
// to their counts; beyond Size the numbering of each template carries on, so web{n} with
// count 8 gives web09, web10, ... in a fleet of twice the file's size.
func (f *Fleet) Nodes(n int) ([]Node, error) {
	if n <= 0 {
		n = f.Size()
	}
	order := f.order()
	seen := make(map[string]bool, n)
	nodes := make([]Node, 0, n)
	for k := range n {
		s := order[k%len(order)]
		t := f.Templates[s.t]
		num := (k/len(order))*t.Count + s.i + 1
		node := t.node(num)
		if seen[node.Identity] {
			return nil, fmt.Errorf("identity %s occurs twice in the fleet: make the templates' identity patterns distinct", node.Identity)
		}
		seen[node.Identity] = true
		node.Index, node.Template = k, s.t
		nodes = append(nodes, node)
	}
	return nodes, nil
}

// node builds the template's node number num (from 1).
func (t Template) node(num int) Node {
	pad := t.Pad
	if pad == 0 {
		pad = 2
	}
	nstr := fmt.Sprintf("%0*d", pad, num)
	id := strings.ReplaceAll(t.Identity, "{n}", nstr)
	raw := make(map[string]any, len(t.Facts)+len(t.Vary))
	for k, v := range t.Facts {
		raw[k] = v
	}
	for k, v := range t.Vary {
		raw[k] = v[(num-1)%len(v)]
	}
	fs, _ := facts.Normalize(raw).(map[string]any)
	r := strings.NewReplacer("{n}", nstr, "{identity}", id)
	for k, v := range fs {
		if s, ok := v.(string); ok {
			fs[k] = r.Replace(s)
		}
	}
	return Node{Identity: id, Facts: fs, Classes: slices.Clone(t.Classes), Puppet: t.Puppet.simOptions(id, num),
		Services: t.simServices(num), Packages: t.simPackages(num), Shell: t.Shell == nil || *t.Shell, External: t.External}
}
