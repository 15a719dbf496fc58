package main

import (
	"context"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/connector"
)

// driveWithClient makes mcorun's own client (runtime/client, what every mcorun verb and
// playbook uses) call the Ruby agents of the reference tier's node: service status,
// package status and shell run answer ok, with the DDL's outputs.
func driveWithClient(t *testing.T, cfgPath, identity string) {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	rmq, err := cfg.RabbitMQ()
	if err != nil {
		t.Fatal(err)
	}
	opts, err := connector.OptionsFromConfig(rmq, cfg.Identity, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := connector.Dial(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := client.FromConfig(cfg, conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		agent, action string
		args          map[string]any
		output        string
	}{
		{"service", "status", map[string]any{"service": "cron"}, "status"},
		{"package", "status", map[string]any{"package": "dpkg"}, "ensure"},
		{"shell", "run", map[string]any{"command": "echo hi"}, "stdout"},
	} {
		res, err := c.Call(ctx, tc.agent, tc.action, tc.args, client.CallOptions{Nodes: []string{identity}})
		if err != nil {
			t.Fatalf("mcorun's client, %s#%s on the Ruby agent: %v", tc.agent, tc.action, err)
		}
		if len(res.OK) != 1 || res.OK[0].Data[tc.output] == nil {
			t.Errorf("mcorun's client, %s#%s on the Ruby agent: %+v", tc.agent, tc.action, res)
			continue
		}
		t.Logf("mcorun's client, %s#%s on the Ruby agent: %s = %v", tc.agent, tc.action, tc.output, res.OK[0].Data[tc.output])
	}
}
