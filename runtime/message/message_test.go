package message

import (
	"errors"
	"math"
	"os"
	"reflect"
	"testing"

	"github.com/mcorun/mcorun/runtime/marshal"
)

func readCapture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The captures are real payloads from mco and mcollectived 2.12 (psk "secret").
func TestDecodeCapturedRequest(t *testing.T) {
	req, err := DecodeRequest(readCapture(t, "example_request_rpcutil_ping.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if req.SenderID != "client1.example" || req.Agent != "rpcutil" || req.Collective != "mcollective" ||
		req.CallerID != "uid=0" || req.TTL != 60 || req.MsgTime < 1<<30 || len(req.RequestID) != 32 ||
		req.Hash != "d163b1e270faadcb81d5ed94a93fc7af" {
		t.Fatalf("envelope: %+v", req)
	}
	want := Filter{CFClass: []string{"role::web"}, Agent: []string{"rpcutil"}}
	if !reflect.DeepEqual(req.Filter, want) {
		t.Fatalf("filter = %+v, want %+v", req.Filter, want)
	}
	body, err := DecodeBody(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := DecodeRPCRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Agent != "rpcutil" || rr.Action != "ping" || rr.Caller != "uid=0" || !rr.ProcessResults || len(rr.Data) != 0 {
		t.Fatalf("rpc body: %+v", rr)
	}
}

func TestDecodeCapturedReplies(t *testing.T) {
	rep, err := DecodeReply(readCapture(t, "example_reply_rpcutil_ping.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.SenderID != "node1.example" || rep.SenderAgent != "rpcutil" || rep.Hash == "" {
		t.Fatalf("reply envelope: %+v", rep)
	}
	body, err := DecodeBody(rep.Body)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := DecodeRPCReply(body)
	if err != nil {
		t.Fatal(err)
	}
	if rr.StatusCode != OK || rr.StatusMsg != "OK" {
		t.Fatalf("rpc reply: %+v", rr)
	}
	if pong, ok := rr.Data["pong"].(int64); !ok || pong < 1<<30 {
		t.Fatalf("pong = %#v", rr.Data["pong"])
	}

	d, err := DecodeReply(readCapture(t, "example_reply_discovery_pong.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := DecodeBody(d.Body); err != nil || v != "pong" {
		t.Fatalf("discovery reply body = %#v, %v", v, err)
	}
	q, err := DecodeRequest(readCapture(t, "example_request_discovery_ping.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := DecodeBody(q.Body); err != nil || v != "ping" || q.Agent != "discovery" {
		t.Fatalf("discovery request body = %#v, %v (agent %q)", v, err, q.Agent)
	}
}

func TestRequestRoundTrip(t *testing.T) {
	body, err := (&RPCRequest{Agent: "rpcutil", Action: "get_fact", Caller: "uid=0",
		Data: map[string]any{"fact": "role"}, ProcessResults: true}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	in := &Request{
		Body: body, SenderID: "c1", RequestID: "0123456789abcdef0123456789abcdef",
		Filter: Filter{
			Fact:     []FactFilter{{Fact: "role", Value: "web", Operator: "=="}},
			CFClass:  []string{"/nginx/"},
			Agent:    []string{"rpcutil"},
			Identity: []string{"web1", "/^db/"},
			Compound: [][]CompoundItem{{
				{Kind: Statement, Value: "role=web"}, {Kind: And}, {Kind: Not}, {Kind: LParen},
				{Kind: FStatement, Func: &DataCall{Name: "fstat", Params: "/etc/hosts", Value: "size", Operator: ">=", RCompare: "1"}},
				{Kind: RParen},
			}},
		},
		Collective: "mcollective", Agent: "rpcutil", CallerID: "uid=0", TTL: 60, MsgTime: 1795891885, Hash: "abc",
	}
	b, err := in.Encode()
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
	v, _ := DecodeBody(out.Body)
	rr, err := DecodeRPCRequest(v)
	if err != nil || rr.Data["fact"] != "role" || !rr.ProcessResults {
		t.Fatalf("body round trip: %+v %v", rr, err)
	}
}

func TestReplyRoundTrip(t *testing.T) {
	body, err := (&RPCReply{StatusCode: Aborted, StatusMsg: "nope", Data: map[string]any{"value": nil, "n": int64(3)}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	in := &Reply{SenderID: "n1", RequestID: "r", SenderAgent: "rpcutil", MsgTime: 5, Body: body, Hash: "h"}
	b, err := in.Encode()
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeReply(b)
	if err != nil || !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip: %+v %v", out, err)
	}
	v, _ := DecodeBody(out.Body)
	rr, err := DecodeRPCReply(v)
	if err != nil || rr.StatusCode != Aborted || rr.StatusMsg != "nope" || rr.Data["n"] != int64(3) {
		t.Fatalf("reply body: %+v %v", rr, err)
	}
	if _, ok := rr.Data["value"]; !ok {
		t.Fatal("a nil output must still be present")
	}
}

func TestRPCRequestStringKeysAndFireAndForget(t *testing.T) {
	body := map[any]any{"agent": "rpcutil", "action": "ping", "data": map[any]any{"process_results": false, "x": int64(1)}}
	rr, err := DecodeRPCRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Agent != "rpcutil" || rr.ProcessResults || rr.Data["x"] != int64(1) {
		t.Fatalf("got %+v", rr)
	}
	if _, ok := rr.Data["process_results"]; ok {
		t.Fatal("process_results must not leak into the inputs")
	}
}

func TestMalformed(t *testing.T) {
	enc := func(v any) []byte {
		b, err := marshal.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := map[string][]byte{
		"not a hash":          enc([]any{"a"}),
		"ttl is a string":     enc(map[marshal.Symbol]any{"ttl": "60"}),
		"filter not a hash":   enc(map[marshal.Symbol]any{"filter": "x"}),
		"fact entry string":   enc(map[marshal.Symbol]any{"filter": map[string]any{"fact": []any{"x"}}}),
		"compound not list":   enc(map[marshal.Symbol]any{"filter": map[string]any{"compound": []any{"x"}}}),
		"compound bad item":   enc(map[marshal.Symbol]any{"filter": map[string]any{"compound": []any{[]any{map[string]any{"nope": "x"}}}}}),
		"identity not string": enc(map[marshal.Symbol]any{"filter": map[string]any{"identity": []any{int64(1)}}}),
		"msgtime float huge":  enc(map[marshal.Symbol]any{"msgtime": 1e300}),
		"msgtime float nan":   enc(map[marshal.Symbol]any{"msgtime": math.NaN()}),
		"ttl float -inf":      enc(map[marshal.Symbol]any{"ttl": math.Inf(-1)}),
		"targets not a list":  enc(map[marshal.Symbol]any{"mcorun_targets": "web1"}),
		"target not a string": enc(map[marshal.Symbol]any{"mcorun_targets": []any{"web1", int64(2)}}),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeRequest(b)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
	if _, err := DecodeRequest([]byte("garbage")); err == nil || errors.Is(err, ErrMalformed) {
		t.Fatalf("garbage: err = %v, want a marshal error", err)
	}
}

// TestRequestTargets checks the mcorun target list: sent only when non-empty, so a broadcast
// envelope is MCollective's exactly, and decoded back in order.
func TestRequestTargets(t *testing.T) {
	r := &Request{RequestID: "r", Body: []byte("x"), TTL: 60}
	plain, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	r.Targets = []string{}
	empty, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(plain) != string(empty) {
		t.Errorf("an empty target list changes the envelope")
	}
	r.Targets = []string{"web2", "web1"}
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Targets, r.Targets) {
		t.Errorf("Targets = %q; want %q", got.Targets, r.Targets)
	}
	if got, err := DecodeRequest(plain); err != nil || got.Targets != nil {
		t.Errorf("broadcast: Targets = %q, %v; want none", got.Targets, err)
	}
}

func TestStatusString(t *testing.T) {
	if OK.String() != "OK" || InvalidData.String() != "InvalidRPCData" || Status(9).String() != "Status(9)" {
		t.Fatal(OK.String(), InvalidData.String(), Status(9).String())
	}
}

// FuzzDecodeRequest checks that hostile envelopes never panic the decoder.
func FuzzDecodeRequest(f *testing.F) {
	for _, n := range []string{"example_request_rpcutil_ping.bin", "example_request_discovery_ping.bin",
		"example_reply_rpcutil_ping.bin", "example_reply_discovery_pong.bin"} {
		f.Add(readCapture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if req, err := DecodeRequest(b); err == nil {
			if _, err := req.Encode(); err != nil {
				t.Fatalf("decoded request does not encode: %v", err)
			}
			if v, err := DecodeBody(req.Body); err == nil {
				_, _ = DecodeRPCRequest(v)
			}
		}
		if rep, err := DecodeReply(b); err == nil {
			if v, err := DecodeBody(rep.Body); err == nil {
				_, _ = DecodeRPCReply(v)
			}
		}
	})
}
