package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/listing"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/plural"
)

// Outcomes of one node in a rollout.
const (
	outcomeOK         = "ok"            // the run finished with no failed resources
	outcomeFailed     = "failed"        // the run finished with failed resources or events
	outcomeRefused    = "not started"   // runonce failed or went unanswered
	outcomeNoStart    = "never ran"     // runonce succeeded but no run showed up in time
	outcomeTimeout    = "timed out"     // the run did not finish within the run timeout
	outcomeNoResponse = "no response"   // the node stopped answering status
	outcomeNoSummary  = "no summary"    // the run finished but last_run_summary failed
	outcomeSkipped    = "skipped"       // never started: the rollout stopped on failures
	outcomeCancelled  = "interrupted"   // the command was interrupted while the run was tracked
	outcomeRunning    = "still running" // only in an interrupted report
)

// defaultRunallPoll is the time between status polls of runall, mco's one second.
const defaultRunallPoll = time.Second

// A status poll of the nodes that answer waits at most minRound (or two poll intervals, if
// longer): status answers in milliseconds, so a node silent that long has missed the poll.
// From then on it is polled on its own schedule, with the call's full timeout, so a dead
// node never holds up the polls of the others. Once nothing else is running, a node silent
// for lagGrace is given up as not answering, rather than after maxMissed full
// timeouts in a row.
const (
	minRound = 2 * time.Second
	lagGrace = 10 * time.Second
)

// runallConfig are the settings of one rollout.
type runallConfig struct {
	concurrency  int            // the window: at most this many runs at once
	maxFailures  int            // start no new runs once more than this many failed; <0 never
	runArgs      map[string]any // runonce inputs; force is set
	poll         time.Duration  // between status polls; mco's 1s
	runTimeout   time.Duration  // a run taking longer is reported as timed out
	startTimeout time.Duration  // a run not seen within this is reported as never ran
	maxMissed    int            // consecutive unanswered status polls before giving up on a node
	call         client.CallOptions
	log          func(format string, args ...any)
}

// nodeRun is one node's run in a rollout.
type nodeRun struct {
	Node        string  `json:"node"`
	Outcome     string  `json:"outcome"`
	Message     string  `json:"message,omitempty"`
	Failed      int     `json:"failed_resources"`
	Changed     int     `json:"changed_resources"`
	Total       int     `json:"total_resources"`
	RunTime     float64 `json:"run_time"`  // total_time of last_run_summary, seconds
	WallTime    float64 `json:"wall_time"` // from runonce to seeing the run finished, seconds
	InitiatedAt int64   `json:"initiated_at,omitempty"`
	LastRun     int64   `json:"lastrun,omitempty"`

	prevLastRun  int64 // lastrun before this run
	seenApplying bool
	missed       int       // status polls unanswered in a row
	silentSince  time.Time // when the first of those polls was sent
	started      time.Time
}

// failure reports whether the outcome counts against --max-failures.
func (r *nodeRun) failure() bool {
	switch r.Outcome {
	case outcomeOK, outcomeSkipped, outcomeRunning, outcomeCancelled:
		return false
	}
	return true
}

// rollout is the result of one runall cycle.
type rollout struct {
	Concurrency   int        `json:"concurrency"`
	MaxFailures   int        `json:"max_failures"`
	Nodes         []*nodeRun `json:"nodes"`
	Stopped       bool       `json:"stopped"` // new runs stopped after too many failures
	MaxConcurrent int        `json:"max_concurrent"`
	ElapsedS      float64    `json:"elapsed_s"`
}

// puppetRunner drives a rollout through a fleet.
type puppetRunner struct {
	fl  fleet
	cfg runallConfig
	clk clock.Clock // the time of the polls and the run and start timeouts
}

// clock is the runner's clock, the real one unless set.
func (rn *puppetRunner) clock() clock.Clock {
	if rn.clk == nil {
		return clock.Real{}
	}
	return rn.clk
}

