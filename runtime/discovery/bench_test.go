package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mcorun/mcorun/runtime/filter"
)

// bigInventory is an inventory of n nodes with a dozen facts, five classes and four agents each.
func bigInventory(n int) *InventoryFile {
	inv := &InventoryFile{Schema: InventorySchema, Groups: []InventoryGroup{{Name: "web", Filter: &GroupFilter{Facts: []string{"role=web"}}}}}
	roles := []string{"web", "db", "app", "cache"}
	for i := range n {
		role := roles[i%len(roles)]
		inv.Nodes = append(inv.Nodes, InventoryNode{
			Name:        fmt.Sprintf("%s%05d.dc%d.example.net", role, i, i%3+1),
			Collectives: []string{"mcollective", fmt.Sprintf("dc%d", i%3+1)},
			Facts: map[string]any{
				"role": role, "datacenter": fmt.Sprintf("dc%d", i%3+1), "rack": fmt.Sprintf("r%d", i%40),
				"processorcount": 2 << (i % 4), "memorysize_mb": 4096 * (i%8 + 1), "environment": []string{"production", "staging"}[i%2],
				"osfamily": "Debian", "operatingsystemmajrelease": "12", "kernel": "Linux", "virtual": "kvm",
				"fqdn": fmt.Sprintf("%s%05d.example.net", role, i), "uptime_seconds": 1000 * i,
			},
			Classes: []string{"base", "base::ntp", "base::ssh", "monitoring::agent", role + "::server"},
			Agents:  []string{"rpcutil", "puppet", "service", "package"},
		})
	}
	return inv
}

// BenchmarkInventory10k filters an inventory of 10,000 nodes with -F, -C, -I, -W and a
// compound expression, each evaluated per node by runtime/match (the budget is 100 ms).
func BenchmarkInventory10k(b *testing.B) {
	inv := bigInventory(10000)
	cases := []struct {
		name string
		o    filter.Options
		want int
	}{
		{"fact", filter.Options{Facts: []string{"role=db", "processorcount>=4"}}, 2500},
		{"class", filter.Options{Classes: []string{"db::server"}}, 2500},
		{"identity regex", filter.Options{Identities: []string{"/^web0[0-4].*dc1/"}}, 417},
		{"with", filter.Options{With: []string{"base::ssh environment=production"}}, 5000},
		{"compound", filter.Options{Select: "(role=web or role=db) and !environment=staging and /monitoring/"}, 2500},
		{"group", filter.Options{Identities: []string{"group:web"}}, 2500},
	}
	for _, c := range cases {
		f, err := filter.Build(c.o)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				nodes, err := inv.Select(context.Background(), f, "mcollective", "")
				if err != nil || len(nodes) != c.want {
					b.Fatalf("%d nodes, %v; want %d", len(nodes), err, c.want)
				}
			}
		})
	}
}

// BenchmarkParseInventory10k reads a 10,000-node inventory written as YAML and as JSON.
func BenchmarkParseInventory10k(b *testing.B) {
	inv := bigInventory(10000)
	y, err := yaml.Marshal(inv)
	if err != nil {
		b.Fatal(err)
	}
	j, err := json.Marshal(inv)
	if err != nil {
		b.Fatal(err)
	}
	for name, data := range map[string][]byte{"yaml": y, "json": j} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				inv, err := ParseInventory(data, false)
				if err != nil || len(inv.Nodes) != 10000 {
					b.Fatal(err)
				}
			}
		})
	}
}
