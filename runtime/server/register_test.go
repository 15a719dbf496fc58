package server

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mcorun/mcorun/agents"
	"github.com/mcorun/mcorun/agents/data"
	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/authz"
	"github.com/mcorun/mcorun/runtime/match"
	"github.com/mcorun/mcorun/runtime/message"
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

// An agent added while the server serves is subscribed to in every collective, listed in
// rpcutil's inventory, can be replaced and removed; a served name is refused.
func TestAddReplaceRemoveWhileServing(t *testing.T) {
	s, tr, logs := newTestServer(t)
	sec := psk(t)
	mk := func(v string) *agent.Agent {
		a := testAgent()
		a.DDL.Metadata.Name = "late"
		a.Actions["echo"] = func(_ context.Context, req *agent.Request, rep *agent.Reply) { rep.Data["v"] = v }
		return a
	}
	if err := s.Add(mk("one")); err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	dests := strings.Join(tr.dests, " ")
	tr.mu.Unlock()
	for _, d := range []string{"/exchange/mcollective_broadcast/late", "/exchange/other_broadcast/late"} {
		if !strings.Contains(dests, d) {
			t.Errorf("not subscribed to %s: %s", d, dests)
		}
	}
	if names := (node{s}).Agents(); !slices.Contains(names, "late") {
		t.Errorf("agents = %v", names)
	}
	s.Handle(request(t, sec, "late", "echo", map[string]any{"msg": "x"}, message.Filter{}))
	if rr := awaitReply(t, tr); rr.Data["v"] != "one" {
		t.Errorf("before replace: %+v", rr)
	}
	if err := s.Add(mk("two")); err == nil || !strings.Contains(err.Error(), "already served") {
		t.Errorf("adding a served name: %v", err)
	}
	rpcutil := testAgent()
	rpcutil.DDL.Metadata.Name = "rpcutil"
	if err := s.Add(rpcutil); err == nil {
		t.Error("adding an agent named rpcutil succeeded")
	}
	if err := s.Replace(mk("two")); err != nil {
		t.Fatal(err)
	}
	s.Handle(request(t, sec, "late", "echo", map[string]any{"msg": "x"}, message.Filter{}))
	if rr := awaitReply(t, tr); rr.Data["v"] != "two" {
		t.Errorf("after replace: %+v", rr)
	}
	if err := s.Remove("late"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("late"); err == nil {
		t.Error("removing twice succeeded")
	}
	if err := s.Replace(mk("three")); err == nil {
		t.Error("replacing a removed agent succeeded")
	}
	s.process(request(t, sec, "late", "echo", map[string]any{"msg": "x"}, message.Filter{}))
	if !strings.Contains(logs.String(), `agent \"late\" is not served here`) {
		t.Fatalf("no drop logged for the removed agent:\n%s", logs.String())
	}
}
