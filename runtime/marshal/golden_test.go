package marshal

import (
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

const psk = "secret"

func readCapture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeEnvelope(t *testing.T, name string) map[any]any {
	t.Helper()
	v, err := Unmarshal(readCapture(t, name))
	if err != nil {
		t.Fatalf("Unmarshal(%s): %v", name, err)
	}
	m, ok := v.(map[any]any)
	if !ok {
		t.Fatalf("%s decodes to %T, want map[any]any", name, v)
	}
	return m
}

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func TestGoldenEnvelopes(t *testing.T) {
	tests := []struct {
		file      string
		keys      []Symbol
		senderid  string
		requestid string
		msgtime   int64
		hash      string
		body      any
		agentLink bool // :agent is an '@' link into the filter
		ttl       int64
	}{
		{
			file:      "example_request_rpcutil_ping.bin",
			keys:      []Symbol{"body", "senderid", "requestid", "filter", "collective", "agent", "callerid", "ttl", "msgtime", "hash"},
			senderid:  "client1.example",
			requestid: "050bc0a11dac5c1f9c8056fcf702136c",
			msgtime:   0x6b0819ac,
			hash:      "d163b1e270faadcb81d5ed94a93fc7af",
			body: map[any]any{
				Symbol("agent"):  "rpcutil",
				Symbol("action"): "ping",
				Symbol("caller"): "uid=0",
				Symbol("data"):   map[any]any{Symbol("process_results"): true},
			},
			agentLink: true,
			ttl:       60,
		},
		{
			file:      "example_reply_rpcutil_ping.bin",
			keys:      []Symbol{"senderid", "requestid", "senderagent", "msgtime", "body", "hash"},
			senderid:  "node1.example",
			requestid: "050bc0a11dac5c1f9c8056fcf702136c",
			msgtime:   0x6b0819ac,
			hash:      "581911f352605a893e8e3f2b5eb07ba6",
			body: map[any]any{
				Symbol("statuscode"): int64(0),
				Symbol("statusmsg"):  "OK",
				Symbol("data"):       map[any]any{Symbol("pong"): int64(0x6b0819ac)},
			},
		},
		{
			file:      "example_request_discovery_ping.bin",
			keys:      []Symbol{"body", "senderid", "requestid", "filter", "collective", "agent", "callerid", "ttl", "msgtime", "hash"},
			senderid:  "client1.example",
			requestid: "282006b09cac5abbb418a7b48fedfa5b",
			msgtime:   0x6b081995,
			hash:      "f0529ad4214d7d6941a2d13374c2d2b2",
			body:      "ping",
			ttl:       60,
		},
		{
			file:      "example_reply_discovery_pong.bin",
			keys:      []Symbol{"senderid", "requestid", "senderagent", "msgtime", "body", "hash"},
			senderid:  "node1.example",
			requestid: "282006b09cac5abbb418a7b48fedfa5b",
			msgtime:   0x6b081995,
			hash:      "f54915d02a2bed089eac5138b5e4d255",
			body:      "pong",
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			env := decodeEnvelope(t, tt.file)
			if len(env) != len(tt.keys) {
				t.Errorf("envelope has %d keys, want %d: %v", len(env), len(tt.keys), env)
			}
			for _, k := range tt.keys {
				if _, ok := env[k]; !ok {
					t.Errorf("missing Symbol key :%s", k)
				}
				if _, ok := env[string(k)]; ok {
					t.Errorf("key %q decoded as a String, want Symbol", k)
				}
			}
			if got := env[Symbol("senderid")]; got != tt.senderid {
				t.Errorf(":senderid = %#v, want %q", got, tt.senderid)
			}
			if got := env[Symbol("requestid")]; got != tt.requestid {
				t.Errorf(":requestid = %#v, want %q", got, tt.requestid)
			}
			if got := env[Symbol("msgtime")]; got != tt.msgtime {
				t.Errorf(":msgtime = %#v (%T), want int64 %d", got, got, tt.msgtime)
			}
			if got := env[Symbol("hash")]; got != tt.hash {
				t.Errorf(":hash = %#v, want %q", got, tt.hash)
			}
			if tt.ttl != 0 {
				if got := env[Symbol("ttl")]; got != tt.ttl {
					t.Errorf(":ttl = %#v, want %d", got, tt.ttl)
				}
				if got := env[Symbol("callerid")]; got != "uid=0" {
					t.Errorf(":callerid = %#v", got)
				}
				if got := env[Symbol("collective")]; got != "mcollective" {
					t.Errorf(":collective = %#v", got)
				}
			}
			inner, ok := env[Symbol("body")].(string)
			if !ok {
				t.Fatalf(":body is %T, want string", env[Symbol("body")])
			}
			if got := md5hex([]byte(inner + psk)); got != tt.hash {
				t.Errorf("md5hex(body+psk) = %s, want %s", got, tt.hash)
			}
			body, err := Unmarshal([]byte(inner))
			if err != nil {
				t.Fatalf("inner body: %v", err)
			}
			if !reflect.DeepEqual(body, tt.body) {
				t.Errorf("inner body = %#v, want %#v", body, tt.body)
			}
		})
	}
}

// TestGoldenRequestFilter checks the String-keyed filter and the '@' link that :agent uses.
func TestGoldenRequestFilter(t *testing.T) {
	env := decodeEnvelope(t, "example_request_rpcutil_ping.bin")
	filter, ok := env[Symbol("filter")].(map[any]any)
	if !ok {
		t.Fatalf(":filter is %T", env[Symbol("filter")])
	}
	want := map[any]any{
		"fact":     []any{},
		"cf_class": []any{"role::web"},
		"agent":    []any{"rpcutil"},
		"identity": []any{},
		"compound": []any{},
	}
	if !reflect.DeepEqual(filter, want) {
		t.Errorf("filter = %#v, want %#v", filter, want)
	}
	if got := env[Symbol("agent")]; got != "rpcutil" {
		t.Errorf(":agent = %#v, want \"rpcutil\"", got)
	}
	// The capture really uses an object link for :agent (index 0x11-5 = 12).
	raw := readCapture(t, "example_request_rpcutil_ping.bin")
	if !containsBytes(raw, []byte(":\x0aagent@\x11")) {
		t.Error("capture no longer contains the :agent@\\x11 link this test relies on")
	}
}

func containsBytes(b, sub []byte) bool {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return true
		}
	}
	return false
}

// TestGoldenReencode re-encodes each capture and checks that it decodes to the same value
// and that the inner bodies still verify.
func TestGoldenReencode(t *testing.T) {
	for _, name := range captureNames {
		t.Run(name, func(t *testing.T) {
			v, err := Unmarshal(readCapture(t, name))
			if err != nil {
				t.Fatal(err)
			}
			b, err := Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, v) {
				t.Errorf("re-encoded capture decodes to %#v, want %#v", back, v)
			}
		})
	}
}

var captureNames = []string{
	"example_request_rpcutil_ping.bin",
	"example_reply_rpcutil_ping.bin",
	"example_request_discovery_ping.bin",
	"example_reply_discovery_pong.bin",
}
