package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/security"

	"github.com/mcorun/mcorun/runtime/plural"
)

// requester sends raw MCollective requests and routes the verified replies by request id.
// The sandbox uses it to wait until every node is subscribed; it is not a client API.
type requester struct {
	conn       *connector.Conn
	sec        security.Provider
	identity   string
	collective string
	replyTo    string
	log        *slog.Logger

	mu      sync.Mutex
	waiting map[string]chan *message.Reply
}

func newRequester(ctx context.Context, conn *connector.Conn, sec security.Provider, identity, collective string, log *slog.Logger) (*requester, error) {
	r := &requester{
		conn: conn, sec: sec, identity: identity, collective: collective, log: log,
		replyTo: connector.ReplyExchangeDest(identity, os.Getpid(), 1),
		waiting: map[string]chan *message.Reply{},
	}
	if _, err := conn.Subscribe(r.replyTo, r.onReply); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	return r, nil
}

func (r *requester) onReply(m connector.Message) {
	rep, err := message.DecodeReply(m.Body)
	if err != nil {
		r.log.Warn("sandbox: bad reply", "err", err)
		return
	}
	if err := r.sec.VerifyReply(rep); err != nil {
		r.log.Warn("sandbox: reply dropped", "sender", rep.SenderID, "err", err)
		return
	}
	r.mu.Lock()
	ch := r.waiting[rep.RequestID]
	r.mu.Unlock()
	if ch == nil {
		return // a late reply to a finished request
	}
	select {
	case ch <- rep:
	default:
		r.log.Warn("sandbox: reply dropped: too many", "sender", rep.SenderID)
	}
}

// send publishes a signed request for agent with body to dest and returns a channel of its
// replies (buffered for expect of them) and a func that stops collecting.
func (r *requester) send(ctx context.Context, dest, agent string, body []byte, f message.Filter, expect int) (<-chan *message.Reply, func(), error) {
	id := newRequestID()
	req := &message.Request{
		Body: body, SenderID: r.identity, RequestID: id, Filter: f, Collective: r.collective,
		Agent: agent, CallerID: r.sec.CallerID(), TTL: 60, MsgTime: time.Now().Unix(),
	}
	if err := r.sec.SignRequest(req); err != nil {
		return nil, nil, fmt.Errorf("sandbox: %w", err)
	}
	b, err := req.Encode()
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox: %w", err)
	}
	ch := make(chan *message.Reply, expect)
	r.mu.Lock()
	r.waiting[id] = ch
	r.mu.Unlock()
	done := func() {
		r.mu.Lock()
		delete(r.waiting, id)
		r.mu.Unlock()
	}
	if err := r.conn.Send(ctx, dest, b, connector.SendHeaders{ReplyTo: r.replyTo, TTL: 60 * time.Second}); err != nil {
		done()
		return nil, nil, fmt.Errorf("sandbox: %w", err)
	}
	return ch, done, nil
}

// discoveryPing is the discovery agent's request body.
func discoveryPing() []byte {
	b, err := message.EncodeBody("ping")
	if err != nil {
		panic(err) // a constant string always encodes
	}
	return b
}

// awaitSubscribed sends a directed discovery ping to every node until each has answered,
// ctx ends, first passes with no node answering, or, once one has, stall passes with no node
// answering for the first time. The directed subscription is a node's last, so an answer
// there means all of its subscriptions are in place. A broker still taking a large fleet's
// subscriptions (RabbitMQ declares each node's queues one by one, all connections at once,
// so the first node is ready only when most are nearly ready: 10,000 nodes took more than
// 10 minutes on 2 cores) keeps the wait going as long as it makes progress.
func (r *requester) awaitSubscribed(ctx context.Context, ids []string, first, stall time.Duration) error {
	progress, bound := time.Now(), first
	missing := make(map[string]bool, len(ids))
	for _, id := range ids {
		missing[id] = true
	}
	body := discoveryPing()
	// A round's replies to a large fleet take longer than a second to come back through
	// RabbitMQ (10,000 directed requests): the wait grows to a millisecond per node.
	longest := max(time.Second, time.Duration(len(ids))*time.Millisecond)
	for wait := 20 * time.Millisecond; len(missing) > 0; wait = min(2*wait, longest) {
		var chans []<-chan *message.Reply
		var dones []func()
		for id := range missing {
			ch, done, err := r.send(ctx, connector.DirectedDest(r.collective, id), "discovery", body, message.Filter{}, 1)
			if err != nil {
				return err
			}
			chans, dones = append(chans, ch), append(dones, done)
		}
		round, cancel := context.WithTimeout(ctx, wait)
		before := len(missing)
		for _, ch := range chans {
			select {
			case rep := <-ch:
				delete(missing, rep.SenderID)
			case <-round.Done():
			}
		}
		cancel()
		for _, done := range dones {
			done()
		}
		if len(missing) < before {
			progress, bound = time.Now(), stall
		}
		if len(missing) == 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sandbox: %d of %s never answered: %w", len(missing), plural.Count(len(ids), "node", "nodes"), err)
		}
		if time.Since(progress) > bound {
			return fmt.Errorf("sandbox: %d of %s never answered: no node answered for the first time in %v",
				len(missing), plural.Count(len(ids), "node", "nodes"), bound)
		}
	}
	return nil
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
