package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/listing"
	"github.com/mcorun/mcorun/runtime/playbook"
)

const completionUsage = `Usage:
  mcorun completion bash|zsh

Prints a script that completes mcorun's commands, flags, agents, actions and
their inputs in bash or zsh. Agents and actions come from the DDLs mcorun knows:
the built-in ones and those in the config's libdirs.

Examples:
  source <(mcorun completion bash)              # this shell; or, for every one:
  mcorun completion bash > /etc/bash_completion.d/mcorun
  mcorun completion zsh > "${fpath[1]}/_mcorun"  # then restart zsh (compinit)
`

//go:embed completion.bash
var bashCompletion string

//go:embed completion.zsh
var zshCompletion string

func completionCommand() *command {
	return &command{name: "completion", summary: "completion bash|zsh: print a shell completion script", usage: completionUsage, run: runCompletion,
		words: []string{"bash", "zsh"}}
}

func runCompletion(_ context.Context, e *env, args []string) int {
	if isHelp(args) {
		fmt.Fprint(e.stdout, completionUsage)
		return exitOK
	}
	if len(args) != 1 {
		return usageErr(e, "completion", fmt.Errorf("want bash or zsh"))
	}
	switch args[0] {
	case "bash":
		fmt.Fprint(e.stdout, bashCompletion)
	case "zsh":
		fmt.Fprint(e.stdout, zshCompletion)
	default:
		return usageErr(e, "completion", fmt.Errorf("no completion for %q: want bash or zsh", args[0]))
	}
	return exitOK
}

// completeCommand is what the completion scripts call: mcorun __complete CUR LINE, with
// LINE the command line up to the cursor and CUR the part of its last word the shell
// replaces (bash splits words at '=' and ':'). It prints a mode line, then one candidate
// a line:
//
//	:plain    candidates, each followed by a space
//	:nospace  candidates the user goes on typing (key=, --flag=)
//	:files    no candidates: complete file names
func completeCommand() *command {
	return &command{name: "__complete", summary: "complete a command line (for the completion scripts)", hidden: true,
		usage: "Usage:\n  mcorun __complete CUR LINE\n", run: runComplete}
}

func runComplete(ctx context.Context, e *env, args []string) int {
	if len(args) != 2 {
		return exitUsage
	}
	cur, line := args[0], args[1]
	words := splitWords(line)
	mode, cands := complete(ctx, e, words)
	// The shell replaces only CUR: drop what comes before it in the word.
	prefix := strings.TrimSuffix(words[len(words)-1], cur)
	var b strings.Builder
	b.WriteString(mode + "\n")
	for _, c := range cands {
		if strings.HasPrefix(c, prefix) {
			b.WriteString(strings.TrimPrefix(c, prefix) + "\n")
		}
	}
	fmt.Fprint(e.stdout, b.String())
	return exitOK
}

// The modes of __complete's first line.
const (
	modePlain   = ":plain"
	modeNoSpace = ":nospace"
	modeFiles   = ":files"
)

