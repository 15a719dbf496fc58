package data

import (
	"context"
	"fmt"

	"github.com/mcorun/mcorun/runtime/agent"
)

// puppetFields are the outputs of the puppet data plugin, a subset of the puppet agent's
// status action (no message).
var puppetFields = []string{"applying", "enabled", "daemon_present", "lastrun", "since_lastrun", "status", "disable_message", "idling"}

// Puppet is the puppet data plugin: the Puppet agent's state (applying, enabled,
// daemon_present, lastrun, since_lastrun, status, disable_message, idling) for compound
// filters such as puppet().enabled=true, which mco puppet runall discovers with. It takes no
// query argument. status reports the agent's current state with the fields of the puppet
// agent's status action; package agents/puppet provides it.
func Puppet(status func(ctx context.Context) (map[string]any, error)) *agent.DataPlugin {
	return &agent.DataPlugin{DDL: mustDDL("puppet"), Query: func(ctx context.Context, _ any) (map[string]any, error) {
		st, err := status(ctx)
		if err != nil {
			return nil, fmt.Errorf("puppet data: %w", err)
		}
		out := make(map[string]any, len(puppetFields))
		for _, k := range puppetFields {
			if v, ok := st[k]; ok {
				out[k] = v
			}
		}
		return out, nil
	}}
}
