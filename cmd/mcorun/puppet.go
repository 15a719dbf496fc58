package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

const puppetUsage = `Usage:
  mcorun puppet [filters] [flags] ACTION [ARGUMENT]

  mcorun puppet status|count|summary|enable
  mcorun puppet disable [MESSAGE]
  mcorun puppet runonce [PUPPET OPTIONS]
  mcorun puppet runall CONCURRENCY [--rerun SECONDS] [--max-failures N] [PUPPET OPTIONS]

Schedules runs, enables, disables and interrogates the Puppet agent through the
puppet agent, with the layouts of mco puppet:

  count    a total count of applying, enabled and disabled nodes
  enable   enable the Puppet agent if it was previously disabled
  disable  disable the Puppet agent, with an optional lock message
  runall   run Puppet on the enabled matching nodes, at most CONCURRENCY at a
           time; a -S filter is and'ed with "puppet().enabled=true". Unlike
           mco, it waits for every run to finish and reports each node's
           outcome from last_run_summary (failed and changed resources, time)
  runonce  start a Puppet run on the matching nodes
  status   a short summary of each Puppet agent's status
  summary  resource and run time summaries of the last runs

Examples:
  mcorun puppet status -F role=web
  mcorun puppet runonce --noop --tags nginx -C web::nginx
  mcorun puppet disable "kernel upgrade in progress" -I web01.dc1.example.net
  mcorun puppet runall 5 --max-failures 2 -S 'environment=production'
  mcorun puppet summary --json | jq .statistics
`

func puppetCommand() *command {
	return &command{name: "puppet", summary: "run, enable, disable and query the Puppet agent", usage: puppetUsage, run: runPuppet}
}

// puppetFlags are the flags of mcorun puppet beyond the common ones.
type puppetFlags struct {
	force, noop, noNoop, splay, noSplay bool
	cachedCatalog, noCachedCatalog      bool
	splaylimit                          int
	tags                                []string
	environment, server, message        string

	rerun        seconds
	maxFailures  int
	runTimeout   seconds
	startTimeout seconds
}

// puppetActions are the actions mcorun puppet takes.
var puppetActions = []string{"count", "disable", "enable", "runall", "runonce", "status", "summary"}

func runPuppet(ctx context.Context, e *env, args []string) int {
	var c commonFlags
	var p puppetFlags
	fs := newFlagSet("puppet", &c)
	base := fs.GetNormalizeFunc()
	fs.SetNormalizeFunc(func(f *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "tag" {
			name = "tags"
		}
		return base(f, name)
	})
	fs.BoolVar(&p.force, "force", false, "bypass splay options when running")
	fs.StringVar(&p.server, "server", "", "connect to a specific server or port (host[:port])")
	fs.StringArrayVar(&p.tags, "tags", nil, "restrict the run to specific tags; repeat or separate with commas (--tag)")
	fs.BoolVar(&p.noop, "noop", false, "do a noop run")
	fs.BoolVar(&p.noNoop, "no-noop", false, "do a run with noop disabled")
	fs.StringVar(&p.environment, "environment", "", "place the node in a specific environment for this run")
	fs.BoolVar(&p.splay, "splay", false, "splay the run by up to splaylimit seconds")
	fs.BoolVar(&p.noSplay, "no-splay", false, "do a run with splay disabled")
	fs.IntVar(&p.splaylimit, "splaylimit", 0, "maximum splay time in seconds for this run if splay is set")
	fs.BoolVar(&p.cachedCatalog, "use_cached_catalog", false, "use the cached catalog for this run")
	fs.BoolVar(&p.noCachedCatalog, "no-use_cached_catalog", false, "do not use the cached catalog for this run")
	fs.StringVar(&p.message, "message", "", "the lock message of disable (also its argument)")
	fs.Var(&p.rerun, "rerun", "runall: repeat the whole rollout forever, with a minimum cycle time of SECONDS")
	fs.IntVar(&p.maxFailures, "max-failures", -1, "runall: start no new runs once more than N runs have failed (-1: never stop)")
	fs.Var(&p.runTimeout, "run-timeout", "runall: seconds a run may take before it is reported as timed out (default 1800)")
	fs.Var(&p.startTimeout, "start-timeout", "runall: seconds a started run may take to show up as applying (default 60)")
	if done, err := parseFlags(e, fs, puppetUsage, args); done {
		return exitOK
	} else if err != nil {
		return usageErr(e, "puppet", err)
	}
	if fs.NArg() == 0 {
		return usageErr(e, "puppet", errors.New("please specify an action: "+strings.Join(puppetActions, ", ")))
	}
	action := fs.Arg(0)
	if !contains(puppetActions, action) {
		return usageErr(e, "puppet", fmt.Errorf("action must be %s, not %q", strings.Join(puppetActions, ", "), action))
	}
	rest := fs.Args()[1:]
	var concurrency int
	switch action {
	case "disable":
		if len(rest) > 0 {
			p.message = strings.Join(rest, " ")
		}
	case "runall":
		if len(rest) == 0 {
			return usageErr(e, "puppet", errors.New("the runall command needs a concurrency limit, e.g. 'mcorun puppet runall 5'"))
		}
		n, err := strconv.Atoi(rest[0])
		if err != nil || n <= 0 {
			return usageErr(e, "puppet", fmt.Errorf("the concurrency for the runall command has to be a number greater than 0, not %q", rest[0]))
		}
		concurrency = n
		if len(rest) > 1 {
			return usageErr(e, "puppet", fmt.Errorf("unexpected arguments %q", rest[1:]))
		}
	default:
		if len(rest) > 0 {
			return usageErr(e, "puppet", fmt.Errorf("unexpected arguments %q", rest))
		}
	}
	runArgs, err := p.runonceArgs(fs)
	if err != nil {
		return usageErr(e, "puppet", err)
	}
	if action == "runall" {
		// runall discovers with the puppet data plugin: the user's -S is and'ed with it.
		if c.selectExpr != "" {
			c.selectExpr = "puppet().enabled=true and (" + c.selectExpr + ")"
		} else {
			c.selectExpr = "puppet().enabled=true"
		}
	}
	c.agents = append(c.agents, "puppet")
	s, code, ok := prepare(e, "puppet", &c)
	if !ok {
		return code
	}
	agentDDL := localDDL(s.cfg, "puppet")
	if agentDDL == nil {
		fmt.Fprintln(e.stderr, "mcorun puppet: no DDL for the puppet agent")
		return exitUsage
	}
	var actionArgs map[string]any
	switch action {
	case "runonce", "runall":
		actionArgs = runArgs
		if action == "runall" {
			actionArgs["force"] = true
		}
	case "disable":
		actionArgs = map[string]any{}
		if p.message != "" {
			actionArgs["message"] = p.message
		}
	}
	if actionArgs != nil {
		checked := maps.Clone(actionArgs)
		agentDDL.SetInputDefaults(ddlAction(action), checked)
		if err := agentDDL.Validate(ddlAction(action), checked); err != nil {
			return usageErr(e, "puppet", fmt.Errorf("invalid request for puppet#%s: %w", ddlAction(action), err))
		}
	}
	fl, closeFn, code, ok := s.connect(ctx)
	if !ok {
		return code
	}
	defer closeFn()
	pc := &puppetCall{s: s, fl: fl, ddl: agentDDL}
	switch action {
	case "runall":
		return pc.runall(ctx, p, concurrency, runArgs)
	case "count":
		return pc.count(ctx)
	case "summary":
		return pc.summary(ctx)
	}
	return pc.simple(ctx, action, actionArgs)
}