// splitWords splits a command line as the shell would, enough to complete it: words at
// unquoted blanks, quotes and backslashes removed. The last word is the one being
// completed ("" after a blank). The first word (mcorun) is dropped.
func splitWords(line string) []string {
	var words []string
	var w strings.Builder
	inWord := false
	quote := rune(0)
	escaped := false
	for _, r := range line {
		switch {
		case escaped:
			w.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				w.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	words = append(words, w.String())
	if len(words) > 1 {
		words = words[1:]
	}
	return words
}

// flagSpec is one flag of a verb, as its --help lists it.
type flagSpec struct {
	long, short string
	takesValue  bool
}

var flagLineRE = regexp.MustCompile(`^\s+(?:-(\w), )?--([\w-]+)(?: (\S+))?`)

// verbFlags returns the flags of a verb, read from the flag list its --help prints: the
// verb's own flag set is the one source.
func verbFlags(ctx context.Context, c *command) []flagSpec {
	var out bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: io.Discard, getenv: func(string) string { return "" }}
	c.run(ctx, e, []string{"--help"})
	_, list, ok := strings.Cut(out.String(), "\nFlags:\n")
	if !ok {
		return []flagSpec{{long: "help", short: "h"}}
	}
	specs := []flagSpec{{long: "help", short: "h"}}
	for _, line := range strings.Split(list, "\n") {
		m := flagLineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		specs = append(specs, flagSpec{long: m[2], short: m[1], takesValue: m[3] != "" && !strings.HasPrefix(m[3], "[=")})
	}
	return specs
}

// globalFlagSpecs are the flags accepted anywhere (extractGlobal).
func globalFlagSpecs() []flagSpec {
	return []flagSpec{{long: "sandbox", takesValue: true}, {long: "fleet", takesValue: true}}
}

// complete returns the mode and the candidates for the last of words.
func complete(ctx context.Context, e *env, words []string) (string, []string) {
	cur := words[len(words)-1]
	cmds := commandTable()
	globalFlags := globalFlagSpecs()
	if len(words) > 1 {
		if g := findFlag(globalFlags, words[len(words)-2]); g != nil && !strings.Contains(words[len(words)-2], "=") {
			return modeFiles, nil // --fleet FILE; --sandbox N takes any number
		}
	}
	// Skip the global flags and their values wherever they are.
	var rest []string
	for i := 0; i < len(words)-1; i++ {
		if g := findFlag(globalFlags, words[i]); g != nil && !strings.Contains(words[i], "=") {
			i++
			continue
		}
		rest = append(rest, words[i])
	}
	if len(rest) == 0 {
		if strings.HasPrefix(cur, "-") {
			return modePlain, matching(cur, []string{"--help", "--version", "--sandbox", "--fleet"})
		}
		var names []string
		for _, c := range cmds {
			if !c.hidden {
				names = append(names, c.name)
			}
		}
		if cands := matching(cur, names); len(cands) > 0 || cur == "" {
			return modePlain, cands
		}
		return modeFiles, nil // a playbook: mcorun PLAYBOOK.star
	}
	if rest[0] == "help" {
		var names []string
		for _, c := range cmds {
			if !c.hidden && len(rest) == 1 {
				names = append(names, c.name)
			}
		}
		return modePlain, matching(cur, names)
	}
	c := lookup(cmds, rest[0])
	if c == nil {
		if looksLikePlaybook(rest[0]) {
			c = lookup(cmds, "run")
		} else {
			return modePlain, nil
		}
	}
	flags := verbFlags(ctx, c)
	// The operands so far, and the flag whose value is being typed.
	var operands []string
	configFile := ""
	args := rest[1:]
	if c.name == "run" && rest[0] != "run" {
		args = rest
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			operands = append(operands, args[i+1:]...)
			break
		}
		if f := findFlag(flags, a); f != nil {
			if v, ok := strings.CutPrefix(a, "--config="); ok {
				configFile = v
			}
			if f.takesValue && !strings.Contains(a, "=") {
				if i+1 < len(args) && f.long == "config" {
					configFile = args[i+1]
				}
				i++
			}
			continue
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			operands = append(operands, a)
		}
	}
	if len(args) > 0 {
		if f := findFlag(flags, args[len(args)-1]); f != nil && f.takesValue && !strings.Contains(args[len(args)-1], "=") {
			if f.long == "arg" && len(operands) > 0 {
				return modeNoSpace, matching(cur, playbookArgs(operands[0]))
			}
			return flagValues(e, configFile, f, cur)
		}
	}
	if name, value, ok := strings.Cut(cur, "="); ok && strings.HasPrefix(cur, "--") {
		if f := findFlag(flags, name); f != nil && f.takesValue {
			mode, vals := flagValues(e, configFile, f, value)
			for i, v := range vals {
				vals[i] = name + "=" + v
			}
			return mode, vals
		}
	}
	if strings.HasPrefix(cur, "-") {
		var names []string
		for _, f := range flags {
			names = append(names, "--"+f.long)
			if f.short != "" && len(cur) <= 2 && !strings.HasPrefix(cur, "--") {
				names = append(names, "-"+f.short)
			}
		}
		return modePlain, matching(cur, names)
	}
	return operandValues(e, configFile, c, operands, cur)
}

