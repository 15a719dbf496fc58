package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/mcorun/mcorun/agents/discovery"
	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/match"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/security"
)

const discoveryAgent = "discovery"

// process is the pipeline for one message, in MCollective's order: decode the envelope,
// verify the signature, validate the callerid, reject an expired TTL, check the collective
// and the filter, then dispatch. Any failure is a logged drop with no reply.
func (s *Server) process(m connector.Message) {
	req, err := message.DecodeRequest(m.Body)
	if err != nil {
		s.stats.unvalidated.Add(1)
		s.drop(m, nil, "undecodable envelope", err)
		return
	}
	if err := s.opts.Security.VerifyRequest(req); err != nil {
		s.stats.unvalidated.Add(1)
		reason := "signature check failed"
		if errors.Is(err, security.ErrBadCallerID) {
			reason = "invalid callerid"
		}
		s.drop(m, req, reason, err)
		return
	}
	s.stats.validated.Add(1)
	if !security.ValidCallerID(req.CallerID) {
		s.drop(m, req, "invalid callerid", fmt.Errorf("callerid %q does not match ^\\w+=[\\w.-]+$", req.CallerID))
		return
	}
	now := s.opts.Now()
	if age := now.Unix() - req.MsgTime; age > req.TTL {
		s.stats.ttlExpired.Add(1)
		s.drop(m, req, "ttl expired", fmt.Errorf("created at %d, %d seconds old, ttl %d", req.MsgTime, age, req.TTL))
		return
	}
	if !slices.Contains(s.opts.Collectives, req.Collective) {
		s.drop(m, req, "unknown collective", fmt.Errorf("collective %q is not one of %v", req.Collective, s.opts.Collectives))
		return
	}
	a, known := s.agents[req.Agent]
	if !known && req.Agent != discoveryAgent {
		s.drop(m, req, "unknown agent", fmt.Errorf("agent %q is not served here", req.Agent))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout(a))
	defer cancel()
	ok, err := match.Match(ctx, req.Filter, node{s})
	if err != nil {
		s.log.Warn("malformed filter", "requestid", req.RequestID, "err", err)
	}
	if !ok {
		s.stats.filtered.Add(1)
		s.log.Debug("request does not pass filters", "requestid", req.RequestID, "agent", req.Agent)
		return
	}
	s.stats.passed.Add(1)
	body, err := message.DecodeBody(req.Body)
	if err != nil {
		s.drop(m, req, "undecodable body", err)
		return
	}
	var replyBody []byte
	if req.Agent == discoveryAgent {
		replyBody, err = message.EncodeBody(discovery.Handle(body))
	} else {
		replyBody, err = s.runRPC(ctx, a, req, body)
	}
	if err != nil {
		if !errors.Is(err, errNoReply) {
			s.log.Error("action failed", "requestid", req.RequestID, "agent", req.Agent, "err", err)
		}
		return
	}
	s.reply(m, req, replyBody)
}

var errNoReply = errors.New("no reply requested")

// runRPC validates and runs a SimpleRPC action and returns the encoded reply body.
func (s *Server) runRPC(ctx context.Context, a *agent.Agent, req *message.Request, body any) ([]byte, error) {
	rr, err := message.DecodeRPCRequest(body)
	if err != nil {
		return nil, err
	}
	reply := s.dispatch(ctx, a, req, rr)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s#%s timed out after %s: %w", req.Agent, rr.Action, s.timeout(a), ctx.Err())
	}
	if !rr.ProcessResults {
		return nil, errNoReply
	}
	return (&message.RPCReply{StatusCode: reply.Status, StatusMsg: reply.Message, Data: reply.Data}).Encode()
}

// dispatch runs the action, turning a DDL failure, a missing action or a panic into the
// status code MCollective gives it. It always returns a reply.
func (s *Server) dispatch(ctx context.Context, a *agent.Agent, req *message.Request, rr *message.RPCRequest) (rep *agent.Reply) {
	rep = &agent.Reply{Status: message.OK, Message: "OK", Data: a.DDL.Defaults(rr.Action)}
	if err := a.DDL.Validate(rr.Action, rr.Data); err != nil {
		rep.Fail(statusOf(err), err.Error())
		return rep
	}
	act, ok := a.Actions[rr.Action]
	if !ok {
		rep.Fail(message.UnknownAction, fmt.Sprintf("Unknown action '%s' for agent '%s'", rr.Action, req.Agent))
		return rep
	}
	a.DDL.SetInputDefaults(rr.Action, rr.Data)
	areq := &agent.Request{
		Agent: req.Agent, Action: rr.Action, Data: rr.Data, CallerID: req.CallerID,
		SenderID: req.SenderID, RequestID: req.RequestID, Collective: req.Collective,
		Time: time.Unix(req.MsgTime, 0),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("action panicked", "agent", req.Agent, "action", rr.Action, "panic", fmt.Sprint(r))
				rep.Fail(message.UnknownError, fmt.Sprintf("%s#%s failed: %v", req.Agent, rr.Action, r))
			}
		}()
		act(ctx, areq, rep)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return rep
}

func (s *Server) reply(m connector.Message, req *message.Request, body []byte) {
	rep := &message.Reply{
		SenderID: s.opts.Identity, RequestID: req.RequestID, SenderAgent: req.Agent,
		MsgTime: s.opts.Now().Unix(), Body: body,
	}
	if err := s.opts.Security.SignReply(rep); err != nil {
		s.log.Error("cannot sign reply", "requestid", req.RequestID, "err", err)
		return
	}
	b, err := rep.Encode()
	if err != nil {
		s.log.Error("cannot encode reply", "requestid", req.RequestID, "err", err)
		return
	}
	if m.ReplyTo == "" {
		s.log.Warn("request has no reply-to; reply not sent", "requestid", req.RequestID, "agent", req.Agent)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.mu.Lock()
	t := s.t
	s.mu.Unlock()
	if err := t.Send(ctx, m.ReplyTo, b, connector.SendHeaders{TTL: s.opts.ReplyTTL}); err != nil {
		s.log.Error("cannot send reply", "requestid", req.RequestID, "reply_to", m.ReplyTo, "err", err)
		return
	}
	s.stats.replies.Add(1)
}

func (s *Server) drop(m connector.Message, req *message.Request, reason string, err error) {
	attrs := []any{"reason", reason, "destination", m.Destination, "err", err}
	if req != nil {
		attrs = append(attrs, "requestid", req.RequestID, "senderid", req.SenderID,
			"callerid", req.CallerID, "agent", req.Agent)
	}
	s.log.Log(context.Background(), slog.LevelWarn, "dropped request", attrs...)
}

func (s *Server) timeout(a *agent.Agent) time.Duration {
	if a == nil {
		return 5 * time.Second // the discovery agent's DDL timeout
	}
	if t := a.DDL.Metadata.Timeout; t > 0 {
		return time.Duration(t) * time.Second
	}
	return 10 * time.Second
}

// statusOf maps a DDL validation error to its status code, InvalidData by default.
func statusOf(err error) message.Status {
	var se interface{ Status() message.Status }
	if errors.As(err, &se) {
		return se.Status()
	}
	return message.InvalidData
}
