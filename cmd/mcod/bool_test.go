package main

import (
	"log/slog"
	"strings"
	"testing"
)

// TestAuthzBooleansRefuseTypos checks that the actionpolicy switches read like every other
// boolean setting: a value that is not 1/0, y/n, yes/no or true/false stops mcod with an
// error naming the key, so that "deny" can never open access.
func TestAuthzBooleansRefuseTypos(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	base := "rpcauthorization = 1\nrpcauthprovider = action_policy\nplugin.actionpolicy.policy_dir = " + t.TempDir() + "\n"
	for _, key := range []string{"actionpolicy.allow_unconfigured", "actionpolicy.enable_default"} {
		for _, bad := range []string{"deny", "yikes", "on", "t", "enabled", "1x"} {
			_, _, err := authAndAudit(parseCfg(t, base+"plugin."+key+" = "+bad+"\n"), nil, log)
			if err == nil || !strings.Contains(err.Error(), key) {
				t.Errorf("plugin.%s = %s: err %v, want a refusal naming the key", key, bad, err)
			}
		}
		for _, good := range []string{"1", "0", "y", "N", "Yes", "no", "TRUE", "false"} {
			if _, _, err := authAndAudit(parseCfg(t, base+"plugin."+key+" = "+good+"\n"), nil, log); err != nil {
				t.Errorf("plugin.%s = %s: %v", key, good, err)
			}
		}
	}
}
