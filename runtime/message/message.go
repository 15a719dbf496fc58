// Package message holds MCollective 2.12's wire values: the request and reply envelopes,
// the filter, the SimpleRPC request and reply bodies, and the RPC status codes.
//
// Envelopes travel as Ruby Marshal (package marshal) with Symbol keys. A request's Body is the
// inner Marshal stream exactly as received, because security providers sign those bytes.
package message

// Request is a request envelope (security/base.rb create_request plus the security hash).
type Request struct {
	Body       []byte // inner Marshal bytes: a SimpleRPC body, or the String "ping" for discovery
	SenderID   string // the sending client's identity
	RequestID  string // 32 lowercase hex characters
	Filter     Filter
	Collective string
	Agent      string
	CallerID   string // e.g. "uid=0"
	TTL        int64  // seconds the request stays valid after MsgTime
	MsgTime    int64  // unix seconds when the client sent it
	Hash       string // the security provider's signature over the request
	// Targets names the nodes a directed request is for, as the :mcorun_targets Array of
	// identities; it is empty for a broadcast. It is not part of MCollective's envelope:
	// Ruby ignores the key, only the ed25519 provider signs it and sends it, and a node drops
	// a request whose non-empty list does not name it.
	Targets []string
}

// Reply is a reply envelope (security/base.rb create_reply plus the security hash).
type Reply struct {
	SenderID    string // the replying node's identity
	RequestID   string // copied from the request
	SenderAgent string // the agent that replied
	MsgTime     int64
	Body        []byte // inner Marshal bytes: a SimpleRPC reply body, or the String "pong"
	Hash        string
	// CallerID is the verified callerid of the request this replies to. It is never sent:
	// a node sets it before signing, a client sets its own before verifying, so a provider
	// can bind the reply to the caller who asked (ed25519 does).
	CallerID string
}

// Filter is MCollective's request filter. Fact, CFClass and Agent entries are ANDed; Identity
// entries are ORed; each Compound expression is ANDed with the rest. Entries written as "/re/"
// are regular expressions. The zero Filter matches every node.
type Filter struct {
	Fact     []FactFilter
	CFClass  []string
	Agent    []string
	Identity []string
	Compound [][]CompoundItem
}

// FactFilter is one -F entry. Operator is one of == =~ != < > <= >=.
type FactFilter struct {
	Fact     string
	Value    string
	Operator string
}

// CompoundKind names an item of a compound (-S) expression.
type CompoundKind string

// The compound item kinds, as they appear as keys on the wire.
const (
	Statement  CompoundKind = "statement"
	FStatement CompoundKind = "fstatement"
	And        CompoundKind = "and"
	Or         CompoundKind = "or"
	Not        CompoundKind = "not"
	LParen     CompoundKind = "("
	RParen     CompoundKind = ")"
)

// CompoundItem is one token of a parsed compound expression. Value is set for Statement
// (e.g. "role=web", "web::nginx", "/re/"); Func is set for FStatement.
type CompoundItem struct {
	Kind  CompoundKind
	Value string
	Func  *DataCall
}

// DataCall is an fstatement: a data plugin call compared with a value, such as
// fstat("/etc/hosts").size>=1 or puppet().enabled=true.
type DataCall struct {
	Name     string // data plugin name, e.g. "fstat"
	Params   any    // the call's argument: a string, or nil when called with none
	Value    string // the output field compared, e.g. "size"; empty when the call has none
	Operator string // == =~ != !=~ < > <= >=
	RCompare any    // right-hand side: a string, or a marshal.Regexp for =~ and !=~
}

// Empty reports whether the filter has no entries at all.
func (f Filter) Empty() bool {
	return len(f.Fact) == 0 && len(f.CFClass) == 0 && len(f.Agent) == 0 &&
		len(f.Identity) == 0 && len(f.Compound) == 0
}
