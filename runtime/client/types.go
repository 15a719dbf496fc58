package client

import (
	"time"

	"github.com/mcorun/mcorun/runtime/message"
)

// Result is one node's reply to an RPC call.
//
// Data holds each output's value as value.Plain returns it, never a Ruby Marshal type: nil,
// bool, string (Symbols, and Regexps as "/source/", included), int64, *big.Int (only beyond
// int64), float64, []any and map[string]any (Hash keys as text), nested in any way. An
// output the reply lacks has its DDL default, which the DDL's JSON gives in the same types.
type Result struct {
	Sender  string         // the replying node's identity
	Code    message.Status // the SimpleRPC status code
	Message string         // the status message, "OK" on success
	Data    map[string]any // reply data by output name (value.Plain's types), DDL defaults filled in
	Elapsed time.Duration  // from publishing the request to this reply
}

// OK reports whether the node ran the action successfully.
func (r Result) OK() bool { return r.Code == message.OK }

// Results is the outcome of an RPC call: every targeted node is in exactly one of OK, Failed
// or Missing. For a broadcast call without discovery, Targets is the set that replied.
type Results struct {
	Agent     string
	Action    string
	RequestID string
	Targets   []string // sorted identities the call expected replies from
	// Batches are Targets as the call sent them: one batch without batching, none for a
	// fire-and-forget broadcast.
	Batches [][]string
	OK      []Result // sorted by sender
	Failed  []Result // sorted by sender
	Missing []string // sorted identities that never replied
	// Reasons says why a Missing node did not reply when it is not simply silent:
	// ReasonConnectionLost or ReasonNotSent. Nodes without an entry had the request and
	// did not answer in time (ReasonNoReply).
	Reasons   map[string]string
	Discovery time.Duration
	Elapsed   time.Duration // the whole call, discovery included
}

// Why a node is Missing (see Results.Reasons).
const (
	// ReasonNoReply: the request went out and the node did not answer in time.
	ReasonNoReply = "no reply"
	// ReasonConnectionLost: the broker connection the request went out on dropped while the
	// reply was due, so the reply was lost. The node may or may not have run the action: the
	// request is delivered at most once, and it is not sent again.
	ReasonConnectionLost = "broker connection lost"
	// ReasonNotSent: the call failed before the request went out to the node.
	ReasonNotSent = "not sent"
)

// Reason returns why node, one of Missing, did not reply.
func (r *Results) Reason(node string) string {
	if why, ok := r.Reasons[node]; ok {
		return why
	}
	return ReasonNoReply
}

// NotSent returns the Missing nodes the request never went out to, sorted.
func (r *Results) NotSent() []string {
	var out []string
	for _, n := range r.Missing {
		if r.Reasons[n] == ReasonNotSent {
			out = append(out, n)
		}
	}
	return out
}

// DiscoverOptions are per-call discovery settings. The zero value broadcasts with the
// default timeout.
type DiscoverOptions struct {
	Filter     message.Filter
	Timeout    time.Duration // the upper bound; default 2s plus data plugin timeouts
	Nodes      []string      // a given node list: no broadcast is sent
	Collective string        // default: the main collective
	Limit      string        // "N" or "N%"; empty for all
	LimitSeed  int64         // 0 picks the first N; otherwise a seeded random choice
	// Method is the discovery method (runtime/discovery's names: mc, flatfile, inventory,
	// external, puppetdb); empty for the client's default, else mc.
	Method string
	// MethodOptions are the method's options (--do K=V).
	MethodOptions map[string]string
	// CallAgent is the agent a call added to Filter; sources that know nothing of agents
	// ignore that one entry.
	CallAgent string

	// The completion rule (see the package doc). Zero values mean the defaults.
	// Expect is the set of nodes expected to reply (the previous discovery of the same
	// filter): discovery waits for every one of them, then Grace for newcomers.
	Expect      []string
	Grace       time.Duration // wait for newcomers once Expect all replied; default 50ms
	WaitFull    bool          // wait the whole timeout, as mco does
	MinWait     time.Duration // least time to wait; default 300ms
	QuietFloor  time.Duration // least quiet window; default 100ms
	QuietFactor float64       // quiet window per slowest reply latency; default 2
}

// PingReply is one node's answer to a discovery ping.
type PingReply struct {
	Sender  string
	Elapsed time.Duration // from publishing the ping to receiving the reply
}

// CallOptions are per-call RPC settings. The zero value discovers with the filter and waits
// the DDL timeout plus the discovery time.
type CallOptions struct {
	Filter message.Filter
	Nodes  []string // call these nodes directly; no discovery
	// Discovered are nodes the caller already discovered with Filter: no discovery is sent,
	// and the request is routed as mco routes a discovered set (directed up to the direct
	// addressing threshold with the full filter, else one broadcast). Nodes takes precedence.
	Discovered       []string
	Timeout          time.Duration // reply timeout; default the DDL timeout plus discovery time
	DiscoveryTimeout time.Duration
	Collective       string
	// Method and MethodOptions choose the discovery method, as in DiscoverOptions. A call to
	// nodes a source other than mc named (discovered by the caller or by the call) is
	// directed, each node once, with the filter reset to the agent alone: the source, not
	// the node's own view, decides the targets, and a named node that does not answer is
	// Missing.
	Method        string
	MethodOptions map[string]string
	Batch         string        // "N" or "N%"; empty for no batching
	BatchSleep    time.Duration // between batches; default 1s, negative for none
	Limit         string        // "N" or "N%"
	LimitSeed     int64
	TTL           time.Duration // request TTL; default 60s
	FireAndForget bool          // send without process_results and return at once
	// OnReply, when set, is called for each reply as it arrives (for progress display).
	OnReply func(Result)
}
