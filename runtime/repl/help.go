package repl

import "strings"

// Banner is what an interactive session prints first: how to get help and how to leave.
const Banner = `mcorun repl: the playbook builtins on the fleet. Type help() or ? for help, help(rpc) for one builtin.
TAB completes names, agents and actions. A block (def, if, for) ends with two empty lines.
Ctrl-C interrupts the running statement; Ctrl-D leaves.`

// isBareHelp reports whether a line is "help" or "?" alone, which prints the overview.
func isBareHelp(line []byte) bool {
	l := strings.TrimSpace(string(line))
	return l == "help" || l == "?"
}
