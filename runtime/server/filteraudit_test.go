package server

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/security"
)

// TestDataPluginUseAudited checks that the data plugin calls of a filter and discovery
// requests are logged as audit lines, with the caller, and that the lines are rate-limited
// with a count of those left out.
func TestDataPluginUseAudited(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, _, logs := newTestServerWith(t, func(o *Options) { o.Now = clock })
	sec := psk(t)
	f := message.Filter{Compound: [][]message.CompoundItem{{{Kind: message.FStatement, Func: &message.DataCall{
		Name: "fstat", Params: "/etc/shadow", Value: "md5", Operator: "==", RCompare: "x"}}}}}
	msg := request(t, sec, "tester", "echo", map[string]any{"msg": "x"}, f)
	s.Handle(msg)
	s.inflight.Wait()
	line := logs.String()
	for _, want := range []string{`msg="audit: data plugins in filter"`, `fstat(\"/etc/shadow\")`, `callerid="uid=0"`, "matched=false"} {
		if !strings.Contains(line, want) {
			t.Fatalf("log lacks %s:\n%s", want, line)
		}
	}
	logs.Reset()
	s.Handle(discoveryPing(t, sec))
	s.inflight.Wait()
	if !strings.Contains(logs.String(), `msg="audit: discovery"`) {
		t.Fatalf("discovery not audited:\n%s", logs.String())
	}
	logs.Reset()
	for range auditBurst + 10 {
		s.Handle(msg)
	}
	s.inflight.Wait()
	if n := strings.Count(logs.String(), "msg=\"audit: "); n != auditBurst-2 {
		t.Fatalf("%d audit lines in a minute, want %d", n, auditBurst-2)
	}
	mu.Lock()
	now = now.Add(auditWindow)
	mu.Unlock()
	logs.Reset()
	s.Handle(msg)
	s.inflight.Wait()
	if !strings.Contains(logs.String(), "suppressed_before=12") {
		t.Fatalf("the next window's first line lacks the count of lines left out:\n%s", logs.String())
	}
}

// discoveryPing is a signed discovery request, as mco's discovery sends.
func discoveryPing(t *testing.T, sec security.Provider) connector.Message {
	t.Helper()
	body, err := message.EncodeBody("ping")
	if err != nil {
		t.Fatal(err)
	}
	req := &message.Request{Body: body, SenderID: "c", RequestID: "0123456789abcdef0123456789abcdef",
		Collective: "mcollective", Agent: "discovery", CallerID: "uid=0", TTL: 60, MsgTime: time.Now().Unix()}
	if err := sec.SignRequest(req); err != nil {
		t.Fatal(err)
	}
	b, err := req.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return connector.Message{Destination: "/exchange/mcollective_broadcast/discovery", ReplyTo: "/reply-queue/x", Body: b}
}
