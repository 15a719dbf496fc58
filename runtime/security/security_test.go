package security

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/message"
)

// newConfig parses src with an environment holding only env.
func newConfig(t *testing.T, src string, env map[string]string) *config.Config {
	t.Helper()
	c, err := config.Parse(strings.NewReader(src), "test.cfg")
	if err != nil {
		t.Fatal(err)
	}
	c.LookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	return c
}

func newPSK(t *testing.T, src string, env map[string]string) *PSK {
	t.Helper()
	p, err := NewPSK(newConfig(t, src, env))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidCallerID(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"uid=0", true}, {"cert=host.example-1", true}, {"user=deploy_bot", true}, {"A_1=b", true},
		{"", false}, {"uid=", false}, {"=0", false}, {"uid", false}, {"uid=0/1", false}, {"u-d=0", false},
		{"uid=a b", false}, {"uid=0\n", false}, {"uid=é", false}, {"uid=0=1", false}, {"user=a@b", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := ValidCallerID(tt.in); got != tt.want {
				t.Errorf("ValidCallerID(%q) = %v", tt.in, got)
			}
			err := CheckCallerID(tt.in)
			if tt.want != (err == nil) {
				t.Fatalf("CheckCallerID(%q) = %v", tt.in, err)
			}
			if err != nil && (!errors.Is(err, ErrBadCallerID) || !strings.Contains(err.Error(), strconv.Quote(tt.in))) {
				t.Errorf("CheckCallerID(%q) = %v; want ErrBadCallerID quoting the value", tt.in, err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	p, err := New(newConfig(t, "plugin.psk = k", nil))
	if err != nil || p.Name() != "psk" {
		t.Fatalf("New = %v, %v", p, err)
	}
	_, err = New(newConfig(t, "securityprovider = aes\nplugin.psk = k", nil))
	if err == nil || !strings.Contains(err.Error(), `security provider "aes" is not supported; set securityprovider to psk, ssl or ed25519`) {
		t.Errorf("New(aes) error = %v", err)
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}

func TestNewPSKKey(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		env     map[string]string
		wantKey string
		wantErr string
	}{
		{"file", "plugin.psk =  from file  ", nil, "from file", ""},
		{"env wins", "plugin.psk = file", map[string]string{"MCOLLECTIVE_PSK": " env "}, " env ", ""},
		{"env only", "", map[string]string{"MCOLLECTIVE_PSK": "env"}, "env", ""},
		{"missing", "", nil, "", "set plugin.psk in test.cfg or the MCOLLECTIVE_PSK environment variable"},
		{"empty env", "plugin.psk = file", map[string]string{"MCOLLECTIVE_PSK": ""}, "", "empty"},
		{"bad callertype", "plugin.psk = k\nplugin.psk.callertype = cert", nil, "", `callertype "cert"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPSK(newConfig(t, tt.src, tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(p.key) != tt.wantKey {
				t.Errorf("key = %q, want %q", p.key, tt.wantKey)
			}
		})
	}
}

func TestCallerTypes(t *testing.T) {
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.LookupId(strconv.Itoa(os.Getuid()))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		callertype string
		env        map[string]string
		want       string
	}{
		{"", nil, "uid=" + strconv.Itoa(os.Getuid())},
		{"uid", nil, "uid=" + strconv.Itoa(os.Getuid())},
		{"gid", nil, "gid=" + strconv.Itoa(os.Getgid())},
		{"group", nil, "group=" + g.Name},
		{"user", map[string]string{"USER": "deploy"}, "user=deploy"},
		{"user", nil, "user=" + u.Username},
		{"identity", nil, "identity=node1.example"},
	}
	for _, tt := range tests {
		t.Run(tt.callertype+tt.want, func(t *testing.T) {
			src := "identity = node1.example\nplugin.psk = k\n"
			if tt.callertype != "" {
				src += "plugin.psk.callertype = " + tt.callertype + "\n"
			}
			if got := newPSK(t, src, tt.env).CallerID(); got != tt.want {
				t.Errorf("CallerID() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	p := newPSK(t, "plugin.psk = secret", nil)
	other := newPSK(t, "plugin.psk = other", nil)

	req := &message.Request{Body: []byte("\x04\bI\"\tping\x06:\x06ET"), RequestID: "r1", SenderID: "c1", CallerID: "uid=0"}
	if err := p.SignRequest(req); err != nil {
		t.Fatal(err)
	}
	if len(req.Hash) != 32 || strings.ToLower(req.Hash) != req.Hash {
		t.Errorf("hash %q is not 32 lowercase hex digits", req.Hash)
	}
	if err := p.VerifyRequest(req); err != nil {
		t.Errorf("VerifyRequest: %v", err)
	}
	if err := other.VerifyRequest(req); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyRequest with another key = %v", err)
	}

	rep := &message.Reply{Body: []byte("\x04\bI\"\tpong\x06:\x06ET"), RequestID: "r1", SenderID: "n1"}
	if err := p.SignReply(rep); err != nil {
		t.Fatal(err)
	}
	if err := p.VerifyReply(rep); err != nil {
		t.Errorf("VerifyReply: %v", err)
	}
	rep.Body[len(rep.Body)-1] = 'F'
	if err := p.VerifyReply(rep); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyReply tampered = %v", err)
	}

	bad := *req
	bad.CallerID = "uid=0;rm"
	err := p.VerifyRequest(&bad)
	if !errors.Is(err, ErrBadCallerID) || !strings.Contains(err.Error(), `"uid=0;rm"`) {
		t.Errorf("VerifyRequest bad callerid = %v", err)
	}

	for _, f := range []func() error{
		func() error { return p.SignRequest(nil) }, func() error { return p.VerifyRequest(nil) },
		func() error { return p.SignReply(nil) }, func() error { return p.VerifyReply(nil) },
	} {
		if f() == nil {
			t.Error("nil envelope accepted")
		}
	}
}

// golden holds the inner body offsets of the captured envelopes (psk "secret").
var golden = []struct {
	file       string
	start, end int
	hash       string
}{
	// 04 08 7b 0f 3a 09 "body" 22 60: a 91-byte raw String from offset 12.
	{"example_request_rpcutil_ping.bin", 12, 103, "d163b1e270faadcb81d5ed94a93fc7af"},
	// ... 3a 09 "body" 22 41: a 60-byte raw String from offset 136.
	{"example_reply_rpcutil_ping.bin", 136, 196, "581911f352605a893e8e3f2b5eb07ba6"},
}

func TestGoldenCaptures(t *testing.T) {
	p := newPSK(t, "plugin.psk = secret", nil)
	for _, g := range golden {
		t.Run(g.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", g.file))
			if err != nil {
				t.Fatal(err)
			}
			if raw[g.start-1] != byte(g.end-g.start+5) || raw[g.start-2] != '"' {
				t.Fatalf("no String of length %d at offset %d", g.end-g.start, g.start)
			}
			body := append([]byte(nil), raw[g.start:g.end]...)
			if !strings.Contains(string(raw), g.hash) {
				t.Fatalf("capture does not carry hash %s", g.hash)
			}
			if strings.HasPrefix(g.file, "example_request") {
				req := &message.Request{Body: body, Hash: g.hash, CallerID: "uid=0"}
				if err := p.VerifyRequest(req); err != nil {
					t.Errorf("VerifyRequest: %v", err)
				}
				signed := &message.Request{Body: body}
				if err := p.SignRequest(signed); err != nil || signed.Hash != g.hash {
					t.Errorf("SignRequest hash = %q, %v; want %s", signed.Hash, err, g.hash)
				}
				body[20] ^= 1
				if err := p.VerifyRequest(req); !errors.Is(err, ErrBadSignature) {
					t.Errorf("VerifyRequest tampered = %v", err)
				}
				return
			}
			rep := &message.Reply{Body: body, Hash: g.hash}
			if err := p.VerifyReply(rep); err != nil {
				t.Errorf("VerifyReply: %v", err)
			}
			body[20] ^= 1
			if err := p.VerifyReply(rep); !errors.Is(err, ErrBadSignature) {
				t.Errorf("VerifyReply tampered = %v", err)
			}
		})
	}
}

func TestKeyNeverShown(t *testing.T) {
	const key = "TopSecretKey"
	p := newPSK(t, "plugin.psk = "+key, nil)
	var prov Provider = p
	outs := []string{
		p.String(), p.GoString(),
		fmt.Sprintf("%v %+v %#v %s %q %x %d", p, p, p, p, p, p, p),
		fmt.Sprintf("%v %+v %#v", *p, *p, prov),
		fmt.Sprint(p), fmt.Sprint([]any{p}),
	}
	req := &message.Request{Body: []byte("x"), Hash: "bad", CallerID: "uid=0"}
	outs = append(outs, p.VerifyRequest(req).Error())
	_, err := NewPSK(newConfig(t, "plugin.psk = k\nplugin.psk.callertype = nope", map[string]string{"MCOLLECTIVE_PSK": key}))
	outs = append(outs, err.Error())
	for _, s := range outs {
		if strings.Contains(s, key) || strings.Contains(s, fmt.Sprintf("%x", key)) {
			t.Errorf("output shows the key: %q", s)
		}
	}
}

// TestMCollectiveProvidersSendNoTargets checks that psk and ssl, whose envelopes are
// MCollective's, neither sign nor send the mcorun target list.
func TestMCollectiveProvidersSendNoTargets(t *testing.T) {
	for _, p := range []Provider{newPSK(t, "plugin.psk = k", nil), newSSLFleet(t, "alice").client(t, "alice", nil)} {
		req := &message.Request{Body: []byte("\x04\bI\"\tping\x06:\x06ET"), RequestID: "r", CallerID: p.CallerID(), TTL: 60, MsgTime: 1, Targets: []string{"web1"}}
		if err := p.SignRequest(req); err != nil {
			t.Fatal(err)
		}
		b, err := req.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if req.Targets != nil || strings.Contains(string(b), "mcorun_targets") {
			t.Errorf("%s: signed request keeps its target list: %q", p.Name(), b)
		}
	}
}
