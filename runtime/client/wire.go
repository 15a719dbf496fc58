package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/mcorun/mcorun/runtime/clock"
	"slices"
	"sync"
	"time"

	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/message"
)

// inbound is one verified reply with its arrival time.
type inbound struct {
	rep *message.Reply
	at  time.Time
}

// waiter collects the replies to one requestid. The reply handler appends and signals; the
// calling goroutine drains. The queue is unbounded so the handler never blocks.
type waiter struct {
	mu     sync.Mutex
	queue  []inbound
	notify *clock.Event
}

func (w *waiter) push(in inbound) {
	w.mu.Lock()
	w.queue = append(w.queue, in)
	w.mu.Unlock()
	w.notify.Fire()
}

func (w *waiter) take() []inbound {
	w.mu.Lock()
	q := w.queue
	w.queue = nil
	w.mu.Unlock()
	return q
}

// register starts routing replies for id to a new waiter; the returned func stops it.
func (c *Client) register(id string) (*waiter, func(), error) {
	w := &waiter{notify: c.opts.Clock.NewEvent()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil, ErrClosed
	}
	c.pending[id] = w
	return w, func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}, nil
}

// onMessage is the reply subscription's handler.
func (c *Client) onMessage(m connector.Message) {
	at := c.opts.Now()
	rep, err := message.DecodeReply(m.Body)
	if err != nil {
		c.log.Warn("client: dropped undecodable reply", "destination", m.Destination, "err", err)
		return
	}
	if err := c.opts.Security.VerifyReply(rep); err != nil {
		c.log.Warn("client: dropped reply failing the security check", "sender", rep.SenderID, "requestid", rep.RequestID, "err", err)
		return
	}
	c.mu.Lock()
	w := c.pending[rep.RequestID]
	c.mu.Unlock()
	if w == nil {
		c.log.Debug("client: dropped reply to an unknown or finished request", "sender", rep.SenderID, "requestid", rep.RequestID)
		return
	}
	w.push(inbound{rep: rep, at: at})
}

// newRequestID returns 32 random lowercase hex characters.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// outgoing is one request ready to be signed and sent: its envelope and where it goes.
// targets names the nodes of a directed request (nil for a broadcast); it is signed with the
// request by providers that sign a target list (ed25519), so the request is good only on them.
type outgoing struct {
	req     message.Request
	dests   []string
	targets []string
	ttl     time.Duration
}

// newRequest builds an unsigned request envelope.
func (c *Client) newRequest(id, collective, agent string, f message.Filter, body []byte, ttl time.Duration) message.Request {
	return message.Request{
		Body:       body,
		SenderID:   c.opts.Identity,
		RequestID:  id,
		Filter:     f,
		Collective: collective,
		Agent:      agent,
		CallerID:   c.opts.Security.CallerID(),
		TTL:        int64(ttl / time.Second),
		MsgTime:    c.opts.Now().Unix(),
	}
}

// send signs, encodes and publishes o to each destination in turn. It returns how many
// destinations it published to: all of them, or those before the one that failed.
func (c *Client) send(ctx context.Context, o outgoing) (int, error) {
	req := o.req
	req.MsgTime = c.opts.Now().Unix()
	req.Targets = slices.Clone(o.targets)
	if err := c.opts.Security.SignRequest(&req); err != nil {
		return 0, fmt.Errorf("sign request: %w", err)
	}
	b, err := req.Encode()
	if err != nil {
		return 0, fmt.Errorf("encode request: %w", err)
	}
	h := connector.SendHeaders{ReplyTo: c.reply, TTL: o.ttl}
	for i, d := range o.dests {
		if err := c.t.Send(ctx, d, b, h); err != nil {
			return i, fmt.Errorf("publish: %w", err)
		}
	}
	c.log.Debug("client: sent", "requestid", req.RequestID, "agent", req.Agent, "collective", req.Collective, "destinations", len(o.dests))
	return len(o.dests), nil
}

// directedTargets returns nodes for a directed request and nil for a broadcast.
func directedTargets(directed bool, nodes []string) []string {
	if !directed {
		return nil
	}
	return nodes
}

// destinations returns the broadcast destination, or one directed destination per node.
func destinations(collective, agent string, directed bool, nodes []string) []string {
	if !directed {
		return []string{connector.BroadcastDest(collective, agent)}
	}
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = connector.DirectedDest(collective, n)
	}
	return out
}
