package starlib

import (
	"fmt"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// HelpEntry is the help of one name of the playbook API: a builtin ("rpc"), a method of a
// builtin ("filter.fact"), a value type ("NodeSet") or one of its attributes
// ("NodeSet.sample"). Signature is written as starlib/doc.go writes it; a test keeps the
// two in step.
type HelpEntry struct {
	Name      string
	Signature string
	Text      string
}

// HelpEntries is the one table of the API's help, in the order help() lists it: the REPL's
// help() prints it and doc.go must mention every signature in it (TestHelpMatchesDoc).
func HelpEntries() []HelpEntry {
	return []HelpEntry{
		{"discover", `discover(filter=None, *, timeout="2s", method=None, nodes=None, limit=None, collective=None, seed=None, options=None) -> NodeSet`,
			`The nodes that match filter. method "mc" broadcasts; "flatfile", "inventory", "external" and "puppetdb" ask a source, with options={"file": ...} as --do passes them; None is the configured default, else mc. A filter the method cannot evaluate is refused. nodes=[...] (or method="nodes") uses the given list, and an empty list never broadcasts. limit is N or "N%"; seed makes the limit's random choice repeatable.`},
		{"filter", `filter(*words) -> filter`,
			`An mco -W filter: each word is "fact=value" (any fact operator) or a class. Filters print, compare and hash; f & g is AND (identity entries stay ORed). A plain string wherever a filter is taken means filter(string). Methods: filter.fact, filter.cls, filter.identity, filter.agent, filter.compound.`},
		{"filter.fact", `filter.fact(name, value, op="==")`,
			`A fact filter; op is one of == != < > <= >= =~, and a "/re/" value with == means =~.`},
		{"filter.cls", `filter.cls(name)`, `A class filter, by name or "/re/".`},
		{"filter.identity", `filter.identity(*ids)`, `Identities, ORed as in MCollective.`},
		{"filter.agent", `filter.agent(name)`, `The nodes that serve the agent.`},
		{"filter.compound", `filter.compound(expr)`, `An mco -S expression; a syntax error shows the column with a caret.`},
		{"rpc", `rpc(agent, action, args=None, *, nodes=None, filter=None, timeout=None, batch=None, batch_sleep="1s", limit=None, ttl=60, discovery_timeout=None, collective=None, method=None, options=None) -> ResultSet`,
			`Calls agent.action. args are checked against the agent's DDL before anything is sent. nodes takes a NodeSet, a list of identities, one identity or a ResultSet; an empty list returns an empty ResultSet without a call. Without nodes it discovers with method and options as discover() does; a source's nodes that do not answer are missing. batch and limit are N or "N%"; ttl is at least 1s.`},
		{"rolling", `rolling(nodes, step, *, window=1, canaries=0, batch=None, max_failures=0, sleep="0s", gate=None) -> RollingReport`,
			`Runs step(batch_nodes) over the nodes in order: one canary batch first, then batches of batch nodes or windows of window nodes. step returns a ResultSet, struct(failed=, missing=), None (all done) or a bool. gate(batch_nodes) runs after each step; false fails the batch and stops. A failed canary stops at once; otherwise rolling stops when the failures exceed max_failures (a count or "N%").`},
		{"wait_until", `wait_until(fn, *, timeout="5m", every="5s") -> fn's first true value`,
			`Calls fn every interval until it returns a true value; raises "wait_until: timed out after ..." at the timeout.`},
		{"sleep", `sleep(duration)`, `Waits for a duration such as "2s"; Ctrl-C or cancellation ends it early.`},
		{"log", `log(msg, **fields)`, `Prints a progress line with the fields through the run's logger.`},
		{"fail", `fail(*args, sep=" ")`, `Stops the playbook with the message; the run exits 1.`},
		{"exit", `exit(code)`, `Ends the playbook on purpose with 0 ok, 1 failed, 3 some nodes failed, 4 some nodes did not reply or 5 both; any other code is refused. Without exit() a run exits 0 whatever its calls returned: if rs.failed and rs.missing: exit(5).`},
		{"params", `params(**defaults) -> struct`,
			`Declares the accepted --arg names. Each value is a param.* declaration (param.duration("10m"), param.size("10%"), ...) or a plain default whose type (int, float, bool, string, list of strings given comma-separated, time.duration, or None for a string) types the raw value. A value of the wrong type is refused, naming the arg, before anything is sent.`},
		{"param", `param`, `Typed declarations for params(): param.duration, param.size, param.int, param.bool, param.string, param.choice.`},
		{"param.duration", `param.duration(default)`, `A duration such as "30s" or "1h30m"; a number without a unit is refused. args holds a time.duration.`},
		{"param.size", `param.size(default)`, `A count N or a share "N%" (at most 100%), as batch=, limit= and max_failures= take; args holds an int, an "N%" string, or None when empty.`},
		{"param.int", `param.int(default)`, `A whole number.`},
		{"param.bool", `param.bool(default)`, `A boolean given as true/false, yes/no, y/n or 1/0.`},
		{"param.string", `param.string(default)`, `Any string; a default of None means optional.`},
		{"param.choice", `param.choice(*choices, default=None)`, `One of the given strings, the first by default.`},
		{"args", `args`, `The struct the last params() call settled, e.g. args.window; an error before params() runs.`},
		{"nodeset", `nodeset(ids=()) -> NodeSet`, `A NodeSet of the given identities.`},
		{"struct", `struct(**kwargs)`, `An immutable record with the given fields.`},
		{"json", `json`, `The json module: json.encode(x), json.decode(s), json.indent(s).`},
		{"time", `time`, `The time module: time.now(), time.parse_duration(s), durations and times.`},
		{"report", `report`, `The run's report data: report.set(key, value) attaches plain data (numbers, strings, lists, dicts, NodeSets, durations) to the --report and --json record, under "data"; report.get(key, default=None) reads it back.`},
		{"report.set", `report.set(key, value)`, `Attaches value to the run's report under data[key], replacing what was there, e.g. report.set("restarted", rs.ok.nodes).`},
		{"report.get", `report.get(key, default=None)`, `What report.set attached under key, else default.`},
		{"help", `help(x=None)`, `In the REPL: help() lists the builtins; help(x) describes a builtin, a value's type or a method, e.g. help(rpc), help(web), help("NodeSet.sample").`},

		{"NodeSet", `NodeSet`,
			`Sorted, deduplicated identities: len, in, iteration, s[i], s[i:j], | & - (with NodeSets or lists), ==, hashable; true when non-empty.`},
		{"NodeSet.batches", `.batches(n) -> [NodeSet]`, `The set split, in order, into sets of at most n identities (n may be "N%").`},
		{"NodeSet.sample", `.sample(n, seed=None)`, `n identities chosen at random; repeatable with a seed.`},
		{"NodeSet.list", `.list()`, `The identities as a list of strings.`},
		{"NodeSet.diff", `.diff(other) -> (NodeSet, NodeSet)`, `The identities only in this set, and those only in other: live, pdb = discover().diff(discover(method="puppetdb")).`},

		{"ResultSet", `ResultSet`,
			`The replies of one rpc(): iteration over Result by sender, len (replies), s[i], "id" in rs; true when there is at least one reply.`},
		{"ResultSet.ok", `.ok`, `A ResultSet of the successful replies.`},
		{"ResultSet.failed", `.failed`, `A ResultSet of the failed replies.`},
		{"ResultSet.missing", `.missing`, `The NodeSet of targets that did not reply.`},
		{"ResultSet.missing_reasons", `.missing_reasons`, `A dict from each missing identity to why: "no reply", "broker connection lost" or "not sent".`},
		{"ResultSet.lost", `.lost`, `The NodeSet of missing nodes whose replies were lost when the broker connection dropped; the request went out at most once, so retry them only if the action is safe to repeat.`},
		{"ResultSet.nodes", `.nodes`, `The NodeSet of nodes that replied.`},
		{"ResultSet.targets", `.targets`, `The NodeSet of nodes the call was sent to.`},
		{"ResultSet.all_ok", `.all_ok`, `True when every target replied and every reply is ok.`},
		{"ResultSet.agent", `.agent`, `The agent called.`},
		{"ResultSet.action", `.action`, `The action called.`},
		{"ResultSet.elapsed", `.elapsed`, `How long the call took.`},
		{"ResultSet.batches", `.batches`, `The batches as sent, a list of NodeSets.`},
		{"ResultSet.summary", `.summary(field) -> {value: count}`, `How many replies carry each value of a data field.`},
		{"ResultSet.sum", `.sum(field)`, `The sum of a numeric data field over the replies.`},
		{"ResultSet.average", `.average(field)`, `The average of a numeric data field over the replies, or None without any.`},
		{"ResultSet.get", `.get(identity) -> Result or None`, `The reply of one node.`},

		{"Result", `Result`, `One node's reply; r["output"] reads a data field; true when ok.`},
		{"Result.sender", `.sender`, `The identity of the node that replied.`},
		{"Result.code", `.code`, `The SimpleRPC status code (0 is ok).`},
		{"Result.msg", `.msg`, `The status message.`},
		{"Result.ok", `.ok`, `True when the code is 0.`},
		{"Result.data", `.data`, `The reply data as a frozen dict, DDL defaults filled in.`},
		{"Result.elapsed", `.elapsed`, `How long the node took to reply.`},

		{"RollingReport", `RollingReport`, `The outcome of rolling(); printed as a table of every node's outcome.`},
		{"RollingReport.done", `.done`, `The NodeSet of nodes that succeeded.`},
		{"RollingReport.failed", `.failed`, `The NodeSet of nodes that failed.`},
		{"RollingReport.missing", `.missing`, `The NodeSet of nodes that did not reply.`},
		{"RollingReport.skipped", `.skipped`, `The NodeSet of nodes whose batches did not run.`},
		{"RollingReport.ok", `.ok`, `True when no node failed, went missing or was skipped.`},
		{"RollingReport.completed", `.completed`, `True when rolling did not stop early.`},
		{"RollingReport.stopped", `.stopped`, `Why the rollout stopped, or None.`},
		{"RollingReport.total", `.total`, `How many nodes the rollout covered.`},
		{"RollingReport.batches", `.batches`, `One struct per batch: index kind nodes done failed missing gate.`},
	}
}

// HelpOverview is what help() and a bare "help" or "?" in the REPL print: every builtin
// and value type with its signature.
func HelpOverview() string {
	var b strings.Builder
	b.WriteString("Builtins (help(name) for more, e.g. help(rpc)):\n")
	var types []string
	for _, e := range HelpEntries() {
		switch {
		case strings.Contains(e.Name, "."):
		case isTypeEntry(e):
			types = append(types, e.Name)
		default:
			fmt.Fprintf(&b, "  %s\n", e.Signature)
		}
	}
	fmt.Fprintf(&b, "Value types (help(value) or help(%q)): %s\n", "NodeSet", strings.Join(types, ", "))
	b.WriteString("The guide, with an example of each: docs/playbooks.md.\n")
	b.WriteString("Leave with Ctrl-D; Ctrl-C interrupts the running statement.")
	return b.String()
}

// Help returns the help of a name of the table ("rpc", "NodeSet", "NodeSet.sample"). A
// value type's help lists its attributes.
func Help(name string) (string, bool) {
	entries := HelpEntries()
	for _, e := range entries {
		if e.Name != name {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s\n    %s", e.Signature, e.Text)
		prefix := name + "."
		var attrs []string
		for _, m := range entries {
			if strings.HasPrefix(m.Name, prefix) {
				attrs = append(attrs, fmt.Sprintf("  %-34s %s", m.Signature, m.Text))
			}
		}
		if len(attrs) > 0 {
			sort.Strings(attrs)
			b.WriteString("\n" + strings.Join(attrs, "\n"))
		}
		return b.String(), true
	}
	return "", false
}

// helpName is the table name of a value: a builtin by its name, a method by its
// receiver's type, anything else by its type.
func helpName(v starlark.Value) string {
	switch x := v.(type) {
	case starlark.String:
		return string(x)
	case *starlark.Builtin:
		if r := x.Receiver(); r != nil {
			return r.Type() + "." + x.Name()
		}
		return x.Name()
	case filterFunc:
		return "filter"
	case *starlarkstruct.Module:
		return x.Name
	}
	return v.Type()
}

// NewHelp returns the REPL's help builtin: help() prints HelpOverview, help(x) the help of
// x (a builtin, a value, a method or a name as a string), through the thread's Print.
func NewHelp() *starlark.Builtin {
	return starlark.NewBuiltin("help", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var x starlark.Value
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0, &x); err != nil {
			return nil, err
		}
		text := HelpOverview()
		if x != nil {
			name := helpName(x)
			t, ok := Help(name)
			if !ok {
				return nil, fmt.Errorf("help: nothing on %q; help() lists the builtins and value types", name)
			}
			text = t
		}
		if thread.Print != nil {
			thread.Print(thread, text)
		} else {
			fmt.Println(text)
		}
		return starlark.None, nil
	})
}
