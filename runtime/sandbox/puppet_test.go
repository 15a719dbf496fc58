package sandbox

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/message"
)

func TestPuppetSpec(t *testing.T) {
	f, err := ParseFleet([]byte(`
templates:
  - identity: web{n}
    count: 4
    puppet: {run_time: 10ms-30ms, fail: [2, 6], failed_resources: 3, disabled: [3], hang: [4], seed: 9}
  - identity: db{n}
    count: 2
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := f.Nodes(12) // twice the file: web05-web08 and db03-db04 carry the numbering on
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Node{}
	for _, n := range nodes {
		byID[n.Identity] = n
	}
	for id, want := range map[string]struct {
		failed   int
		disabled string
		hang     bool
	}{
		"web01": {}, "web02": {failed: 3}, "web03": {disabled: defaultDisabledMessage}, "web04": {hang: true},
		"web06": {failed: 3}, "web07": {}, "db01": {}, "db04": {},
	} {
		p := byID[id].Puppet
		if p.FailedResources != want.failed || p.Disabled != want.disabled || p.Hang != want.hang {
			t.Errorf("%s: puppet %+v, want %+v", id, p, want)
		}
	}
	if p := byID["web01"].Puppet; p.MinRunTime != 10*time.Millisecond || p.MaxRunTime != 30*time.Millisecond {
		t.Errorf("web01 run time %s-%s", p.MinRunTime, p.MaxRunTime)
	}
	if p := byID["db01"].Puppet; p.MinRunTime != 0 || p.MaxRunTime != 0 {
		t.Errorf("db01 without a puppet block: run time %s-%s, want the default", p.MinRunTime, p.MaxRunTime)
	}
	if byID["web01"].Puppet.Seed == byID["web07"].Puppet.Seed {
		t.Error("web01 and web07 share a seed")
	}
}

func TestDefaultFleetPuppet(t *testing.T) {
	nodes, err := DefaultFleet().Nodes(0)
	if err != nil {
		t.Fatal(err)
	}
	var failing, disabled []string
	for _, n := range nodes {
		if n.Puppet.FailedResources > 0 {
			failing = append(failing, n.Identity)
		}
		if n.Puppet.Disabled != "" {
			disabled = append(disabled, n.Identity)
		}
		if n.Puppet.Hang {
			t.Errorf("%s hangs; the default fleet must finish", n.Identity)
		}
	}
	// The comments of testdata/fleet.yaml and the README rely on these.
	if strings.Join(failing, ",") != "web06.dc1.example.net" || strings.Join(disabled, ",") != "db03.dc2.example.net" {
		t.Errorf("failing %v, disabled %v", failing, disabled)
	}
}

func TestPuppetSpecErrors(t *testing.T) {
	for _, tc := range []struct{ name, puppet, want string }{
		{"bad run_time", "{run_time: soon}", `puppet.run_time "soon"`},
		{"reversed range", "{run_time: 3s-1s}", "MIN <= MAX"},
		{"zero run_time", "{run_time: 0s}", "want a duration"},
		{"node zero", "{fail: [0]}", "puppet.fail: node numbers start at 1"},
		{"negative", "{failed_resources: -1}", "must not be negative"},
		{"unknown key", "{fails: [1]}", `line 1: unknown key "fails" in a puppet block (keys: run_time, fail,`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFleet([]byte("templates: [{identity: 'w{n}', count: 1, puppet: "+tc.puppet+"}]"), "t.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSimulatedPuppetOnSandbox(t *testing.T) {
	f, err := ParseFleet([]byte(`
templates:
  - identity: p{n}
    count: 2
    puppet: {run_time: 10ms, disabled: [2], disabled_message: "down for repairs"}
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Fleet: f, Plugins: SimulatedPuppet})
	if err != nil {
		t.Fatal(err)
	}
	dir := s.Nodes()[0].Dir
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("node dir: %v", err)
	}
	c := newClient(t, s)
	call := func(node, agent, action string, data map[string]any) *message.RPCReply {
		t.Helper()
		body, err := (&message.RPCRequest{Agent: agent, Action: action, Caller: "uid=0", Data: data, ProcessResults: true}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		ch, done, err := c.send(ctx, connector.DirectedDest("mcollective", node), agent, body, message.Filter{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer done()
		_, reps := collect(ch, 1, 10*time.Second)
		if len(reps) != 1 {
			t.Fatalf("no reply from %s to %s.%s", node, agent, action)
		}
		v, err := message.DecodeBody(reps[0].Body)
		if err != nil {
			t.Fatal(err)
		}
		rr, err := message.DecodeRPCReply(v)
		if err != nil {
			t.Fatal(err)
		}
		return rr
	}
	if rr := call("p01", "puppet", "status", nil); rr.StatusCode != message.OK || rr.Data["enabled"] != true || rr.Data["applying"] != false {
		t.Errorf("p01 status: %+v", rr)
	}
	if rr := call("p02", "puppet", "status", nil); rr.Data["enabled"] != false || rr.Data["disable_message"] != "down for repairs" {
		t.Errorf("p02 status: %+v", rr)
	}
	if rr := call("p02", "rpcutil", "get_data", map[string]any{"source": "puppet"}); rr.StatusCode != message.OK || rr.Data["enabled"] != false {
		t.Errorf("p02 puppet data: %+v", rr)
	}
	if rr := call("p01", "puppet", "runonce", map[string]any{"force": true}); rr.StatusCode != message.OK {
		t.Errorf("p01 runonce: %+v", rr)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("node dir after Close: %v", err)
	}
}
