package connector

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-stomp/stomp/v3"
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
// destination, content-length and content-type (which go-stomp adds):
// reply-to, expiration, mc_sender.
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
// the reconnect until ctx ends (or ConnectTimeout, when ctx has no deadline)
// and then fails with an error wrapping ErrDisconnected. After Close it fails
// with ErrClosed.
func (c *Conn) Send(ctx context.Context, dest string, body []byte, h SendHeaders) error {
	if dest == "" {
		return errors.New("send: empty destination")
	}
	hs := sendHeaders(h, c.opts.Identity)
	opts := make([]func(*frame.Frame) error, 0, len(hs))
	for _, kv := range hs {
		opts = append(opts, stomp.SendOpt.Header(kv.key, kv.value))
	}
	for {
		sc, gen, err := c.current(ctx)
		if err != nil {
			return fmt.Errorf("send %s: %w", dest, err)
		}
		err = sc.Send(dest, ContentType, body, opts...)
		if err == nil {
			return nil
		}
		if !errors.Is(err, stomp.ErrAlreadyClosed) && !errors.Is(err, stomp.ErrClosedUnexpectedly) {
			return fmt.Errorf("send %s: %w", dest, err)
		}
		// The frame never reached the connection: wait for the next one.
		c.markLost(gen, err)
	}
}
