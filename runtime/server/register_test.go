package server

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/mcorun/mcorun/agents"
	"github.com/mcorun/mcorun/agents/data"
	"github.com/mcorun/mcorun/runtime/authz"
	"github.com/mcorun/mcorun/runtime/match"
)

func TestRegisterData(t *testing.T) {
	s, err := New(Options{Identity: "n1", Security: psk(t), Plugins: agents.Standard})
	if err != nil {
		t.Fatal(err)
	}
	s.RegisterData(data.Puppet(func(context.Context) (map[string]any, error) {
		return map[string]any{"enabled": true}, nil
	}))
	if names := (agentNode{s}).DataPlugins(); !slices.Contains(names, "puppet_data") || !slices.Contains(names, "fstat_data") {
		t.Errorf("data plugins = %v", names)
	}
	out, err := (node{s}).Data(context.Background(), "puppet", nil)
	if err != nil || out["enabled"] != true || out["status"] != "unknown" {
		t.Errorf("puppet() = %v, %v", out, err)
	}
}

// A server serves only what it is given: without Plugins it has no agent, not even discovery.
func TestNoPluginsServesNothing(t *testing.T) {
	s, err := New(Options{Identity: "n1", Security: psk(t)})
	if err != nil {
		t.Fatal(err)
	}
	if a := s.Agents(); len(a) != 0 {
		t.Errorf("agents = %v", a)
	}
	if d := (agentNode{s}).DataPlugins(); len(d) != 0 {
		t.Errorf("data plugins = %v", d)
	}
}

type denyAll struct{ asked *atomic.Int64 }

func (d denyAll) Authorize(context.Context, authz.Request, match.Node) error {
	d.asked.Add(1)
	return authz.ErrDenied
}

// An agent with a Handle (discovery) answers the raw body, and is never authorized.
func TestHandleAgentAnswersWithoutAuthorization(t *testing.T) {
	var asked atomic.Int64
	s, tr, _ := newTestServerWith(t, func(o *Options) { o.Authorizer = denyAll{&asked} })
	s.Handle(discoveryPing(t, psk(t)))
	if rep, v := awaitBody(t, tr); v != "pong" || rep.SenderAgent != "discovery" {
		t.Errorf("reply %#v from %q", v, rep.SenderAgent)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("authorizer asked %d times", n)
	}
}
