package connector

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

// ContentType is the content-type MCollective's STOMP client puts on every
// frame, although bodies are binary Ruby Marshal.
const ContentType = "text/plain; charset=UTF-8"

// SendHeaders are the per-message headers of a SEND.
type SendHeaders struct {
	// ReplyTo, when set, becomes the reply-to header: TempQueueDest(...) for
	// requests, or a ReplyExchangeDest. Replies leave it empty.
	ReplyTo string
	// TTL is the message's time to live; the expiration header is TTL+10s in
	// milliseconds, as MCollective sends it. Zero sends no expiration.
	TTL time.Duration
}

// header is one header entry, in the order it is added to the frame.
type header struct{ key, value string }

// sendHeaders returns the headers MCollective puts on a SEND besides
// destination, content-length and content-type: reply-to, expiration, mc_sender.
func sendHeaders(h SendHeaders, identity string) []header {
	var hs []header
	if h.ReplyTo != "" {
		hs = append(hs, header{"reply-to", h.ReplyTo})
	}
	if h.TTL > 0 {
		hs = append(hs, header{"expiration", strconv.FormatInt((h.TTL + 10*time.Second).Milliseconds(), 10)})
	}
	if identity != "" {
		hs = append(hs, header{"mc_sender", identity})
	}
	return hs
}

// Send publishes body to dest, such as BroadcastDest, DirectedDest or a
// request's ReplyTo, with content-length, content-type ContentType and the
// headers of h and Options.Identity. While the connection is down it waits for
// the reconnect until ctx ends or SendWait passes, whichever comes first, and
// then fails with an error wrapping ErrDisconnected that says why the connection
// dropped and what to check. After Close it fails with ErrClosed.
//
// A nil error means the frame was handed to the connection, not that the broker
// has it: a frame in flight when the connection drops is lost (at most once).
func (c *Conn) Send(ctx context.Context, dest string, body []byte, h SendHeaders) error {
	if dest == "" {
		return errors.New("send: empty destination")
	}
	f := frame.New(frame.SEND, frame.ContentLength, strconv.Itoa(len(body)), frame.Destination, dest, frame.ContentType, ContentType)
	for _, kv := range sendHeaders(h, c.opts.Identity) {
		f.Header.Add(kv.key, kv.value)
	}
	f.Body = body
	var wait <-chan time.Time
	for {
		var (
			l       *link
			up      <-chan struct{}
			cause   error
			dialErr error
			err     error
		)
		if !c.do(func(s *state) {
			switch {
			case s.closing:
				err = ErrClosed
			case s.link != nil:
				l = s.link
			default:
				up, cause, dialErr = s.up, s.cause, s.dialErr
			}
		}) {
			err = c.stopped()
		}
		if err != nil {
			return fmt.Errorf("send %s: %w", dest, err)
		}
		if l != nil {
			select {
			case <-l.dead:
				continue // gone since the owner answered: never queue on a dead link
			default:
			}
			select {
			case l.out <- f:
				return nil
			case <-l.dead:
				continue // the frame never reached the connection: wait for the next one
			case <-ctx.Done():
				return fmt.Errorf("send %s: %w", dest, ctx.Err())
			}
		}
		if wait == nil {
			t := time.NewTimer(c.opts.SendWait)
			defer t.Stop()
			wait = t.C
		}
		select {
		case <-up:
		case <-c.done:
		case <-ctx.Done():
			return fmt.Errorf("send %s: %w: %w", dest, ErrDisconnected, ctx.Err())
		case <-wait:
			why := fmt.Sprintf("the connection dropped: %v", cause)
			if dialErr != nil {
				why += fmt.Sprintf("; reconnecting: %v", dialErr)
			}
			return fmt.Errorf("send %s: %w: no broker of the pool (%s) connected within %v (%s); check that the brokers run, listen for STOMP there and accept this login",
				dest, ErrDisconnected, c.pool(), c.opts.SendWait, why)
		}
	}
}

// pool lists the pool's addresses.
func (c *Conn) pool() string {
	s := ""
	for i, b := range c.opts.Pool {
		if i > 0 {
			s += ", "
		}
		s += b.Addr()
	}
	return s
}