// rollout runs Puppet once on each host with a sliding window of cfg.concurrency runs,
// waiting for every run it started to finish.
func (rn *puppetRunner) rollout(ctx context.Context, hosts []string) *rollout {
	cfg := rn.cfg
	clk := rn.clock()
	start := clk.Now()
	ro := &rollout{Concurrency: cfg.concurrency, MaxFailures: cfg.maxFailures}
	runs := map[string]*nodeRun{}
	for _, h := range hosts {
		r := &nodeRun{Node: h}
		runs[h] = r
		ro.Nodes = append(ro.Nodes, r)
	}
	sort.Slice(ro.Nodes, func(i, j int) bool { return ro.Nodes[i].Node < ro.Nodes[j].Node })
	queue := make([]string, 0, len(hosts))
	for _, r := range ro.Nodes {
		queue = append(queue, r.Node)
	}
	// The nodes already applying a catalog take a slot until they finish, as with mco.
	busy := map[string]bool{}
	for _, res := range rn.status(ctx, queue, 0) {
		if res.Code != message.OK {
			continue
		}
		r := runs[res.Sender]
		if r == nil {
			continue
		}
		r.prevLastRun = intOf(res.Data["lastrun"])
		if res.Data["applying"] == true {
			busy[r.Node] = true
			cfg.log("%s is already applying a catalog; it is run once that finishes", r.Node)
		}
	}
	running := map[string]*nodeRun{}
	failures := 0
	lag := &lagPoll{}
	defer lag.stop()
	for ctx.Err() == nil {
		for len(running)+len(busy) < cfg.concurrency && len(queue) > 0 && !ro.Stopped {
			i := 0
			for i < len(queue) && busy[queue[i]] {
				i++
			}
			if i == len(queue) {
				break
			}
			r := runs[queue[i]]
			queue = append(queue[:i], queue[i+1:]...)
			if rn.start(ctx, r) {
				running[r.Node] = r
				ro.MaxConcurrent = max(ro.MaxConcurrent, len(running)+len(busy))
			} else if ctx.Err() == nil {
				failures++
				ro.Stopped = rn.checkFailures(failures)
			}
		}
		if len(running) == 0 && len(busy) == 0 && (len(queue) == 0 || ro.Stopped) {
			break
		}
		if clock.Sleep(ctx, clk, cfg.poll) != nil {
			continue
		}
		finished := rn.poll(ctx, running, busy, lag)
		if len(busy) == 0 && (len(queue) == 0 || ro.Stopped) {
			finished = append(finished, rn.giveUp(running, lag)...)
		}
		rn.summarize(ctx, finished)
		for _, r := range finished {
			if r.failure() {
				failures++
			}
		}
		if len(finished) > 0 && !ro.Stopped {
			ro.Stopped = rn.checkFailures(failures)
		}
	}
	for _, h := range queue {
		runs[h].Outcome = outcomeSkipped
		if ctx.Err() != nil {
			runs[h].Outcome = outcomeCancelled
		}
	}
	for _, r := range running {
		r.Outcome = outcomeRunning
	}
	ro.ElapsedS = round2(clk.Now().Sub(start).Seconds())
	return ro
}

// checkFailures reports whether failures exceed the threshold, logging it when so.
func (rn *puppetRunner) checkFailures(failures int) bool {
	if rn.cfg.maxFailures < 0 || failures <= rn.cfg.maxFailures {
		return false
	}
	rn.cfg.log("%d failed %s, more than --max-failures %d: starting no new runs", failures, plural.Word(failures, "run", "runs"), rn.cfg.maxFailures)
	return true
}

// start sends runonce to one node and records its initiated_at; false when the run was not started.
func (rn *puppetRunner) start(ctx context.Context, r *nodeRun) bool {
	opts := rn.cfg.call
	opts.Nodes = []string{r.Node}
	args := maps.Clone(rn.cfg.runArgs)
	args["force"] = true
	r.started = rn.clock().Now()
	res, err := rn.fl.Call(ctx, "puppet", "runonce", args, opts)
	switch {
	case err != nil && (res == nil || len(res.OK)+len(res.Failed) == 0):
		r.Outcome, r.Message = outcomeRefused, err.Error()
	case len(res.OK) == 1:
		d := res.OK[0].Data
		r.InitiatedAt = intOf(d["initiated_at"])
		rn.cfg.log("%s schedule status: %s", r.Node, rubyString(d["summary"]))
		return true
	case len(res.Failed) == 1:
		r.Outcome, r.Message = outcomeRefused, res.Failed[0].Message
	default:
		r.Outcome, r.Message = outcomeRefused, "did not return a result"
	}
	rn.cfg.log("%s schedule status: %s", r.Node, r.Message)
	return false
}

