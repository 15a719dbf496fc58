package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/audit"
	"github.com/mcorun/mcorun/runtime/authz"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/match"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/security"
)

// process is the pipeline for one message, in MCollective's order: decode the envelope,
// check a directed request's target list, verify the signature, validate the callerid, reject an expired TTL, check the collective
// and the filter, then dispatch. Any failure is a logged drop with no reply.
func (s *Server) process(m connector.Message) {
	req, err := message.DecodeRequest(m.Body)
	if err != nil {
		s.stats.unvalidated.Add(1)
		s.drop(m, nil, "undecodable envelope", err)
		return
	}
	// A directed request names its nodes (signed under ed25519). The check comes before the
	// signature's, so a request re-aimed at this node does not enter the replay cache and
	// cannot make the node refuse a later request with the same id that is meant for it.
	if len(req.Targets) > 0 && !slices.Contains(req.Targets, s.opts.Identity) {
		s.stats.unvalidated.Add(1)
		s.drop(m, req, "not addressed to this node", fmt.Errorf("directed to %d other node(s), not %q", len(req.Targets), s.opts.Identity))
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
	if age := ageOf(now.Unix(), req.MsgTime); age > req.TTL {
		s.stats.ttlExpired.Add(1)
		s.drop(m, req, "ttl expired", fmt.Errorf("created at %d, %d seconds old, ttl %d", req.MsgTime, age, req.TTL))
		return
	}
	if !slices.Contains(s.opts.Collectives, req.Collective) {
		s.drop(m, req, "unknown collective", fmt.Errorf("collective %q is not one of %v", req.Collective, s.opts.Collectives))
		return
	}
	a, known := s.agent(req.Agent)
	if !known {
		s.drop(m, req, "unknown agent", fmt.Errorf("agent %q is not served here", req.Agent))
		return
	}
	ctx, cancel := s.opts.Clock.WithTimeout(context.Background(), s.timeout(a))
	defer cancel()
	calls := &dataCalls{node: node{s}}
	ok, err := s.matcher.Match(ctx, req.Filter, calls)
	if len(calls.calls) > 0 {
		s.auditLine("data plugins in filter", req, "calls", calls.calls, "matched", ok)
	}
	if err != nil {
		s.stats.filtered.Add(1)
		reason := "malformed filter"
		if errors.Is(err, match.ErrTooLarge) {
			reason = "filter too large"
		}
		s.drop(m, req, reason, err)
		return
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
	if a.Handle != nil {
		s.auditLine("discovery", req)
		replyBody, err = message.EncodeBody(a.Handle(body))
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

// ageOf is now - msgtime, saturated to the int64 range, so that a message time far in the
// past is very old (as in Ruby, whose Integers do not overflow) rather than in the future.
func ageOf(now, msgtime int64) int64 {
	age := now - msgtime
	switch {
	case msgtime < 0 && age < now:
		return math.MaxInt64
	case msgtime > 0 && age > now:
		return math.MinInt64
	}
	return age
}

// runRPC validates, authorizes and runs a SimpleRPC action, audits it, and returns the
// encoded reply body.
func (s *Server) runRPC(ctx context.Context, a *agent.Agent, req *message.Request, body any) ([]byte, error) {
	rr, err := message.DecodeRPCRequest(body)
	if err != nil {
		return nil, err
	}
	var data map[string]any
	if s.opts.Audit != nil {
		data = maps.Clone(rr.Data)
		if data == nil {
			data = map[string]any{}
		}
		if _, ok := data["process_results"]; !ok {
			data["process_results"] = rr.ProcessResults
		}
	}
	reply, denied := s.dispatch(ctx, a, req, rr)
	if ctx.Err() != nil {
		err := fmt.Errorf("%s#%s timed out after %s: %w", req.Agent, rr.Action, s.timeout(a), ctx.Err())
		s.audit(req, rr.Action, data, message.UnknownError, err.Error(), audit.OutcomeTimeout)
		return nil, err
	}
	outcome := audit.OutcomeOK
	switch {
	case denied:
		outcome = audit.OutcomeDenied
	case reply.Status != message.OK:
		outcome = audit.OutcomeFailed
	}
	s.audit(req, rr.Action, data, reply.Status, reply.Message, outcome)
	if !rr.ProcessResults {
		return nil, errNoReply
	}
	return (&message.RPCReply{StatusCode: reply.Status, StatusMsg: reply.Message, Data: reply.Data}).Encode()
}

// audit writes the request's audit record when auditing is on; a failure is logged and
// does not stop the reply, as in MCollective.
func (s *Server) audit(req *message.Request, action string, data map[string]any, st message.Status, msg, outcome string) {
	if s.opts.Audit == nil {
		return
	}
	err := s.opts.Audit.Write(audit.Record{
		Time: s.opts.Now(), RequestID: req.RequestID, RequestAt: req.MsgTime, CallerID: req.CallerID,
		SenderID: req.SenderID, Collective: req.Collective, Agent: req.Agent, Action: action,
		Data: data, StatusCode: int(st), StatusMsg: msg, Outcome: outcome,
	})
	if err != nil {
		s.log.Error("cannot write audit record", "requestid", req.RequestID, "err", err)
	}
}

// dispatch runs the action, turning a DDL failure, a denial, a missing action or a panic
// into the status code MCollective gives it. It always returns a reply; denied reports
// whether the authorizer refused the request.
func (s *Server) dispatch(ctx context.Context, a *agent.Agent, req *message.Request, rr *message.RPCRequest) (rep *agent.Reply, denied bool) {
	rep = &agent.Reply{Status: message.OK, Message: "OK", Data: a.DDL.Defaults(rr.Action)}
	if err := a.DDL.Validate(rr.Action, rr.Data); err != nil {
		rep.Fail(statusOf(err), err.Error())
		return rep, false
	}
	// MCollective authorizes after DDL validation and before looking the action up.
	if !s.authorize(ctx, req, rr.Action) {
		rep.Fail(message.Aborted, authz.DeniedMessage)
		return rep, true
	}
	act, ok := a.Actions[rr.Action]
	if !ok {
		rep.Fail(message.UnknownAction, fmt.Sprintf("Unknown action '%s' for agent '%s'", rr.Action, req.Agent))
		return rep, false
	}
	a.DDL.SetInputDefaults(rr.Action, rr.Data)
	areq := &agent.Request{
		Agent: req.Agent, Action: rr.Action, Data: rr.Data, CallerID: req.CallerID,
		SenderID: req.SenderID, RequestID: req.RequestID, Collective: req.Collective,
		Time: time.Unix(req.MsgTime, 0), TTL: req.TTL,
	}
	done := s.opts.Clock.NewEvent()
	var finished atomic.Bool
	s.opts.Clock.Go(func() {
		defer func() { finished.Store(true); done.Fire() }()
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("action panicked", "agent", req.Agent, "action", rr.Action, "panic", fmt.Sprint(r))
				rep.Fail(message.UnknownError, fmt.Sprintf("%s#%s failed: %v", req.Agent, rr.Action, r))
			}
		}()
		act(ctx, areq, rep)
	})
	for !finished.Load() && ctx.Err() == nil {
		_ = s.opts.Clock.Wait(ctx, done, time.Time{})
	}
	return rep, false
}

// authorize asks the Authorizer, when there is one, and logs a denial with its reason. A
// policy that cannot be read or parsed denies and is logged as an error.
func (s *Server) authorize(ctx context.Context, req *message.Request, action string) bool {
	if s.opts.Authorizer == nil {
		return true
	}
	err := s.opts.Authorizer.Authorize(ctx, authz.Request{CallerID: req.CallerID, Agent: req.Agent, Action: action}, node{s})
	if err == nil {
		return true
	}
	level := slog.LevelWarn
	if !errors.Is(err, authz.ErrDenied) || errors.Is(err, authz.ErrPolicySyntax) {
		level = slog.LevelError
	}
	s.log.Log(ctx, level, "request denied", "requestid", req.RequestID, "callerid", req.CallerID,
		"senderid", req.SenderID, "agent", req.Agent, "action", action, "reason", err)
	return false
}

func (s *Server) reply(m connector.Message, req *message.Request, body []byte) {
	rep := &message.Reply{
		SenderID: s.opts.Identity, RequestID: req.RequestID, SenderAgent: req.Agent,
		MsgTime: s.opts.Now().Unix(), Body: body, CallerID: req.CallerID,
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
	if t := a.DDL.Metadata.Timeout; t > 0 {
		return time.Duration(t)*time.Second + a.Grace
	}
	return 10*time.Second + a.Grace
}

// statusOf maps a DDL validation error to its status code, InvalidData by default.
func statusOf(err error) message.Status {
	var se interface{ Status() message.Status }
	if errors.As(err, &se) {
		return se.Status()
	}
	return message.InvalidData
}
