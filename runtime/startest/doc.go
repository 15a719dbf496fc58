// Package startest runs playbook tests (docs/testing.md is the user's guide, its examples
// run by TestTestingGuide): Starlark files named *_test.star that declare a
// simulated fleet, run a playbook (or call functions loaded from one) against it, and check
// the outcome with the assert module of go.starlark.net's starlarktest. It is what
// `mcorun test` runs, and it needs no broker and no real time. The fleet is a
// fleettest.Fleet: the production client talking over an in-memory bus to production node
// pipelines that serve the real agents (rpcutil, discovery, the data plugins, and puppet over
// its simulator). Every timer of the test runs on one fake clock that moves only when nothing
// is running, so discovery windows, reply timeouts, sleep(), wait_until(), rolling()'s pauses
// and Puppet runs take their real fake time, cost no real time, and happen in the same order
// on every run.
//
// A test file is executed once, with the playbook builtins (package starlib), the helpers
// below and load() (relative paths, "@mcorun//" and "assert.star"). Then every global
// function whose name starts with "test_" runs, in the order of the file, each on a fresh
// thread with a fresh default fleet, a fake clock at 2026-01-01T00:00:00Z and no calls
// recorded; the fleet is closed when the test ends. A test fails when an assertion reports an error (assert.eq, assert.true, ...;
// each one is listed with its file:line) or when it raises an error (listed with its
// backtrace). load() of a library (such as "@mcorun//fleet.star") works as in a playbook;
// load() of a playbook executes its top level once, on the file's default fleet and
// without args, so a playbook that needs args is better loaded with load_playbook() inside
// a test. Functions loaded either way act on the fleet of the test that calls them.
//
// The helpers (Starlark):
//
//	node(identity, facts={}, classes=[], agents=None, services={}, packages={}, shell=False) -> node
//	    agents None means every agent of the fleet: rpcutil, puppet, service, package and
//	    nettest, plus any declared with fleet(ddls=...). Discovery is always served, as by
//	    mcod. services maps a name to "running", "stopped" or a dict {state, fail_start,
//	    fail_message, restart_time}; packages a name to the installed version or a dict
//	    {installed, available, fail}; shell serves the real shell agent.
//	fleet(nodes=None, ddls={}) -> fleet
//	    Declares the test's fleet and installs it: discover() and rpc() in the test, in the
//	    functions it calls and in run_playbook() act on it. nodes are node() values or plain
//	    identities; None gives the default fleet of eight nodes: web1-web4 (role web,
//	    Debian, classes web::nginx and base), db1-db3 (role db, db3 RedHat, classes
//	    db::postgres and base) and app1 (role app, Debian, class app). ddls maps agent names
//	    to JSON DDL text, for agents no real node serves: the nodes validate a call's
//	    inputs against that DDL and answer with its output defaults.
//	    The real agents answer for real: rpcutil from the node's facts, classes and agents;
//	    puppet from a simulated Puppet agent, enabled and idle, whose runs succeed after a
//	    few seconds of fake time (rpc("puppet", "disable", ...) disables it for real). An
//	    agent no node serves is discovered on no node, and a given node does not answer it.
//	The rules below sit at the node, in front of the agent: the node still filters,
//	validates and fills in output defaults, and the client still applies its timeouts.
//	fleet.reply(agent, action=None, data={}, *, node=None, call=None, msg="OK")
//	    Matching calls reply ok; data is merged over the agent's reply.
//	fleet.fail(agent, action=None, *, node=None, call=None, code=1, msg="failed")
//	    Matching calls reply with status code (1 Aborted ... 5 UnknownError) and msg.
//	fleet.silence(*nodes, agent=None, action=None, call=None)
//	    Matching calls get no reply, as from a node that hangs until its action times
//	    out: the nodes are missing after the call's whole timeout. (Discovery still finds
//	    them.)
//	fleet.on_call(n, agent, action=None, data=None, *, node=None, code=0, msg=None)
//	    The n-th call (from 1) of agent.action replies with data, or fails with code.
//	    node is an identity or a list of them, call an int or a list of ints: the n-th calls
//	    of agent.action, counted from 1. None matches every node or call. Rules apply in the
//	    order they were declared, so a later rule wins.
//	fleet.nodes -> NodeSet; fleet.calls(...) as calls(...)
//	calls(agent=None, action=None, kind=None) -> [call]
//	    The discover and rpc calls recorded on the test's fleet, oldest first. A call has
//	    kind ("discover" or "rpc"), agent, action, args (dict), nodes (the given node list
//	    or None), targets (the nodes expected to reply), batches (targets as batch= cut
//	    them), batch (the batch spec or None), filter (a string, "" for none) and seq (the
//	    count of agent.action calls so far).
//	run_playbook(path, args={}, *, dry_run=False, kill_after=None) -> result
//	    Runs a playbook (path relative to the test file) with runtime/playbook on the
//	    test's fleet and clock, without the overlap lock, with a journal in the test's own
//	    runs directory. args values are strings, ints, bools, floats or lists of strings
//	    (--arg k=v, a list comma-joined). kill_after=N interrupts the run, as SIGTERM does,
//	    once its N-th rpc call has returned. The result has exit_code, ok (exit_code == 0),
//	    error (the message, None on success), stdout (print() lines), stderr (log and
//	    progress lines, the error), report (the JSON report as a dict: steps, log,
//	    outcome, ...), calls (the calls of this run that reached the fleet), run_id and
//	    replayed (the calls a resume answered from the journal, as calls() shows them).
//	    The run's stdout and stderr also join the test's output, shown when it fails.
//	resume_playbook(path, run_id, *, retry_failed=False, force=False, dry_run=False, kill_after=None) -> result
//	    Resumes run run_id of the playbook as 'mcorun resume' does, with that run's args:
//	    result.replayed lists the calls answered from its journal and result.calls those
//	    that went live. dry_run is resume --dry-run.
//	load_playbook(path, args={}) -> struct of the playbook's globals
//	    Executes a playbook's top level in the test, on its fleet and clock, with args as
//	    for run_playbook, and returns its globals: pb.parse_input([...]) calls one of its
//	    functions. Its errors are raised (assert.fails catches them).
//	elapsed() -> time.duration    fake time since the test began
//	advance(duration)             lets duration of fake time pass, as sleep() does
//
// Output is like go test's: a "--- FAIL: test_name (file:line)" line per failed test,
// followed by each failure with its file:line and the test's printed output; then
// "ok  FILE  0.01s" or "FAIL  FILE  0.01s" per file, and a final "FAIL" when any test
// failed. Verbose lists every test with "=== RUN" and "--- PASS". Run returns 0 when every
// test passed, 1 otherwise, and 2 for a usage error (a missing path, a bad -run pattern,
// no test files).
package startest
