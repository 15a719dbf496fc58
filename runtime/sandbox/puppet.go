package sandbox

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/mcorun/mcorun/agents/puppet/sim"
	"github.com/mcorun/mcorun/runtime/agent"
)

// PuppetSpec is a template's optional puppet block: how the simulated Puppet of its nodes
// behaves (see package agents/puppet/sim). Nodes are chosen by their number {n} within the
// template, so a fleet grown past the file's size keeps exactly the listed nodes special.
//
//	puppet:
//	  run_time: 1s-3s        # a duration, or MIN-MAX to draw each run's duration between
//	  fail: [6]              # node numbers whose runs fail
//	  failed_resources: 2    # resources failing in each of those runs (default 1)
//	  disabled: [3]          # node numbers whose agent is disabled
//	  disabled_message: "maintenance"
//	  hang: [7]              # node numbers whose runs never finish
//	  resources: 40          # catalog size (default 40)
//	  seed: 1                # varies the drawn run times and changes (default 0)
type PuppetSpec struct {
	RunTime         string `yaml:"run_time"`
	Fail            []int  `yaml:"fail"`
	FailedResources int    `yaml:"failed_resources"`
	Disabled        []int  `yaml:"disabled"`
	DisabledMessage string `yaml:"disabled_message"`
	Hang            []int  `yaml:"hang"`
	Resources       int    `yaml:"resources"`
	Seed            uint64 `yaml:"seed"`
}

// defaultDisabledMessage is the disable message of a node the spec disables without one.
const defaultDisabledMessage = "disabled in the sandbox fleet"

// check validates the spec.
func (p *PuppetSpec) check() error {
	if _, _, err := parseRunTime(p.RunTime); err != nil {
		return err
	}
	for name, nums := range map[string][]int{"fail": p.Fail, "disabled": p.Disabled, "hang": p.Hang} {
		for _, n := range nums {
			if n < 1 {
				return fmt.Errorf("puppet.%s: node numbers start at 1, got %d", name, n)
			}
		}
	}
	if p.FailedResources < 0 || p.Resources < 0 {
		return errors.New("puppet: failed_resources and resources must not be negative")
	}
	return nil
}

// parseRunTime reads a run_time: "" (the default range), a duration ("2s") or a range
// ("1s-3s").
func parseRunTime(s string) (lo, hi time.Duration, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, 0, nil
	}
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = time.ParseDuration(strings.TrimSpace(a)); err != nil || lo <= 0 {
		return 0, 0, fmt.Errorf("puppet.run_time %q: want a duration such as 2s or a range such as 1s-3s", s)
	}
	hi = lo
	if isRange {
		if hi, err = time.ParseDuration(strings.TrimSpace(b)); err != nil || hi < lo {
			return 0, 0, fmt.Errorf("puppet.run_time %q: want a range MIN-MAX with MIN <= MAX", s)
		}
	}
	return lo, hi, nil
}

// simOptions are the simulated Puppet settings of the template's node number num.
func (p *PuppetSpec) simOptions(identity string, num int) sim.Options {
	var o sim.Options
	h := fnv.New64a()
	h.Write([]byte(identity))
	o.Seed = h.Sum64()
	if p == nil {
		return o
	}
	o.Seed ^= p.Seed
	o.MinRunTime, o.MaxRunTime, _ = parseRunTime(p.RunTime) // checked when parsed
	o.Resources = p.Resources
	if slices.Contains(p.Fail, num) {
		o.FailedResources = max(p.FailedResources, 1)
	}
	if slices.Contains(p.Disabled, num) {
		o.Disabled = p.DisabledMessage
		if o.Disabled == "" {
			o.Disabled = defaultDisabledMessage
		}
	}
	o.Hang = slices.Contains(p.Hang, num)
	return o
}

// SimulatedPuppet is a Plugins function that gives a node the real puppet agent and puppet
// data plugin over a simulated Puppet in the node's Dir, set up from its Puppet settings.
func SimulatedPuppet(n Node) (Plugins, error) {
	o := n.Puppet
	o.Dir = n.Dir
	s, err := sim.New(o)
	if err != nil {
		return Plugins{}, fmt.Errorf("simulated puppet: %w", err)
	}
	return Plugins{Agents: []*agent.Agent{s.Agent()}, Data: []*agent.DataPlugin{s.DataPlugin()}, Close: s.Close}, nil
}
