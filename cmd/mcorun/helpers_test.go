package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/ddl"
)

// fakeFleet answers with canned values and records what was asked.
type fakeFleet struct {
	pings    []pingReply
	nodes    []string
	results  *client.Results
	calls    int
	lastArgs map[string]any
}

func (f *fakeFleet) Ping(context.Context, client.DiscoverOptions) ([]pingReply, error) {
	return f.pings, nil
}

func (f *fakeFleet) Discover(context.Context, client.DiscoverOptions) ([]string, error) {
	return f.nodes, nil
}

func (f *fakeFleet) Call(_ context.Context, _, _ string, args map[string]any, _ client.CallOptions) (*client.Results, error) {
	f.calls++
	f.lastArgs = args
	return f.results, nil
}

func (f *fakeFleet) DDL(agent string) (*ddl.Agent, error) { return ddl.Builtin(agent) }

func (f *fakeFleet) Plan(agent, action string, args map[string]any, opts client.CallOptions) (*client.Plan, error) {
	return builtinPlan(agent, action, args, opts)
}

// builtinPlan is the client's plan of a call with the built-in DDLs and default settings.
func builtinPlan(agent, action string, args map[string]any, opts client.CallOptions) (*client.Plan, error) {
	d, err := ddl.Builtin(agent)
	if err != nil {
		return nil, err
	}
	return client.NewPlan(d, action, args, opts, client.Settings{})
}

const testClientCfg = `main_collective = mcollective
collectives = mcollective
securityprovider = psk
plugin.psk = test
connector = rabbitmq
plugin.rabbitmq.vhost = /mcollective
plugin.rabbitmq.pool.size = 1
plugin.rabbitmq.pool.1.host = 127.0.0.1
plugin.rabbitmq.pool.1.port = 61613
plugin.rabbitmq.pool.1.user = mcollective
plugin.rabbitmq.pool.1.password = secret
identity = unit-client
`

// testEnv returns an env whose connect hands out f (counting connections in *dials), and
// the path of a valid client config.
func testEnv(t *testing.T, f fleet, dials *int) (*env, *bytes.Buffer, *bytes.Buffer, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "client.cfg")
	if err := os.WriteFile(cfg, []byte(testClientCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	e := &env{
		stdin: strings.NewReader(""), stdout: &out, stderr: &errOut,
		getenv: func(string) string { return "" }, home: dir,
		connect: func(context.Context, *config.Config, *slog.Logger) (fleet, func(), error) {
			if dials != nil {
				*dials++
			}
			return f, func() {}, nil
		},
	}
	return e, &out, &errOut, cfg
}
