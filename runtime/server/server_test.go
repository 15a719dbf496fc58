package server

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcorun/mcorun/agents"
	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/match"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/security"
)

// fakeTransport records subscriptions and sent replies.
type fakeTransport struct {
	mu    sync.Mutex
	dests []string
	sent  chan []byte
}

func (f *fakeTransport) Subscribe(dest string, h connector.Handler) (*connector.Subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dests = append(f.dests, dest)
	return nil, nil
}

func (f *fakeTransport) Send(_ context.Context, _ string, body []byte, _ connector.SendHeaders) error {
	f.sent <- body
	return nil
}

type staticFacts map[string]any

func (s staticFacts) Facts() map[string]any        { return s }
func (s staticFacts) Fact(name string) (any, bool) { v, ok := s[name]; return v, ok }

func psk(t *testing.T) security.Provider {
	t.Helper()
	cfg := config.Defaults("test")
	cfg.Identity = "n1"
	cfg.Plugin = map[string]string{"psk": "k"}
	p, err := security.NewPSK(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testAgent has an action that works, one that panics, one that outlives its timeout and
// one declared in the DDL but not implemented.
func testAgent() *agent.Agent {
	out := map[string]*ddl.Output{"v": {Description: "v", DisplayAs: "V", Default: "dflt"}}
	d := &ddl.Agent{
		Metadata: ddl.Metadata{Name: "tester", Timeout: 1},
		Actions: map[string]*ddl.Action{
			"echo":  {Input: map[string]*ddl.Input{"msg": {Type: "string", Validation: "^\\w+$", MaxLength: 10}}, Output: out},
			"boom":  {Output: out},
			"slow":  {Output: out},
			"ghost": {Output: out},
		},
	}
	return &agent.Agent{DDL: d, Actions: map[string]agent.Action{
		"echo": func(_ context.Context, req *agent.Request, rep *agent.Reply) { rep.Data["v"] = req.Data["msg"] },
		"boom": func(context.Context, *agent.Request, *agent.Reply) { panic("kaboom") },
		"slow": func(ctx context.Context, _ *agent.Request, _ *agent.Reply) { <-ctx.Done() },
	}}
}

func newTestServer(t *testing.T) (*Server, *fakeTransport, *bytes.Buffer) {
	t.Helper()
	return newTestServerWith(t, nil)
}

// newTestServerWith is newTestServer with edit applied to the options first.
func newTestServerWith(t *testing.T, edit func(*Options)) (*Server, *fakeTransport, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	var mu sync.Mutex
	opts := Options{
		Identity: "n1", Collectives: []string{"mcollective", "other"}, DirectAddressing: true,
		Security: psk(t), Facts: staticFacts{"role": "web"}, Plugins: agents.Standard,
		Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Register(testAgent())
	tr := &fakeTransport{sent: make(chan []byte, 10)}
	if err := s.Start(tr); err != nil {
		t.Fatal(err)
	}
	return s, tr, &logs
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func request(t *testing.T, sec security.Provider, agentName, action string, data map[string]any, f message.Filter) connector.Message {
	t.Helper()
	body, err := (&message.RPCRequest{Agent: agentName, Action: action, Caller: "uid=0", Data: data, ProcessResults: true}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	req := &message.Request{Body: body, SenderID: "c", RequestID: "00112233445566778899aabbccddeeff", Filter: f,
		Collective: "mcollective", Agent: agentName, CallerID: "uid=0", TTL: 60, MsgTime: time.Now().Unix()}
	if err := sec.SignRequest(req); err != nil {
		t.Fatal(err)
	}
	b, err := req.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return connector.Message{Destination: "/exchange/mcollective_broadcast/" + agentName, ReplyTo: "/reply-queue/x", Body: b}
}

func awaitReply(t *testing.T, tr *fakeTransport) *message.RPCReply {
	t.Helper()
	_, v := awaitBody(t, tr)
	rr, err := message.DecodeRPCReply(v)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// awaitBody waits for the next reply sent and returns its envelope and decoded body.
func awaitBody(t *testing.T, tr *fakeTransport) (*message.Reply, any) {
	t.Helper()
	select {
	case b := <-tr.sent:
		rep, err := message.DecodeReply(b)
		if err != nil {
			t.Fatal(err)
		}
		v, err := message.DecodeBody(rep.Body)
		if err != nil {
			t.Fatal(err)
		}
		return rep, v
	case <-time.After(5 * time.Second):
		t.Fatal("no reply")
	}
	return nil, nil
}

func TestSubscriptions(t *testing.T) {
	_, tr, _ := newTestServer(t)
	want := []string{
		"/exchange/mcollective_broadcast/discovery", "/exchange/mcollective_broadcast/rpcutil",
		"/exchange/mcollective_broadcast/tester", "/exchange/mcollective_directed/n1",
		"/exchange/other_broadcast/discovery", "/exchange/other_broadcast/rpcutil",
		"/exchange/other_broadcast/tester", "/exchange/other_directed/n1",
	}
	if strings.Join(tr.dests, " ") != strings.Join(want, " ") {
		t.Fatalf("subscribed to %v\nwant %v", tr.dests, want)
	}
}

func TestDispatchStatusCodes(t *testing.T) {
	s, tr, _ := newTestServer(t)
	sec := psk(t)
	cases := []struct {
		action string
		data   map[string]any
		code   message.Status
		msg    string
		v      any
	}{
		{"echo", map[string]any{"msg": "hi"}, message.OK, "OK", "hi"},
		{"echo", map[string]any{"msg": "no spaces"}, message.InvalidData, "msg", "dflt"},
		{"echo", map[string]any{}, message.InvalidData, "needs a msg argument", "dflt"},
		{"nosuch", nil, message.InvalidData, "not declared in the DDL", nil},
		{"ghost", nil, message.UnknownAction, "Unknown action 'ghost' for agent 'tester'", "dflt"},
		{"boom", nil, message.UnknownError, "kaboom", "dflt"},
	}
	for _, tc := range cases {
		t.Run(tc.action+"/"+tc.msg, func(t *testing.T) {
			s.Handle(request(t, sec, "tester", tc.action, tc.data, message.Filter{}))
			rr := awaitReply(t, tr)
			if rr.StatusCode != tc.code || !strings.Contains(rr.StatusMsg, tc.msg) {
				t.Fatalf("got %v %q, want %v containing %q", rr.StatusCode, rr.StatusMsg, tc.code, tc.msg)
			}
			if tc.v != nil && rr.Data["v"] != tc.v {
				t.Fatalf("data v = %#v, want %#v (DDL default filled in)", rr.Data["v"], tc.v)
			}
		})
	}
}

func TestNoReplyCases(t *testing.T) {
	s, tr, logs := newTestServer(t)
	sec := psk(t)
	fire := request(t, sec, "tester", "echo", map[string]any{"msg": "x"}, message.Filter{})
	{
		body, _ := (&message.RPCRequest{Agent: "tester", Action: "echo", Caller: "uid=0", Data: map[string]any{"msg": "x"}}).Encode()
		req := &message.Request{Body: body, SenderID: "c", RequestID: "ff", Collective: "mcollective", Agent: "tester",
			CallerID: "uid=0", TTL: 60, MsgTime: time.Now().Unix()}
		_ = sec.SignRequest(req)
		fire.Body, _ = req.Encode()
	}
	cases := map[string]struct {
		msg connector.Message
		log string
	}{
		"filter mismatch":    {request(t, sec, "tester", "echo", map[string]any{"msg": "x"}, message.Filter{CFClass: []string{"db"}}), "does not pass filters"},
		"fire and forget":    {fire, ""},
		"action timeout":     {request(t, sec, "tester", "slow", nil, message.Filter{}), "timed out"},
		"unknown agent":      {request(t, sec, "nosuch", "x", nil, message.Filter{}), "unknown agent"},
		"unknown collective": {withCollective(t, sec, "elsewhere"), "unknown collective"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s.Handle(tc.msg)
			s.inflight.Wait()
			select {
			case <-tr.sent:
				t.Fatal("a reply was sent")
			default:
			}
			if tc.log != "" && !strings.Contains(logs.String(), tc.log) {
				t.Fatalf("log lacks %q:\n%s", tc.log, logs.String())
			}
		})
	}
	if got := s.stats.filtered.Load(); got != 1 {
		t.Fatalf("filtered = %d, want 1", got)
	}
}

func withCollective(t *testing.T, sec security.Provider, c string) connector.Message {
	t.Helper()
	body, _ := (&message.RPCRequest{Agent: "tester", Action: "echo", Caller: "uid=0", ProcessResults: true}).Encode()
	req := &message.Request{Body: body, SenderID: "c", RequestID: "ee", Collective: c, Agent: "tester",
		CallerID: "uid=0", TTL: 60, MsgTime: time.Now().Unix()}
	_ = sec.SignRequest(req)
	b, _ := req.Encode()
	return connector.Message{ReplyTo: "/reply-queue/x", Body: b}
}

func TestShutdownWaitsForInflight(t *testing.T) {
	s, _, _ := newTestServer(t)
	s.Handle(request(t, psk(t), "tester", "slow", nil, message.Filter{}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if n := len(s.sem); n != 0 {
		t.Fatalf("%d actions still running after shutdown", n)
	}
}

// TestShutdownStartsNoQueuedRequest checks that a request still waiting for a worker when
// shutdown begins is dropped rather than run: its handler returns at once, and no action
// starts (and no reply goes out) after the node was told to stop.
func TestShutdownStartsNoQueuedRequest(t *testing.T) {
	s, tr, _ := newTestServerWith(t, func(o *Options) { o.MaxConcurrent = 1 })
	sec := psk(t)
	s.Handle(request(t, sec, "tester", "slow", nil, message.Filter{})) // holds the only worker for 1s
	queued := make(chan struct{})
	go func() {
		defer close(queued)
		s.Handle(request(t, sec, "tester", "echo", map[string]any{"msg": "late"}, message.Filter{}))
	}()
	time.Sleep(100 * time.Millisecond) // the echo request now waits for the worker
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- s.Shutdown(ctx)
	}()
	select {
	case <-queued:
	case <-time.After(500 * time.Millisecond):
		t.Error("a request waiting for a worker kept its handler blocked after shutdown began")
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	<-queued
	select {
	case b := <-tr.sent:
		t.Fatalf("a reply (%d bytes) was sent for a request that was still queued at shutdown", len(b))
	case <-time.After(200 * time.Millisecond):
	}
}

// edited re-encodes msg's request after edit, which psk does not sign.
func edited(t *testing.T, msg connector.Message, edit func(*message.Request)) connector.Message {
	t.Helper()
	req, err := message.DecodeRequest(msg.Body)
	if err != nil {
		t.Fatal(err)
	}
	edit(req)
	if msg.Body, err = req.Encode(); err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestTargetsAndAge checks that a node drops a request whose target list does not name it
// and runs one whose list does, and that a message time far in the past is an expired TTL
// rather than an overflowing age.
func TestTargetsAndAge(t *testing.T) {
	s, tr, logs := newTestServer(t)
	sec := psk(t)
	echo := func() connector.Message {
		return request(t, sec, "tester", "echo", map[string]any{"msg": "x"}, message.Filter{})
	}
	for name, tc := range map[string]struct {
		edit func(*message.Request)
		log  string
	}{
		"other node":        {func(r *message.Request) { r.Targets = []string{"n2"} }, `reason="not addressed to this node"`},
		"ancient msgtime":   {func(r *message.Request) { r.MsgTime = math.MinInt64 }, `reason="ttl expired"`},
		"msgtime near min":  {func(r *message.Request) { r.MsgTime = math.MinInt64 + time.Now().Unix() - 1 }, `reason="ttl expired"`},
		"huge negative ttl": {func(r *message.Request) { r.TTL = math.MinInt64 }, `reason="ttl expired"`},
	} {
		t.Run(name, func(t *testing.T) {
			logs.Reset()
			s.Handle(edited(t, echo(), tc.edit))
			s.inflight.Wait()
			select {
			case <-tr.sent:
				t.Fatal("a reply was sent")
			default:
			}
			if !strings.Contains(logs.String(), tc.log) {
				t.Fatalf("log lacks %q:\n%s", tc.log, logs.String())
			}
		})
	}
	s.Handle(edited(t, echo(), func(r *message.Request) { r.Targets = []string{"n2", "n1"} }))
	if rr := awaitReply(t, tr); rr.StatusCode != message.OK {
		t.Fatalf("directed to n1: status %v", rr.StatusCode)
	}
}

// TestOversizedFilterDropped checks that a filter over the matcher's limits is a logged drop
// naming why, as every other drop is, and that a malformed one is too.
func TestOversizedFilterDropped(t *testing.T) {
	s, tr, logs := newTestServer(t)
	sec := psk(t)
	for name, tc := range map[string]struct {
		f   message.Filter
		log string
	}{
		"long regex":     {message.Filter{Identity: []string{"/^(" + strings.Repeat("n1|", 600_000) + "x)$/"}}, `reason="filter too large"`},
		"huge program":   {message.Filter{CFClass: []string{"/" + strings.Repeat("(x{1000})", 30) + "/"}}, `reason="filter too large"`},
		"backreference":  {message.Filter{Identity: []string{`/(a)\1/`}}, `reason="malformed filter"`},
		"too many bytes": {message.Filter{Identity: slices.Repeat([]string{strings.Repeat("n", 1000)}, 1100)}, `reason="filter too large"`},
	} {
		t.Run(name, func(t *testing.T) {
			logs.Reset()
			s.Handle(request(t, sec, "tester", "echo", map[string]any{"msg": "x"}, tc.f))
			s.inflight.Wait()
			select {
			case <-tr.sent:
				t.Fatal("a reply was sent")
			default:
			}
			if !strings.Contains(logs.String(), tc.log) || !strings.Contains(logs.String(), "dropped request") {
				t.Fatalf("log lacks a drop with %q:\n%.2000s", tc.log, logs.String())
			}
		})
	}
}

// TestServersShareRegexps checks that servers given one Regexps compile a filter's regular
// expressions once between them, and that a server given none keeps its own.
func TestServersShareRegexps(t *testing.T) {
	rx := match.NewRegexps()
	f := message.Filter{
		Identity: []string{`/^n\d$/`},
		Fact:     []message.FactFilter{{Fact: "role", Operator: "=~", Value: "/^w/"}},
	}
	share := func(o *Options) { o.Regexps = rx }
	type running struct {
		s  *Server
		tr *fakeTransport
	}
	var nodes []running
	for _, edit := range []func(*Options){share, share, nil} {
		s, tr, _ := newTestServerWith(t, edit)
		nodes = append(nodes, running{s, tr})
	}
	sec := psk(t)
	for _, n := range nodes {
		n.s.Handle(request(t, sec, "tester", "echo", map[string]any{"msg": "x"}, f))
		if rr := awaitReply(t, n.tr); rr.StatusCode != message.OK {
			t.Fatalf("status %d (%s), want OK", rr.StatusCode, rr.StatusMsg)
		}
	}
	if rx.Len() != 2 {
		t.Fatalf("the shared memo holds %d expressions, want 2", rx.Len())
	}
	if own := nodes[2].s.opts.Regexps; own == rx || own.Len() != 2 {
		t.Fatalf("a server built without Regexps: shares the memo %t, holds %d expressions; want its own with 2", own == rx, own.Len())
	}
}
