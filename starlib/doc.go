// Package starlib is the Starlark side of mcorun: the builtins that playbooks and the REPL
// call, and the values that replies come back as. It acts on a Fleet (a real MCollective
// client, a sandbox or a test double) that the caller puts on the thread with SetFleet,
// along with SetContext, SetClock, SetLogger, SetDryRun and SetArgs. Run executes a
// playbook with load() support; Predeclared lists the builtins; Table renders values for
// the REPL.
//
// The Starlark API (the playbook contract). Durations are strings such as "2s", time module
// durations or numbers of seconds; None for an optional argument means its default. Counts
// marked "N%" take an int or a percentage string.
//
//	discover(filter=None, *, timeout="2s", method=None, nodes=None, limit=None,
//	         collective=None, seed=None, options=None) -> NodeSet
//	    method is the discovery method: "mc" broadcasts; "flatfile", "inventory", "external"
//	    and "puppetdb" ask a source (docs/discovery.md), with options={"file": ...} as --do
//	    passes them; None is the client's default_discovery_method, else mc. A filter the
//	    method cannot evaluate is refused before anything runs. nodes=[...] (or
//	    method="nodes") uses the given list. An empty nodes list gives an empty NodeSet and
//	    never broadcasts. limit is N or "N%", seed makes the limit's random choice repeatable.
//	filter(*words) -> filter                 mco -W: "fact=value" (any fact operator) or a class
//	filter.fact(name, value, op="==")        ops == != < > <= >= =~; a "/re/" value with == means =~
//	filter.cls(name)                         class filter, name or "/re/"
//	filter.identity(*ids)                    identities, ORed as in MCollective
//	filter.agent(name)
//	filter.compound(expr)                    mco -S; syntax errors show the column with a caret
//	    f & g is AND (identity entries stay ORed); a plain string wherever a filter is taken
//	    means filter(string).
//	rpc(agent, action, args=None, *, nodes=None, filter=None, timeout=None, batch=None,
//	    batch_sleep="1s", limit=None, ttl=60, discovery_timeout=None, collective=None,
//	    method=None, options=None) -> ResultSet
//	    args are checked against the agent's DDL (required inputs' defaults filled in first)
//	    before anything is sent: "rpc: AGENT.ACTION: <DDL message>". nodes takes a NodeSet, a
//	    list of identities, one identity or a ResultSet (the nodes that replied); an empty
//	    list returns an empty ResultSet without a call. Without nodes, the call discovers with
//	    method and options as discover() does; the nodes a source other than mc names are
//	    called directly, and those that do not answer are missing. batch and limit are N or "N%";
//	    batch_sleep="0s" pauses not at all between batches; ttl is at least 1s (whole
//	    seconds on the wire).
//	rolling(nodes, step, *, window=1, canaries=0, batch=None, max_failures=0, sleep="0s",
//	        gate=None) -> RollingReport
//	    Runs step(batch_nodes) over the nodes in order: first one canary batch of the first
//	    `canaries` nodes, then batches of `batch` nodes (N or "N%") when given, otherwise
//	    windows of `window` nodes. step is synchronous Starlark, so window=N runs N nodes per
//	    step call, one call after another. step returns a ResultSet (its failed and missing
//	    nodes within the batch count as failures), struct(failed=nodes, missing=nodes) (the
//	    named nodes of the batch count as failures; either field may be left out), None (all
//	    done) or a bool (False fails the whole batch). gate(batch_nodes), when given, runs after each step; a false value
//	    fails the whole batch and stops. A failed canary stops at once; otherwise rolling
//	    stops when the failures so far exceed max_failures (a count, or "N%" of all nodes).
//	    The nodes of batches that did not run are skipped. sleep waits between steps.
//	wait_until(fn, *, timeout="5m", every="5s") -> fn's first true value
//	    Raises "wait_until: timed out after 5m0s". Waits stop promptly on thread.Cancel or
//	    when the thread's context is done. The calls fn makes reach the Logger marked
//	    Polled, and the wait ends with one Event of kind "wait" (polls, duration, error).
//	sleep(duration)
//	log(msg, **fields)                       a progress line through the Logger: "msg k=v ...", each value in Starlark notation
//	fail(*args, sep=" ")                     stops the playbook with a *FailError
//	exit(code)                               ends the playbook on purpose with an exit code
//	    (an *ExitError): 0 ok, 1 failed, 3 some nodes failed, 4 some nodes did not reply,
//	    5 both. Any other code is refused with an error (2, 6 and 130 are mcorun's own). A
//	    playbook that does not call exit() exits 0 whatever its rpc calls returned, so
//	    decide from the replies: if rs.failed and rs.missing: exit(5).
//	report                                   the run's report data:
//	report.set(key, value)                   attaches plain data (numbers, strings, lists,
//	                                         dicts, NodeSets, durations as text) to the
//	                                         report under "data" (ReportData reads it)
//	report.get(key, default=None)            what report.set attached, else default
//	params(**defaults) -> struct             declares the accepted --arg names; each value is
//	                                         a param.* declaration or a plain default whose
//	                                         type (int, float, bool, string, list of
//	                                         strings given comma-separated, time.duration, or
//	                                         None for a string) types the raw value
//	param                                    typed declarations for params():
//	    param.duration(default)              "30s", "1h30m"; a bare number is refused
//	    param.size(default)                  N or "N%" (client.ParseSize): an int, "N%" or None
//	    param.int(default)
//	    param.bool(default)                  true/false, yes/no, y/n, 1/0 (config.ParseBool)
//	    param.string(default)
//	    param.choice(*choices, default=None) one of the strings, the first by default
//	args                                     the struct the last params() call settled:
//	                                         args.window; an error before params() runs
//	nodeset(ids=()) -> NodeSet
//	struct(**kwargs), json (encode, decode, indent), time (now, parse_duration, ...)
//	help(x=None)                             the REPL only: help() lists this API, help(x) one
//	                                         builtin, value type or method (HelpEntries is the
//	                                         table, and a test keeps it and this text in step)
//
// Values:
//
//	NodeSet      sorted, deduplicated identities: len, in, iteration, s[i], s[i:j], | & - (with
//	             NodeSets or lists), ==, hashable; .batches(n) -> [NodeSet], .sample(n,
//	             seed=None) (repeatable with a seed), .list(), .diff(other) -> (NodeSet, NodeSet)
//	             (the identities only in s, and only in other); true when non-empty
//	ResultSet    iteration over Result by sender, len (replies), s[i], "id" in rs; .ok and
//	             .failed (ResultSets), .missing, .nodes (replied), .targets (NodeSets),
//	             .missing_reasons ({identity: "no reply", "broker connection lost" or
//	             "not sent"}), .lost (NodeSet: replies lost with the broker connection),
//	             .all_ok, .agent, .action, .elapsed, .batches ([NodeSet] as sent),
//	             .summary(field) -> {value: count},
//	             .sum(field), .average(field), .get(identity) -> Result or None; true when
//	             there is at least one reply
//	Result       .sender, .code, .msg, .ok, .data (frozen dict, DDL defaults filled in),
//	             .elapsed, r["output"]; true when ok
//	RollingReport .done .failed .missing .skipped (NodeSets), .ok, .completed, .stopped,
//	             .total, .batches (structs: index kind nodes done failed missing gate)
//	filter       printable, comparable, hashable; & combines
//
// load() takes paths relative to the loading file and the embedded standard library as
// "@mcorun//name.star" (see Stdlib; each module's header documents it):
//
//	fleet.star     fact_values, majority, outliers, roll (rolling() over one rpc action)
//	puppet.star    run_puppet_rolling, run_puppet, passed, outcome_table
//	service.star   restart_rolling (a service restarted in a sliding window with canaries,
//	               each node gated on its service status and an optional check), status,
//	               not_running, outcome_table
package starlib
