package connector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

// link is one STOMP connection: the socket, a reader goroutine that hands every frame to the
// owner, and a writer goroutine that writes the owner's frames first, then Send's, and the
// heartbeats. Both end when the link fails; fail is the only way a link ends.
type link struct {
	nc      net.Conn
	addr    string
	version string

	ctl  chan []*frame.Frame // the owner's frames: SUBSCRIBE, UNSUBSCRIBE, DISCONNECT
	out  chan *frame.Frame   // Send's frames
	dead chan struct{}       // closed by fail
	once sync.Once
	err  error          // why the link failed; read after dead is closed
	wg   sync.WaitGroup // the reader and the writer

	readTimeout time.Duration // no frame or heartbeat for this long fails the link; 0: never
	writeEvery  time.Duration // a heartbeat after this long without a write; 0: none
}

// Sizes of a link's write queues. The owner never waits on ctl: when it is full the broker
// has stopped reading for a long while, and the link is failed instead.
const (
	ctlQueue = 256
	outQueue = 256
)

// writeTimeout bounds one frame's write to the socket.
const writeTimeout = 10 * time.Second

// fail ends the link with err, once: it closes the socket, which ends the reader and any
// write in progress.
func (l *link) fail(err error) {
	l.once.Do(func() {
		l.err = err
		close(l.dead)
		_ = l.nc.Close()
	})
}

// queue hands frames to the writer, in order, without waiting.
func (l *link) queue(fs ...*frame.Frame) {
	select {
	case l.ctl <- fs:
	default:
		l.fail(errors.New("write queue full: the broker has stopped reading"))
	}
}

// wait waits for the reader and the writer to end, at most d.
func (l *link) wait(d time.Duration) bool {
	ended := make(chan struct{})
	go func() { l.wg.Wait(); close(ended) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ended:
		return true
	case <-t.C:
		return false
	}
}

// handshake sends CONNECT on nc and reads the broker's CONNECTED within ctx's deadline, then
// starts the link's goroutines. A refused login comes back as a *BrokerError.
func (c *Conn) handshake(ctx context.Context, nc net.Conn, br Broker) (*link, error) {
	o := c.opts
	hb, slack := heartbeat(o.Heartbeat)
	ms := strconv.FormatInt(hb.Milliseconds(), 10)
	f := frame.New(frame.CONNECT, frame.AcceptVersion, "1.1,1.2", frame.Host, o.VHost, frame.HeartBeat, ms+","+ms)
	if br.User != "" || br.Password != "" {
		f.Header.Add(frame.Login, br.User)
		f.Header.Add(frame.Passcode, br.Password)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	r, w := frame.NewReader(nc), frame.NewWriter(nc)
	if err := w.Write(f); err != nil {
		return nil, fmt.Errorf("write CONNECT: %w", err)
	}
	var resp *frame.Frame
	for resp == nil { // heartbeats may come first
		var err error
		if resp, err = r.Read(); err != nil {
			return nil, fmt.Errorf("read CONNECTED: %w", err)
		}
	}
	switch resp.Command {
	case frame.CONNECTED:
	case frame.ERROR:
		return nil, newBrokerError(resp)
	default:
		return nil, fmt.Errorf("broker answered CONNECT with %s", resp.Command)
	}
	_ = nc.SetDeadline(time.Time{})
	l := &link{
		nc:      nc,
		addr:    br.Addr(),
		version: resp.Header.Get(frame.Version),
		ctl:     make(chan []*frame.Frame, ctlQueue),
		out:     make(chan *frame.Frame, outQueue),
		dead:    make(chan struct{}),
	}
	if v, ok := resp.Header.Contains(frame.HeartBeat); ok && hb > 0 {
		// The broker sends every sx and wants one every sy; each side keeps the larger of
		// what it offers and what the other asks.
		sx, sy, err := frame.ParseHeartBeat(v)
		if err != nil {
			return nil, fmt.Errorf("CONNECTED heart-beat %q: %w", v, err)
		}
		if sy > 0 {
			l.writeEvery = max(hb, sy)
			if l.writeEvery > slack {
				l.writeEvery -= slack
			}
		}
		if sx > 0 {
			l.readTimeout = time.Duration(float64(max(hb, sx)+slack) * heartbeatGrace)
		}
	}
	l.wg.Add(2)
	go l.readLoop(c, r)
	go l.writeLoop(w)
	return l, nil
}

// readLoop hands every frame to the owner until the link fails; an ERROR frame fails it.
func (l *link) readLoop(c *Conn, r *frame.Reader) {
	defer l.wg.Done()
	for {
		if l.readTimeout > 0 {
			_ = l.nc.SetReadDeadline(time.Now().Add(l.readTimeout))
		}
		f, err := r.Read()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = fmt.Errorf("heartbeat missed: nothing from the broker for %v", l.readTimeout)
			} else {
				err = fmt.Errorf("read: %w", err)
			}
			l.fail(err)
			return
		}
		if f == nil {
			continue // a heartbeat
		}
		if f.Command == frame.ERROR {
			// The broker closes the connection after an ERROR; its reason is the link's,
			// not the read error that follows.
			l.fail(newBrokerError(f))
			return
		}
		select {
		case c.frames <- inbound{l, f}:
		case <-l.dead:
			return
		}
	}
}

// writeLoop writes the owner's frames before Send's, and a heartbeat when nothing else was
// written for writeEvery, until the link fails.
func (l *link) writeLoop(w *frame.Writer) {
	defer l.wg.Done()
	var beat <-chan time.Time
	var t *time.Timer
	if l.writeEvery > 0 {
		t = time.NewTimer(l.writeEvery)
		defer t.Stop()
		beat = t.C
	}
	for {
		var fs []*frame.Frame
		select {
		case fs = <-l.ctl:
		default:
			select {
			case fs = <-l.ctl:
			case f := <-l.out:
				fs = []*frame.Frame{f}
			case <-beat:
				fs = []*frame.Frame{nil}
			case <-l.dead:
				return
			}
		}
		for _, f := range fs {
			_ = l.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := w.Write(f); err != nil {
				l.fail(fmt.Errorf("write: %w", err))
				return
			}
		}
		if t != nil {
			t.Reset(l.writeEvery)
		}
	}
}
