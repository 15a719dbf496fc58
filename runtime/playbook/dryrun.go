package playbook

import "slices"

// DefaultReadOnly returns the actions that a dry run still sends, by agent; "*" stands for
// every action of the agent. MCollective's DDLs do not say whether an action changes state,
// so this list does: rpcutil, discovery and nettest only report, and so do puppet's status
// and last_run_summary, service status, package's queries and shell's status and list.
// Every action not listed changes state (or, like shell run, may) and is not sent in a dry
// run.
func DefaultReadOnly() map[string][]string {
	return map[string][]string{
		"rpcutil":   {"*"},
		"discovery": {"*"},
		"nettest":   {"*"},
		"puppet":    {"status", "last_run_summary"},
		"service":   {"status"},
		"package":   {"status", "count", "md5", "search", "checkupdates", "apt_checkupdates", "yum_checkupdates"},
		"shell":     {"status", "list"},
	}
}

// changesState returns the dry-run policy of starlib.SetDryRun for a read-only list: true
// (do not send) for every action not listed.
func changesState(readOnly map[string][]string) func(agent, action string) bool {
	return func(agent, action string) bool {
		acts := readOnly[agent]
		return !slices.Contains(acts, "*") && !slices.Contains(acts, action)
	}
}