// ddlAction maps a command to the agent action it calls.
func ddlAction(cmd string) string {
	switch cmd {
	case "runall":
		return "runonce"
	case "count":
		return "status"
	case "summary":
		return "last_run_summary"
	}
	return cmd
}

// runonceArgs builds the runonce inputs from the Puppet options, checking them as mco does.
func (p *puppetFlags) runonceArgs(fs *pflag.FlagSet) (map[string]any, error) {
	set := func(name string) bool { return fs.Changed(name) }
	if p.force && (set("splay") || set("no-splay")) {
		return nil, errors.New("cannot set splay when forcing runs")
	}
	if p.force && set("splaylimit") {
		return nil, errors.New("cannot set splaylimit when forcing runs")
	}
	args := map[string]any{}
	if set("force") {
		args["force"] = p.force
	}
	if set("server") {
		args["server"] = p.server
	}
	if set("environment") {
		args["environment"] = p.environment
	}
	if set("splaylimit") {
		args["splaylimit"] = p.splaylimit
	}
	if set("noop") {
		args["noop"] = p.noop
	}
	if set("no-noop") {
		args["noop"] = false
	}
	if set("splay") {
		args["splay"] = p.splay
	}
	if set("no-splay") {
		args["splay"] = false
	}
	if set("use_cached_catalog") {
		args["use_cached_catalog"] = p.cachedCatalog
	}
	if set("no-use_cached_catalog") {
		args["use_cached_catalog"] = false
	}
	if len(p.tags) > 0 {
		var tags []string
		for _, t := range p.tags {
			for _, x := range strings.Split(t, ",") {
				if x = strings.TrimSpace(x); x != "" {
					tags = append(tags, x)
				}
			}
		}
		args["tags"] = strings.Join(tags, ",")
	}
	return args, nil
}

// puppetCall is one mcorun puppet invocation on a connected fleet.
type puppetCall struct {
	s   *session
	fl  fleet
	ddl *ddl.Agent
}

// call discovers the matching nodes and calls action on them, as mco's rpcclient does. done
// is false when the command ends here; code is then its exit code.
func (pc *puppetCall) call(ctx context.Context, action string, args map[string]any, progress bool) (cr callResult, code int, done bool) {
	return discoverAndCall(ctx, pc.s, pc.fl, "puppet", action, args, progress)
}

