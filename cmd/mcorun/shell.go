package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

const shellUsage = `Usage:
  mcorun shell [filters] [flags] run [--tail] COMMAND...
  mcorun shell [filters] [flags] start COMMAND...
  mcorun shell [filters] [flags] status HANDLE
  mcorun shell [filters] [flags] watch HANDLE...
  mcorun shell [filters] [flags] list
  mcorun shell [filters] [flags] kill HANDLE

Runs shell commands on the nodes through the shell agent, with the layouts of
mco shell. The words of COMMAND are joined with spaces and run by each node's
/bin/sh; quote them so that your own shell leaves them alone.

  run     run COMMAND and wait for it; print each node's stdout, then its
          stderr under "STDERR:" when there is any, and its exit code when
          it is not 0. With --tail, start COMMAND and print its output as it
          comes, each line prefixed by "NODE stdout: " or "NODE stderr: ",
          until it ends on every node; Ctrl-C kills the jobs and exits 130
  start   start COMMAND in the background; print each node's job handle
  status  print the status and output so far of the job HANDLE, on the nodes
          that have it
  watch   follow the output of the jobs HANDLE... until they end, as --tail
          does, without killing them on Ctrl-C
  list    list each node's jobs (-v adds their command and status)
  kill    kill the job HANDLE on the nodes that have it

run, start and kill without a filter act on every node: they ask first on a
terminal, and without one they refuse unless --yes is given. A node whose
command exits non-zero counts as failed in the exit code.

Examples:
  mcorun shell run -I web01.dc1.example.net 'uptime'
  mcorun shell run -C web::nginx 'nginx -t'
  mcorun shell run --tail -F role=app 'tail -n 20 /var/log/syslog'
  mcorun shell start -F role=db 'pg_dump app > /tmp/app.sql'
  mcorun shell list -v -F role=db
  mcorun shell run --yes 'df -h /' --json | jq '.replies[] | {sender, stdout: .data.stdout}'
`

// shellActions are the actions of mcorun shell.
var shellActions = []string{"run", "start", "status", "watch", "list", "kill"}

func shellCommand() *command {
	return &command{name: "shell", summary: "run shell commands on the nodes", usage: shellUsage, run: runShell}
}

// shellFlags are the flags of mcorun shell beyond the common ones.
type shellFlags struct {
	yes  bool
	tail bool
}

func runShell(ctx context.Context, e *env, args []string) int {
	var c commonFlags
	var f shellFlags
	fs := newFlagSet("shell", &c)
	fs.BoolVarP(&f.yes, "yes", "y", false, "assume yes on any prompt (acting on every node unfiltered)")
	fs.BoolVar(&f.tail, "tail", false, "run: print the output as it comes, until the command ends")
	// The command's own words ("ls -l") are operands, not flags of mcorun.
	fs.SetInterspersed(false)
	if done, err := parseFlags(e, fs, shellUsage, args); done {
		return exitOK
	} else if err != nil {
		return usageErr(e, "shell", err)
	}
	if fs.NArg() == 0 {
		return usageErr(e, "shell", fmt.Errorf("please specify an action: %s", strings.Join(shellActions, ", ")))
	}
	action, ops := fs.Arg(0), fs.Args()[1:]
	if !slices.Contains(shellActions, action) {
		return usageErr(e, "shell", fmt.Errorf("action has to be one of %s, not %q", strings.Join(shellActions, ", "), action))
	}
	// Flags may follow the action too: mcorun shell run --tail -I web01 'uptime'. Only a
	// command's words stop the flags; a handle may come before them.
	fs.SetInterspersed(action != "run" && action != "start")
	if done, err := parseFlags(e, fs, shellUsage, ops); done {
		return exitOK
	} else if err != nil {
		return usageErr(e, "shell", err)
	}
	ops = fs.Args()
	if f.tail && action != "run" {
		return usageErr(e, "shell", errors.New("--tail is for run only; use watch to follow started jobs"))
	}
	var reqArgs map[string]any
	switch action {
	case "run", "start":
		if len(ops) == 0 {
			return usageErr(e, "shell", fmt.Errorf("%s needs a command, e.g. 'mcorun shell %s uptime'", action, action))
		}
		reqArgs = map[string]any{"command": strings.Join(ops, " ")}
	case "status", "kill":
		if len(ops) != 1 {
			return usageErr(e, "shell", fmt.Errorf("%s needs one job handle, as 'mcorun shell start' or 'mcorun shell list' prints it", action))
		}
		reqArgs = map[string]any{"handle": ops[0]}
	case "watch":
		if len(ops) == 0 {
			return usageErr(e, "shell", errors.New("watch needs the handles of the jobs to follow, as 'mcorun shell list' prints them"))
		}
		for _, h := range ops {
			if !handleRE.MatchString(h) {
				return usageErr(e, "shell", fmt.Errorf("%q is not a job handle: handles are lowercase letters, digits and dashes", h))
			}
		}
	case "list":
		if len(ops) > 0 {
			return usageErr(e, "shell", fmt.Errorf("unexpected arguments %q: list takes none", ops))
		}
	}
	ddlAction := action
	if f.tail {
		ddlAction = "start"
	} else if action == "watch" {
		ddlAction = "list"
	}
	req := actRequest{agent: "shell", action: ddlAction, args: reqArgs,
		changes: action == "run" || action == "start" || action == "kill", noun: "nodes with shell commands"}
	s, fl, act, closeFn, code, ok := actStart(ctx, e, "shell", &c, f.yes, req)
	if !ok {
		return code
	}
	defer closeFn()
	sc := &shellCall{s: s, fl: fl, act: act}
	switch {
	case f.tail:
		return sc.tail(ctx, reqArgs["command"].(string))
	case action == "watch":
		return sc.watch(ctx, ops)
	case action == "status", action == "kill":
		return sc.onOwners(ctx, action, ops[0])
	}
	cr, code, done := discoverAndCall(ctx, s, fl, "shell", action, reqArgs, true)
	if done {
		return code
	}
	if !c.json {
		switch action {
		case "run":
			fmt.Fprint(e.stdout, shellRunText(cr.replies))
		case "start":
			fmt.Fprint(e.stdout, shellStartText(cr.replies))
		case "list":
			fmt.Fprint(e.stdout, shellListText(cr.replies, c.verbose))
		}
	}
	code = finishCall(s, "shell", action, act, cr)
	if action == "run" && code != exitFailure {
		// A command that exited non-zero counts as a failed node.
		failed := len(cr.res.Failed) + len(nonZeroExits(cr.replies))
		return exitForCounts(cr.discovered, failed, len(cr.res.Missing))
	}
	return code
}