// poll asks the running and busy nodes for their status and returns the runs that ended,
// removing them from running. Busy nodes that stopped applying are freed. The nodes that
// answered the last poll are asked together, for at most the round timeout; the nodes that
// missed a poll are asked on their own schedule by lag, and their answers are taken here
// once they are in.
func (rn *puppetRunner) poll(ctx context.Context, running map[string]*nodeRun, busy map[string]bool, lag *lagPoll) []*nodeRun {
	var live []string
	for h, r := range running {
		if r.missed == 0 {
			live = append(live, h)
		}
	}
	for h := range busy {
		live = append(live, h)
	}
	sort.Strings(live)
	asked := map[string]bool{}
	replies := map[string]client.Result{}
	if len(live) > 0 {
		for _, res := range rn.status(ctx, live, rn.roundTimeout()) {
			replies[res.Sender] = res
		}
		for _, h := range live {
			asked[h] = true
		}
	}
	if hosts, res, ok := lag.take(); ok {
		for _, x := range res {
			replies[x.Sender] = x
		}
		for _, h := range hosts {
			asked[h] = true
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	now := rn.clock().Now()
	hosts := slices.Sorted(maps.Keys(asked))
	var ended []*nodeRun
	end := func(r *nodeRun, outcome, msg string) {
		r.Outcome, r.Message = outcome, msg
		r.WallTime = round2(now.Sub(r.started).Seconds())
		delete(running, r.Node)
		ended = append(ended, r)
	}
	for _, h := range hosts {
		res, ok := replies[h]
		if busy[h] {
			if ok && res.Code == message.OK && res.Data["applying"] != true {
				delete(busy, h)
			}
			continue
		}
		r := running[h]
		if r == nil {
			continue
		}
		if !ok || res.Code != message.OK {
			if r.missed == 0 {
				r.silentSince = now
			}
			r.missed++
			rn.cfg.log("%s did not respond to the status action", h)
			if r.missed >= rn.cfg.maxMissed {
				end(r, outcomeNoResponse, fmt.Sprintf("no status reply %d times in a row", r.missed))
			}
			continue
		}
		r.missed = 0
		last := intOf(res.Data["lastrun"])
		if res.Data["applying"] == true {
			r.seenApplying = true
		} else if last >= r.InitiatedAt && (r.seenApplying || last > r.prevLastRun) {
			r.LastRun = last
			end(r, outcomeOK, "")
			continue
		}
		switch age := now.Sub(r.started); {
		case age > rn.cfg.runTimeout:
			end(r, outcomeTimeout, fmt.Sprintf("not finished after %s", rn.cfg.runTimeout))
		case !r.seenApplying && age > rn.cfg.startTimeout:
			end(r, outcomeNoStart, fmt.Sprintf("no run seen within %s", rn.cfg.startTimeout))
		}
	}
	if lag.idle() {
		var behind []string
		for h, r := range running {
			if r.missed > 0 {
				behind = append(behind, h)
			}
		}
		if len(behind) > 0 {
			sort.Strings(behind)
			lag.start(ctx, rn, behind)
		}
	}
	return ended
}

// giveUp ends the runs of nodes that have been silent for the grace time, once they are all
// that is left to wait for: every other run has ended, and no new one will start.
func (rn *puppetRunner) giveUp(running map[string]*nodeRun, lag *lagPoll) []*nodeRun {
	now := rn.clock().Now()
	for _, r := range running {
		if r.missed == 0 || now.Sub(r.silentSince) < lagGrace {
			return nil
		}
	}
	var ended []*nodeRun
	for _, h := range slices.Sorted(maps.Keys(running)) {
		r := running[h]
		r.Outcome = outcomeNoResponse
		r.Message = fmt.Sprintf("no status reply for %s, after every other run had ended", now.Sub(r.silentSince).Round(time.Second))
		r.WallTime = round2(now.Sub(r.started).Seconds())
		delete(running, h)
		ended = append(ended, r)
	}
	if len(ended) > 0 {
		lag.stop()
	}
	return ended
}

// roundTimeout is how long a poll of the nodes that answer waits: minRound or two poll
// intervals, and no longer than an explicit --timeout.
func (rn *puppetRunner) roundTimeout() time.Duration {
	d := max(minRound, 2*rn.cfg.poll)
	if t := rn.cfg.call.Timeout; t > 0 && t < d {
		d = t
	}
	return d
}

// lagPoll is the status poll of the nodes that missed one, run on its own goroutine so that
// its wait for them holds up nothing else. At most one is in flight.
type lagPoll struct {
	hosts  []string
	cancel context.CancelFunc
	res    chan []client.Result // one result, then the poll is over
}

func (l *lagPoll) idle() bool { return l.res == nil }

// start asks hosts for their status with the call's full timeout.
func (l *lagPoll) start(ctx context.Context, rn *puppetRunner, hosts []string) {
	ctx, l.cancel = context.WithCancel(ctx)
	l.hosts, l.res = hosts, make(chan []client.Result, 1)
	res := l.res
	rn.clock().Go(func() { res <- rn.status(ctx, hosts, rn.cfg.call.Timeout) })
}

// take returns the poll's hosts and replies when it is over, without waiting.
func (l *lagPoll) take() ([]string, []client.Result, bool) {
	if l.idle() {
		return nil, nil, false
	}
	select {
	case res := <-l.res:
		hosts := l.hosts
		l.cancel()
		*l = lagPoll{}
		return hosts, res, true
	default:
		return nil, nil, false
	}
}

// stop cancels a poll in flight; it ends at once, with its context.
func (l *lagPoll) stop() {
	if l.idle() {
		return
	}
	l.cancel()
	*l = lagPoll{}
}

// summarize fills in the finished runs' outcomes from last_run_summary.
func (rn *puppetRunner) summarize(ctx context.Context, ended []*nodeRun) {
	var hosts []string
	for _, r := range ended {
		if r.Outcome == outcomeOK {
			hosts = append(hosts, r.Node)
		}
	}
	var replies map[string]client.Result
	if len(hosts) > 0 {
		opts := rn.cfg.call
		opts.Nodes = hosts
		res, _ := rn.fl.Call(ctx, "puppet", "last_run_summary", nil, opts)
		replies = map[string]client.Result{}
		if res != nil {
			for _, x := range append(append([]client.Result(nil), res.OK...), res.Failed...) {
				replies[x.Sender] = x
			}
		}
	}
	for _, r := range ended {
		if r.Outcome == outcomeOK {
			res, ok := replies[r.Node]
			switch {
			case !ok:
				r.Outcome, r.Message = outcomeNoSummary, "no reply to last_run_summary"
			case res.Code != message.OK:
				r.Outcome, r.Message = outcomeNoSummary, res.Message
			default:
				r.fromSummary(res.Data)
			}
		}
		switch r.Outcome {
		case outcomeOK, outcomeFailed:
			rn.cfg.log("%s finished: %s, %d failed and %d changed of %s in %.2f s", r.Node, r.Outcome, r.Failed, r.Changed, plural.Count(r.Total, "resource", "resources"), r.RunTime)
		default:
			rn.cfg.log("%s: %s: %s", r.Node, r.Outcome, r.Message)
		}
	}
}

// fromSummary sets the outcome from a last_run_summary reply: failed when any resource or
// event failed.
func (r *nodeRun) fromSummary(d map[string]any) {
	r.Failed = int(intOf(d["failed_resources"]))
	r.Changed = int(intOf(d["changed_resources"]))
	r.Total = int(intOf(d["total_resources"]))
	if f, ok := toFloat(d["total_time"]); ok {
		r.RunTime = round2(f)
	}
	events := 0
	if raw, ok := d["summary"].(map[string]any); ok {
		if ev, ok := raw["events"].(map[string]any); ok {
			events = int(intOf(ev["failure"]))
		}
	}
	r.Outcome = outcomeOK
	if r.Failed > 0 || events > 0 {
		r.Outcome = outcomeFailed
		r.Message = plural.Count(max(r.Failed, 0), "failed resource", "failed resources") + ", " + plural.Count(events, "failed event", "failed events")
	}
}

// status calls status on hosts directly and returns the replies; a timeout of 0 is the
// call's default.
func (rn *puppetRunner) status(ctx context.Context, hosts []string, timeout time.Duration) []client.Result {
	opts := rn.cfg.call
	opts.Nodes = hosts
	if timeout > 0 {
		opts.Timeout = timeout
	}
	res, _ := rn.fl.Call(ctx, "puppet", "status", nil, opts)
	if res == nil {
		return nil
	}
	return append(append([]client.Result(nil), res.OK...), res.Failed...)
}

// intOf converts a reply number to an integer; -1 when it is not a number.
func intOf(v any) int64 {
	f, ok := toFloat(v)
	if !ok {
		return -1
	}
	return int64(f)
}

// counts tallies a rollout's outcomes.
func (ro *rollout) counts() map[string]int {
	out := map[string]int{}
	for _, r := range ro.Nodes {
		out[r.Outcome]++
	}
	return out
}

// exitCode maps a rollout to the exit codes: failed runs are failures, nodes that stopped
// answering are missing.
func (ro *rollout) exitCode() int {
	failed, missing := 0, 0
	for _, r := range ro.Nodes {
		switch {
		case r.Outcome == outcomeNoResponse || (r.Outcome == outcomeRefused && r.Message == "did not return a result"):
			missing++
		case r.failure() || r.Outcome == outcomeRunning || r.Outcome == outcomeCancelled:
			failed++
		}
	}
	return exitForCounts(len(ro.Nodes), failed, missing)
}

// writeRollout prints the per-node table and the totals line.
func writeRollout(w io.Writer, c colorizer, st listing.Style, ro *rollout) {
	var rows [][]string
	for _, r := range ro.Nodes {
		failed, changed, secs := "", "", ""
		if r.Outcome == outcomeOK || r.Outcome == outcomeFailed {
			failed, changed, secs = fmt.Sprint(r.Failed), fmt.Sprint(r.Changed), fmt.Sprintf("%.2f", r.RunTime)
		}
		outcome := r.Outcome
		switch {
		case r.Outcome == outcomeOK:
			outcome = c.green(outcome)
		case r.failure():
			outcome = c.red(outcome)
		default:
			outcome = c.yellow(outcome)
		}
		rows = append(rows, []string{r.Node, outcome, failed, changed, secs, r.Message})
	}
	_ = listing.Render(w, []string{"Node", "Outcome", "Failed", "Changed", "Seconds", "Message"}, rows, st)
	n := ro.counts()
	var parts []string
	for _, o := range []string{outcomeOK, outcomeFailed, outcomeRefused, outcomeNoStart, outcomeTimeout, outcomeNoResponse, outcomeNoSummary, outcomeSkipped, outcomeCancelled, outcomeRunning} {
		if n[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[o], o))
		}
	}
	fmt.Fprintf(w, "\n%d %s: %s; at most %d at once; %.2f s\n", len(ro.Nodes), plural.Word(len(ro.Nodes), "node", "nodes"),
		strings.Join(parts, ", "), ro.MaxConcurrent, ro.ElapsedS)
	if ro.Stopped {
		fmt.Fprintln(w, c.red(fmt.Sprintf("Stopped starting new runs: more than %d failed.", ro.MaxFailures)))
	}
}

