package security

import (
	"encoding/binary"
	"fmt"

	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

// The ed25519 provider signs a canonical byte encoding of the envelope, never its Marshal
// bytes (Ruby Marshal has many encodings of one value). The encoding is built from two
// primitives:
//
//	str(s) = uint32 big-endian length of s, then the bytes of s
//	int(n) = n as 8 bytes, big-endian two's complement
//
// A request signs:
//
//	str("mcorun-ed25519-request-v2") str(callerid) str(senderid) str(requestid) str(agent)
//	str(collective) int(ttl) int(msgtime) str(filter) str(targets) str(body)
//
// where body is the inner Marshal bytes exactly as sent, targets is
//
//	int(#targets) then str(identity) for each entry of :mcorun_targets, in wire order
//
// (a broadcast has no list, encoded as int(0), the same as an empty one; a directed request
// names its nodes, so a captured directed request can neither be re-aimed at another node nor
// stripped of its list and replayed as a broadcast), and filter is:
//
//	int(#fact)     then for each fact entry: str(fact) str(operator) str(value)
//	int(#cf_class) then str(class) for each
//	int(#agent)    then str(agent) for each
//	int(#identity) then str(identity) for each
//	int(#compound) then for each expression: int(#items), then for each item str(kind) and
//	  for "statement": str(value)
//	  for "fstatement": str(name) str(value) str(operator) str(M(params)) str(M(r_compare))
//
// in wire order, with M(v) the Marshal encoding of v (deterministic: Hash pairs sorted).
// The filter is taken as the node decodes it, so a signer first round-trips its envelope
// through Marshal. A reply signs:
//
//	str("mcorun-ed25519-reply-v2") str(callerid) str(senderid) str(requestid) str(senderagent)
//	int(msgtime) str(body)
//
// where callerid is the verified caller of the request replied to. It is not sent: the node
// signs the caller it verified and the client verifies with its own, so a reply obtained
// with someone else's request never verifies for a waiting client.
//
// The distinct labels keep a request signature from ever verifying as a reply or as another
// version of the format. Request v1 had no target list and reply v1 no caller; v1
// signatures are not accepted.
const (
	requestLabel = "mcorun-ed25519-request-v2"
	replyLabel   = "mcorun-ed25519-reply-v2"
)

// canon builds a canonical encoding.
type canon struct{ b []byte }

func (c *canon) str(s string) {
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(s)))
	c.b = append(c.b, s...)
}

func (c *canon) bytes(s []byte) {
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(s)))
	c.b = append(c.b, s...)
}

func (c *canon) int(n int64) { c.b = binary.BigEndian.AppendUint64(c.b, uint64(n)) }

func (c *canon) strs(l []string) {
	c.int(int64(len(l)))
	for _, s := range l {
		c.str(s)
	}
}

// requestSigningBytes returns the canonical bytes an ed25519 request signature covers.
func requestSigningBytes(r *message.Request) ([]byte, error) {
	f, err := filterBytes(r.Filter)
	if err != nil {
		return nil, err
	}
	c := canon{b: make([]byte, 0, 128+len(r.Body)+len(f))}
	c.str(requestLabel)
	for _, s := range []string{r.CallerID, r.SenderID, r.RequestID, r.Agent, r.Collective} {
		c.str(s)
	}
	c.int(r.TTL)
	c.int(r.MsgTime)
	c.bytes(f)
	var t canon
	t.strs(r.Targets)
	c.bytes(t.b)
	c.bytes(r.Body)
	return c.b, nil
}

// replySigningBytes returns the canonical bytes an ed25519 reply signature covers.
func replySigningBytes(r *message.Reply) []byte {
	c := canon{b: make([]byte, 0, 96+len(r.Body))}
	c.str(replyLabel)
	c.str(r.CallerID)
	c.str(r.SenderID)
	c.str(r.RequestID)
	c.str(r.SenderAgent)
	c.int(r.MsgTime)
	c.bytes(r.Body)
	return c.b
}

// filterBytes is the canonical encoding of a decoded filter.
func filterBytes(f message.Filter) ([]byte, error) {
	var c canon
	c.int(int64(len(f.Fact)))
	for _, ff := range f.Fact {
		c.str(ff.Fact)
		c.str(ff.Operator)
		c.str(ff.Value)
	}
	c.strs(f.CFClass)
	c.strs(f.Agent)
	c.strs(f.Identity)
	c.int(int64(len(f.Compound)))
	for _, expr := range f.Compound {
		c.int(int64(len(expr)))
		for _, it := range expr {
			c.str(string(it.Kind))
			switch it.Kind {
			case message.Statement:
				c.str(it.Value)
			case message.FStatement:
				dc := it.Func
				if dc == nil {
					dc = &message.DataCall{}
				}
				c.str(dc.Name)
				c.str(dc.Value)
				c.str(dc.Operator)
				for _, v := range []any{dc.Params, dc.RCompare} {
					m, err := marshal.Marshal(v)
					if err != nil {
						return nil, fmt.Errorf("security: ed25519: filter fstatement %q: %w", clip(dc.Name), err)
					}
					c.bytes(m)
				}
			}
		}
	}
	return c.b, nil
}
