// Command mcorun is an MCollective 2.12 wire-compatible fleet tool. Its verbs (ping, find,
// inventory, rpc, plugin doc) take mco's flags and print mco's layouts; see mcorun --help.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/discovery"
)

// command is one verb of the command line.
type command struct {
	name    string // the verb, e.g. "ping"
	summary string // one line for mcorun --help
	usage   string // the verb's own help: synopsis, description and examples
	run     func(ctx context.Context, e *env, args []string) int
	hidden  bool // left out of mcorun --help
	// words are the first operand's values, for shell completion (subcommands such as
	// bash|zsh); verbs whose operands come from DDLs complete them in complete.go.
	words []string
}

// commandTable lists every verb mcorun knows. This is the extension point: a new verb (the
// playbook commands run, check, test and repl) is a file with a constructor returning a
// *command, added to this list. A first argument that is not a verb but names a file is
// handed to the "run" command when one is listed.
func commandTable() []*command {
	return []*command{
		pingCommand(),
		findCommand(),
		inventoryCommand(),
		rpcCommand(),
		puppetCommand(),
		serviceCommand(),
		packageCommand(),
		shellCommand(),
		pluginCommand(),
		runCommand(),
		runsCommand(),
		resumeCommand(),
		checkCommand(),
		testCommand(),
		replCommand(),
		keygenCommand(),
		versionCommand(),
		completionCommand(),
		completeCommand(),
	}
}

// env is what a command needs from the process: its streams, environment and how to reach
// the fleet. Tests build their own.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	home   string
	// stdinTTY, stdoutTTY and stderrTTY say whether the streams are terminals (color,
	// progress bar, the interactive REPL).
	stdinTTY  bool
	stdoutTTY bool
	stderrTTY bool
	// width is the terminal's width in columns when stdout is a terminal, else 0: tables
	// are cut to it (unless --wide).
	width int
	// connect opens a client to the fleet the config describes.
	connect connectFunc
	// sandboxConfig, when set, is the client config of a running --sandbox fleet; it
	// replaces every config file.
	sandboxConfig *config.Config
	// runallPoll is the time between puppet runall's status polls; zero means
	// defaultRunallPoll.
	runallPoll time.Duration
	// tailPoll is the time between shell run --tail's status polls; zero means
	// defaultTailPoll.
	tailPoll time.Duration
	// clock is the time source of the waits a verb makes itself (shell --tail's polls, the
	// confirmation prompt); nil means clock.Real{}.
	clock clock.Clock
}

func main() {
	home, _ := os.UserHomeDir()
	e := &env{
		stdin:      os.Stdin,
		stdout:     os.Stdout,
		stderr:     os.Stderr,
		getenv:     os.Getenv,
		home:       home,
		stdinTTY:   term.IsTerminal(int(os.Stdin.Fd())),
		stdoutTTY:  term.IsTerminal(int(os.Stdout.Fd())),
		stderrTTY:  term.IsTerminal(int(os.Stderr.Fd())),
		connect:    connectBroker(defaultDialTimeout, discovery.DefaultCacheDir(os.Getenv("XDG_CACHE_HOME"), home)),
		runallPoll: defaultRunallPoll,
	}
	if e.stdoutTTY {
		e.width = terminalWidth(int(os.Stdout.Fd()), os.Getenv("COLUMNS"))
	}
	signals := []os.Signal{syscall.SIGINT, syscall.SIGTERM}
	if len(os.Args) > 1 && os.Args[len(os.Args)-1] == "repl" || slices.Contains(os.Args, "repl") {
		// In the REPL, Ctrl-C cancels the running statement, not the session.
		signals = []os.Signal{syscall.SIGTERM}
	}
	ctx, stop := signal.NotifyContext(context.Background(), signals...)
	code := interruptedExit(ctx, run(ctx, e, os.Args[1:]), e.stderr)
	stop()
	os.Exit(code)
}

// terminalWidth is the width of the terminal fd, else $COLUMNS, else 0 (no limit).
func terminalWidth(fd int, columns string) int {
	if w, _, err := term.GetSize(fd); err == nil && w > 0 {
		return w
	}
	if n, err := strconv.Atoi(columns); err == nil && n > 0 {
		return n
	}
	return 0
}