func findFlag(flags []flagSpec, word string) *flagSpec {
	name, _, _ := strings.Cut(word, "=")
	for i, f := range flags {
		if name == "--"+f.long || (f.short != "" && name == "-"+f.short) {
			return &flags[i]
		}
		if n, ok := flagAliases[strings.TrimPrefix(name, "--")]; ok && strings.HasPrefix(name, "--") && n == f.long {
			return &flags[i]
		}
	}
	return nil
}

// flagValues completes the value of flag f.
func flagValues(e *env, configFile string, f *flagSpec, cur string) (string, []string) {
	switch f.long {
	case "format":
		var names []string
		for _, x := range listing.Formats() {
			names = append(names, string(x))
		}
		return modePlain, matching(cur, names)
	case "display":
		return modePlain, matching(cur, []string{"ok", "failed", "all"})
	case "wa":
		agents, _ := knownDDLs(e, configFile)
		return modePlain, matching(cur, sortedKeys(agents))
	case "type":
		return modePlain, matching(cur, []string{"ed25519", "rsa"})
	case "config", "nodes", "report", "lock", "fleet":
		return modeFiles, nil
	}
	return modePlain, nil
}

// playbookArgs are "NAME=" for each --arg a playbook's params() declares.
func playbookArgs(file string) []string {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	names, _ := playbook.ParamNames(file, src)
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n + "="
	}
	return out
}

// knownDDLs are the agent and data plugin DDLs of the config (built-in ones without one).
func knownDDLs(e *env, configFile string) (map[string]*ddl.Agent, map[string]*ddl.Data) {
	cfg, err := docConfig(e, &commonFlags{configFile: configFile})
	if err != nil {
		return map[string]*ddl.Agent{}, map[string]*ddl.Data{}
	}
	return knownAgents(cfg), knownData(cfg)
}

// operandValues completes the next operand of command c after operands.
func operandValues(e *env, configFile string, c *command, operands []string, cur string) (string, []string) {
	n := len(operands)
	switch c.name {
	case "rpc":
		agents, _ := knownDDLs(e, configFile)
		switch n {
		case 0:
			return modePlain, matching(cur, sortedKeys(agents))
		case 1:
			if a := agents[operands[0]]; a != nil {
				return modePlain, matching(cur, sortedKeys(a.Actions))
			}
			return modePlain, nil
		}
		a := agents[operands[0]]
		if a == nil || a.Actions[operands[1]] == nil {
			return modePlain, nil
		}
		var inputs []string
		for _, k := range sortedKeys(a.Actions[operands[1]].Input) {
			if !slices.ContainsFunc(operands[2:], func(o string) bool { return strings.HasPrefix(o, k+"=") }) {
				inputs = append(inputs, k+"=")
			}
		}
		if _, _, typing := strings.Cut(cur, "="); typing {
			return modePlain, nil
		}
		return modeNoSpace, matching(cur, inputs)
	case "plugin":
		switch n {
		case 0:
			return modePlain, matching(cur, []string{"doc", "ddl"})
		case 1:
			agents, data := knownDDLs(e, configFile)
			names := sortedKeys(agents)
			if operands[0] == "doc" {
				names = append(names, sortedKeys(data)...)
				sort.Strings(names)
			}
			return modePlain, matching(cur, names)
		}
	case "service":
		if n == 1 {
			return modePlain, matching(cur, serviceActions)
		}
	case "package":
		switch {
		case n == 0:
			return modePlain, matching(cur, packageGlobal)
		case n == 1 && !slices.Contains(packageGlobal, operands[0]):
			return modePlain, matching(cur, packageNamed)
		}
	case "puppet":
		if n == 0 {
			return modePlain, matching(cur, puppetActions)
		}
	case "shell":
		if n == 0 {
			return modePlain, matching(cur, shellActions)
		}
	case "run", "check", "test":
		return modeFiles, nil
	}
	if n == 0 && len(c.words) > 0 {
		return modePlain, matching(cur, c.words)
	}
	return modePlain, nil
}

// matching returns the candidates that begin with prefix, sorted and without repeats.
func matching(prefix string, cands []string) []string {
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, prefix) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}
