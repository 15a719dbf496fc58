package connector

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

// FuzzHandshake feeds arbitrary bytes as a broker's answer to CONNECT: the handshake either
// fails with an error or yields a link, and never panics or hangs.
func FuzzHandshake(f *testing.F) {
	f.Add([]byte("CONNECTED\nversion:1.2\nheart-beat:1000,1000\n\n\x00"))
	f.Add([]byte("\n\nCONNECTED\nheart-beat:0,50\n\n\x00MESSAGE\nsubscription:x\n\nbody\x00"))
	f.Add([]byte("ERROR\nmessage:not_found\n\nNOT_FOUND - no exchange 'x_broadcast' in vhost '/'\x00"))
	f.Add([]byte("CONNECTED\nheart-beat:x,y\n\n\x00"))
	f.Fuzz(func(t *testing.T, answer []byte) {
		c := &Conn{opts: Options{Heartbeat: time.Second}.withDefaults(), frames: make(chan inbound), done: make(chan struct{})}
		c.log = c.opts.Logger
		client, broker := net.Pipe()
		defer broker.Close()
		go func() { _, _ = io.Copy(io.Discard, broker) }()
		go func() { _, _ = broker.Write(answer); _ = broker.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		l, err := c.handshake(ctx, client, Broker{Host: "fuzz"})
		if err != nil {
			var be *BrokerError
			if errors.As(err, &be) {
				_ = be.Error()
			}
			_ = client.Close()
			return
		}
		l.fail(ErrClosed)
		if !l.wait(time.Second) {
			t.Fatal("link goroutines still running a second after the link failed")
		}
	})
}

// FuzzBrokerError builds the error of arbitrary ERROR frames.
func FuzzBrokerError(f *testing.F) {
	f.Add("not_found", "NOT_FOUND - no exchange 'a_directed' in vhost '/mcollective'")
	f.Add("", "no exchange '' in vhost ''")
	f.Fuzz(func(t *testing.T, msg, body string) {
		fr := frame.New(frame.ERROR, frame.Message, msg)
		fr.Body = []byte(body)
		e := newBrokerError(fr)
		if e.Error() == "" || len(e.Detail) > maxDetail+3 {
			t.Fatalf("error %q, detail of %d bytes", e.Error(), len(e.Detail))
		}
	})
}