// run dispatches args to a verb and returns the exit code.
func run(ctx context.Context, e *env, args []string) int {
	g, args, err := extractGlobal(args)
	if err != nil {
		fmt.Fprintf(e.stderr, "mcorun: %v\nRun 'mcorun --help' for usage.\n", err)
		return exitUsage
	}
	if len(args) > 0 && args[0] == "--version" {
		args[0] = "version"
	}
	if g.sandbox > 0 && len(args) > 0 && !isHelp(args) && args[0] != "version" {
		sb, cfg, err := startSandbox(ctx, g, e.stderr, slices.Contains(args, "-v") || slices.Contains(args, "--verbose"))
		if fe := (fleetError{}); errors.As(err, &fe) {
			fmt.Fprintf(e.stderr, "mcorun: %v\n", err)
			return exitUsage
		} else if err != nil {
			fmt.Fprintf(e.stderr, "mcorun: %v\n", err)
			return exitFailure
		}
		defer sb.Close()
		e.sandboxConfig = cfg
	}
	cmds := commandTable()
	if len(args) == 0 {
		fmt.Fprint(e.stderr, topUsage(cmds))
		return exitUsage
	}
	verb := args[0]
	switch verb {
	case "-h", "--help", "help":
		if len(args) > 1 && verb == "help" {
			if c := lookup(cmds, args[1]); c != nil {
				fmt.Fprint(e.stdout, c.usage)
				return exitOK
			}
		}
		fmt.Fprint(e.stdout, topUsage(cmds))
		return exitOK
	}
	if c := lookup(cmds, verb); c != nil {
		return c.run(ctx, e, args[1:])
	}
	if looksLikePlaybook(verb) {
		if c := lookup(cmds, "run"); c != nil {
			return c.run(ctx, e, args)
		}
		fmt.Fprintf(e.stderr, "mcorun: %s: playbooks are not supported yet\n", verb)
		return exitUsage
	}
	fmt.Fprintf(e.stderr, "mcorun: unknown command %q\nRun 'mcorun --help' for the list of commands.\n", verb)
	return exitUsage
}

// isHelp reports whether the command line only asks for help.
func isHelp(args []string) bool {
	return slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "--help" || a == "help" })
}

func lookup(cmds []*command, name string) *command {
	for _, c := range cmds {
		if c.name == name {
			return c
		}
	}
	return nil
}

// looksLikePlaybook reports whether a first argument names a playbook file rather than a verb.
func looksLikePlaybook(arg string) bool {
	if strings.HasSuffix(arg, ".star") {
		return true
	}
	if strings.ContainsRune(arg, '/') {
		_, err := os.Stat(arg)
		return err == nil
	}
	return false
}

func topUsage(cmds []*command) string {
	var b strings.Builder
	b.WriteString(`mcorun: an MCollective 2.12 compatible fleet tool.

Usage:
  mcorun COMMAND [flags] [arguments]

Commands:
`)
	sorted := append([]*command(nil), cmds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		if !c.hidden {
			fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
		}
	}
	b.WriteString(`
Run 'mcorun COMMAND --help' for a command's flags and examples.

Global flags, accepted anywhere on the command line:
  --sandbox N    run against an in-process broker and N simulated nodes that
                 run the real agents; no broker or config is needed. Their
                 shell agent runs real commands on this machine
  --fleet FILE   the sandbox's facts, classes, services and packages (default:
                 a built-in copy of testdata/fleet.yaml, 20 nodes)

Writing playbooks, every builtin with an example that runs on --sandbox 20:
docs/playbooks.md. Testing them with 'mcorun test': docs/testing.md.
The agents a node serves (rpcutil, puppet, service, package, nettest, shell),
their settings and providers: docs/agents.md.

The configuration is read from --config, else ~/.mcollective, else
/etc/mcollective/client.cfg. MCOLLECTIVE_PSK, STOMP_USER and STOMP_PASSWORD
override the file as they do for mco.

`)
	b.WriteString(exitHelp)
	return b.String()
}