// runall discovers the enabled matching nodes and rolls Puppet runs over them, once or, with
// --rerun, forever with a minimum cycle time.
func (pc *puppetCall) runall(ctx context.Context, p puppetFlags, concurrency int, runArgs map[string]any) int {
	s, e := pc.s, pc.s.e
	logw := e.stdout
	if s.flags.json {
		logw = e.stderr
	}
	clk := e.clockOrReal()
	poll := e.runallPoll
	if poll <= 0 {
		poll = defaultRunallPoll
	}
	cfg := runallConfig{
		concurrency: concurrency, maxFailures: p.maxFailures, runArgs: runArgs,
		poll: poll, runTimeout: 30 * time.Minute, startTimeout: time.Minute, maxMissed: 5,
		call: client.CallOptions{Timeout: time.Duration(s.flags.timeout), Collective: s.flags.collective},
		log: func(format string, args ...any) {
			fmt.Fprintf(logw, "%s: %s\n", clk.Now().Format("2006-01-02 15:04:05"), fmt.Sprintf(format, args...))
		},
	}
	if p.runTimeout > 0 {
		cfg.runTimeout = time.Duration(p.runTimeout)
	}
	if p.startTimeout > 0 {
		cfg.startTimeout = time.Duration(p.startTimeout)
	}
	rn := &puppetRunner{fl: pc.fl, cfg: cfg, clk: clk}
	if p.rerun > 0 {
		cfg.log("Performing ongoing Puppet run management with a minimum runtime of %d seconds between loops", int(time.Duration(p.rerun).Seconds()))
	}
	for {
		begin := clk.Now()
		code := pc.runallOnce(ctx, rn)
		if p.rerun == 0 || ctx.Err() != nil {
			return code
		}
		took := clk.Now().Sub(begin)
		wait := time.Duration(p.rerun) - took
		if wait <= 0 {
			cfg.log("Running all hosts took %d seconds; starting a new loop immediately due to minimum run time configuration of %d seconds", int(took.Seconds()), int(time.Duration(p.rerun).Seconds()))
			continue
		}
		cfg.log("Running all hosts took %d seconds; sleeping for %d seconds due to minimum run time configuration of %d seconds", int(took.Seconds()), int(wait.Seconds()), int(time.Duration(p.rerun).Seconds()))
		if clock.Sleep(ctx, clk, wait) != nil {
			return code
		}
	}
}

