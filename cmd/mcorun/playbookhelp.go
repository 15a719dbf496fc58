package main

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"slices"

	"github.com/mcorun/mcorun/runtime/playbook"
)

// playbookHelp prints, for 'mcorun PLAYBOOK.star --help', the playbook's own help (its
// header comment and params) before the run usage that the flag parser prints next. It
// returns false, having printed a usage error, when the playbook cannot be read or parsed.
func playbookHelp(e *env, args []string) (code int, ok bool) {
	if !slices.Contains(args, "-h") && !slices.Contains(args, "--help") {
		return 0, true
	}
	i := slices.IndexFunc(args, looksLikePlaybook)
	if i < 0 {
		return 0, true
	}
	file := args[i]
	src, err := os.ReadFile(file)
	if errors.Is(err, iofs.ErrNotExist) {
		return usageErr(e, "run", fmt.Errorf("playbook %s: no such file", file)), false
	} else if err != nil {
		return usageErr(e, "run", fmt.Errorf("playbook %s: %w", file, err)), false
	}
	text, err := playbook.Describe(file, src)
	if err != nil {
		return usageErr(e, "run", err), false
	}
	fmt.Fprintf(e.stdout, "%s\n\n", text)
	return 0, true
}