// shellCall is one mcorun shell invocation on a connected fleet.
type shellCall struct {
	s   *session
	fl  fleet
	act *ddl.Action // the DDL of the action the verb calls first
}

// nonZeroExits are the senders of the successful replies whose command exited non-zero.
func nonZeroExits(replies []client.Result) []string {
	var out []string
	for _, r := range replies {
		if r.Code == message.OK && exitCode(r.Data["exitcode"]) != 0 {
			out = append(out, r.Sender)
		}
	}
	return out
}

// exitCode reads an exitcode output; a missing one is 0.
func exitCode(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int:
		return int64(x)
	case float64:
		return int64(x)
	}
	return 0
}

// putsText is Ruby's puts of a string: the string and a newline unless it ends with one.
func putsText(s string) string {
	if strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

// shellRunText is mco shell run's layout: per node its name, stdout, an indented STDERR:
// block when stderr is not empty, and the exit code when it is not 0.
func shellRunText(replies []client.Result) string {
	var b strings.Builder
	for _, r := range replies {
		if r.Code != message.OK {
			fmt.Fprintf(&b, "%s: ERROR: %s\n", r.Sender, r.Message)
			continue
		}
		fmt.Fprintf(&b, "%s:\n", r.Sender)
		b.WriteString(putsText(rubyString(r.Data["stdout"])))
		if stderr := rubyString(r.Data["stderr"]); stderr != "" {
			b.WriteString("    STDERR:\n")
			b.WriteString(putsText(stderr))
		}
		if code := exitCode(r.Data["exitcode"]); code != 0 {
			fmt.Fprintf(&b, "exitcode: %d\n", code)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// shellStartText is mco shell start's layout: each node's job handle.
func shellStartText(replies []client.Result) string {
	var b strings.Builder
	for _, r := range replies {
		if r.Code != message.OK {
			fmt.Fprintf(&b, "%s: ERROR: %s\n", r.Sender, r.Message)
			continue
		}
		fmt.Fprintf(&b, "%s: %s\n", r.Sender, rubyString(r.Data["handle"]))
	}
	return b.String()
}

// jobsOf reads a list reply's jobs: handle to its fields.
func jobsOf(r client.Result) map[string]map[string]any {
	out := map[string]map[string]any{}
	jobs, _ := r.Data["jobs"].(map[string]any)
	for h, j := range jobs {
		m, _ := j.(map[string]any)
		out[h] = m
	}
	return out
}

// shellListText is mco shell list's layout: the nodes with jobs, each job's handle, and
// with verbose its command and status.
func shellListText(replies []client.Result, verbose bool) string {
	var b strings.Builder
	for _, r := range replies {
		if r.Code != message.OK {
			fmt.Fprintf(&b, "%s: ERROR: %s\n", r.Sender, r.Message)
			continue
		}
		jobs := jobsOf(r)
		if len(jobs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s:\n", r.Sender)
		handles := make([]string, 0, len(jobs))
		for h := range jobs {
			handles = append(handles, h)
		}
		sort.Strings(handles)
		for _, h := range handles {
			fmt.Fprintf(&b, "    %s\n", h)
			if verbose {
				fmt.Fprintf(&b, "        command: %s\n", rubyString(jobs[h]["command"]))
				fmt.Fprintf(&b, "        status:  %s\n\n", rubyString(jobs[h]["status"]))
			}
		}
	}
	return b.String()
}