// runallOnce is one runall cycle: discovery, the rollout and its report.
func (pc *puppetCall) runallOnce(ctx context.Context, rn *puppetRunner) int {
	s, e := pc.s, pc.s.e
	log := rn.cfg.log
	log("Running all nodes with a concurrency of %d", rn.cfg.concurrency)
	log("Discovering enabled Puppet nodes to manage")
	if s.flags.selectExpr != "puppet().enabled=true" {
		log("Modifying user-specified filter: and'ing with 'puppet().enabled=true'")
	}
	hosts, err := pc.fl.Discover(ctx, s.flags.discoverOptions(s.filter, s.nodes))
	if err != nil {
		return s.fail(fmt.Errorf("discovery: %w", err))
	}
	log("Found %d enabled %s", len(hosts), plural.Word(len(hosts), "node", "nodes"))
	if len(hosts) == 0 {
		if s.flags.json {
			_ = writeJSON(e.stdout, &rollout{Concurrency: rn.cfg.concurrency, MaxFailures: rn.cfg.maxFailures, Nodes: []*nodeRun{}})
		}
		return exitNothingDiscovered
	}
	ro := rn.rollout(ctx, hosts)
	started := 0
	for _, r := range ro.Nodes {
		if r.Outcome != outcomeSkipped && r.Outcome != outcomeRefused && r.Outcome != outcomeCancelled {
			started++
		}
	}
	log("Iteration complete. Initiated a Puppet run on %d %s; every started run has ended.", started, plural.Word(started, "node", "nodes"))
	if s.flags.json {
		if err := writeJSON(e.stdout, ro); err != nil {
			return s.fail(err)
		}
	} else {
		fmt.Fprintln(e.stdout)
		writeRollout(e.stdout, s.color, tableStyle(e, s.flags), ro)
	}
	if ctx.Err() != nil {
		return exitFailure
	}
	return ro.exitCode()
}
