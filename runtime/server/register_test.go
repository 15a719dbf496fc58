package server

import (
	"context"
	"slices"
	"testing"

	"github.com/mcorun/mcorun/agents/data"
)

func TestRegisterData(t *testing.T) {
	s, err := New(Options{Identity: "n1", Security: psk(t)})
	if err != nil {
		t.Fatal(err)
	}
	s.RegisterData(data.Puppet(func(context.Context) (map[string]any, error) {
		return map[string]any{"enabled": true}, nil
	}))
	if names := (rpcNode{s}).DataPlugins(); !slices.Contains(names, "puppet_data") || !slices.Contains(names, "fstat_data") {
		t.Errorf("data plugins = %v", names)
	}
	out, err := (node{s}).Data(context.Background(), "puppet", nil)
	if err != nil || out["enabled"] != true || out["status"] != "unknown" {
		t.Errorf("puppet() = %v, %v", out, err)
	}
}
