package security

import (
	"testing"

	"github.com/mcorun/mcorun/runtime/message"
)

// FuzzVerify feeds hostile envelopes to the verify paths of the ssl and ed25519 providers:
// whatever the bytes, verification returns (almost always an error) and never panics.
func FuzzVerify(f *testing.F) {
	s := newEdStore(f)
	s.key(f, "alice", "clients")
	s.key(f, "web1", "servers")
	cl := s.provider(f, "alice", testNow, nil)
	node := s.provider(f, "web1", testNow, nil)
	sf := newSSLFleet(f, "alice")
	scl, snode := sf.client(f, "alice", nil), sf.server(f, nil)

	for _, p := range []Provider{cl, scl} {
		req := testRequest(f, p.CallerID())
		if err := p.SignRequest(req); err != nil {
			f.Fatal(err)
		}
		b, err := req.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	rep := &message.Reply{SenderID: "web1", RequestID: "r", SenderAgent: "rpcutil", Body: []byte("\x04\b0"), CallerID: "ed25519=alice"}
	for _, p := range []Provider{node, snode} {
		if err := p.SignReply(rep); err != nil {
			f.Fatal(err)
		}
		b, err := rep.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if req, err := message.DecodeRequest(b); err == nil {
			for _, p := range []Provider{node, snode} {
				c := *req
				_ = p.VerifyRequest(&c)
			}
		}
		if rep, err := message.DecodeReply(b); err == nil {
			for _, p := range []Provider{cl, scl} {
				c := *rep
				_ = p.VerifyReply(&c)
			}
		}
	})
}