// simple runs status, runonce, enable or disable with mco's layout: status prints each
// node's message, the others print the replies their DDL displays (failures by default).
func (pc *puppetCall) simple(ctx context.Context, action string, args map[string]any) int {
	s, e := pc.s, pc.s.e
	cr, code, done := pc.call(ctx, action, args, true)
	if done {
		return code
	}
	act := pc.ddl.Actions[action]
	var aggs []aggregate
	if action != "runonce" { // mco prints runonce's stats without the summaries
		aggs = computeAggregates(act, cr.replies)
	}
	if s.flags.json {
		if err := writeJSON(e.stdout, rpcJSON("puppet", action, cr.res, aggs, cr.discovery, cr.agentTime)); err != nil {
			return s.fail(err)
		}
		return exitForResults(cr.res)
	}
	if action == "status" {
		fmt.Fprint(e.stdout, formatSingleField(s.color, cr.replies, "message"))
		fmt.Fprintln(e.stdout)
	} else {
		fmt.Fprintf(e.stdout, "\n%s\n", formatReplies(s.color, act, cr.replies, displayMode(act, "")))
	}
	fmt.Fprint(e.stdout, formatStats(s.color, aggs, len(cr.replies), cr.discovered, cr.agentTime, cr.res.Missing, cr.res.Reasons))
	return exitForResults(cr.res)
}

// formatSingleField prints one output of each reply, senders right-aligned, or the status
// message of a failed reply (mco puppet's display_results_single_field).
func formatSingleField(c colorizer, replies []client.Result, field string) string {
	width := 0
	for _, r := range replies {
		width = max(width, len(r.Sender))
	}
	var b strings.Builder
	for _, r := range replies {
		if r.Code == message.OK {
			fmt.Fprintf(&b, "%*s: %s\n", width+3, r.Sender, rubyString(r.Data[field]))
		} else {
			fmt.Fprintf(&b, "%*s: %s\n", width+3, r.Sender, c.red(r.Message))
		}
	}
	return b.String()
}

// puppetCounts are the tallies of mco puppet count.
type puppetCounts struct {
	Total         int      `json:"total"`
	Enabled       int      `json:"enabled"`
	Disabled      int      `json:"disabled"`
	Applying      int      `json:"applying"`
	Stopped       int      `json:"stopped"`
	DaemonRunning int      `json:"daemon_running"`
	DaemonStopped int      `json:"daemon_stopped"`
	Idling        int      `json:"idling"`
	Failed        []string `json:"failed"`
	Missing       []string `json:"missing"`
}

// tallyStatus counts the status replies as mco puppet count does from the DDL aggregates.
func tallyStatus(replies []client.Result) puppetCounts {
	n := puppetCounts{Failed: []string{}, Missing: []string{}}
	for _, r := range replies {
		if r.Code != message.OK {
			n.Failed = append(n.Failed, r.Sender)
			if r.Code != message.Aborted {
				continue
			}
		} else {
			n.Total++
		}
		tally := func(field string, yes, no *int) {
			if b, ok := r.Data[field].(bool); ok {
				if b {
					*yes++
				} else if no != nil {
					*no++
				}
			}
		}
		tally("enabled", &n.Enabled, &n.Disabled)
		tally("applying", &n.Applying, &n.Stopped)
		tally("daemon_present", &n.DaemonRunning, &n.DaemonStopped)
		tally("idling", &n.Idling, nil)
	}
	return n
}

// count calls status and prints mco puppet count's tallies.
func (pc *puppetCall) count(ctx context.Context) int {
	s, e := pc.s, pc.s.e
	cr, code, done := pc.call(ctx, "status", nil, false)
	if done {
		return code
	}
	n := tallyStatus(cr.replies)
	n.Missing = nonNil(cr.res.Missing)
	if s.flags.json {
		if err := writeJSON(e.stdout, n); err != nil {
			return s.fail(err)
		}
		return exitForResults(cr.res)
	}
	writeCounts(e.stdout, s.color, n)
	return exitForResults(cr.res)
}

func writeCounts(w io.Writer, c colorizer, n puppetCounts) {
	fmt.Fprintf(w, "Total Puppet nodes: %d\n\n", n.Total)
	fmt.Fprintf(w, "          Nodes currently enabled: %d\n", n.Enabled)
	fmt.Fprintf(w, "         Nodes currently disabled: %d\n\n", n.Disabled)
	fmt.Fprintf(w, "Nodes currently doing puppet runs: %d\n", n.Applying)
	fmt.Fprintf(w, "          Nodes currently stopped: %d\n\n", n.Stopped)
	fmt.Fprintf(w, "       Nodes with daemons started: %d\n", n.DaemonRunning)
	fmt.Fprintf(w, "    Nodes without daemons started: %d\n", n.DaemonStopped)
	fmt.Fprintf(w, "       Daemons started but idling: %d\n\n", n.Idling)
	if k := len(n.Failed); k > 0 {
		noun := "nodes"
		if k == 1 {
			noun = "node"
		}
		fmt.Fprintln(w, c.red(fmt.Sprintf("Failed to retrieve status of %d %s", k, noun)))
	}
	if len(n.Missing) > 0 {
		fmt.Fprintf(w, "%s\n\n%s\n", c.red("No response from:"), columns(n.Missing))
	}
}
