package broker

import (
	"sync"
	"sync/atomic"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/go-stomp/stomp/v3/server/client"
)

// router owns the subscription table. It runs on one goroutine, takes every request of
// every connection in turn and never blocks on a client: delivery goes through the
// subscriptions' outboxes.
//
// go-stomp's connection handler unsubscribes every subscription of a connection that is
// going away before it reports the disconnect and before it discards its last pending
// frames, and the request channel is unbuffered; so by the time an outbox's goroutine could
// be stuck on a dead connection, its stop channel is already closed.
type router struct {
	b     *Broker
	table *Table[*client.Subscription]
	subs  map[*client.Subscription]*outbox
	wg    sync.WaitGroup // outbox goroutines
}

func (r *router) run() {
	defer close(r.b.routerDone)
	idle := make(chan struct{})
	go func() {
		<-r.b.stop
		r.b.connsDone.Wait()
		close(idle)
	}()
	for {
		select {
		case req := <-r.b.reqs:
			r.handle(req)
		case <-idle:
			for _, o := range r.subs {
				o.close()
			}
			r.wg.Wait()
			return
		}
	}
}

func (r *router) handle(req client.Request) {
	switch req.Op {
	case client.SubscribeOp:
		// Also sent when a queue subscription is ready for its next frame; topics have
		// no such state, so a known subscription is left alone.
		if _, ok := r.subs[req.Sub]; ok {
			return
		}
		dest := req.Sub.Destination()
		o := newOutbox(r.b, req.Sub, dest)
		r.subs[req.Sub] = o
		r.table.Add(req.Sub, dest)
		r.wg.Add(1)
		go func() { defer r.wg.Done(); o.run() }()
	case client.UnsubscribeOp:
		o, ok := r.subs[req.Sub]
		if !ok {
			return
		}
		delete(r.subs, req.Sub)
		r.table.Remove(req.Sub)
		o.close()
	case client.EnqueueOp:
		dest := req.Frame.Header.Get(frame.Destination)
		if dest == receiptDest {
			return
		}
		subs := r.table.Route(dest)
		size := frameSize(req.Frame)
		for i, sub := range subs {
			f := req.Frame
			if i < len(subs)-1 {
				// Each delivery gets its own headers (go-stomp sets the subscription
				// and message-id); the body is only read, so they share it.
				f = &frame.Frame{Command: f.Command, Header: f.Header.Clone(), Body: f.Body}
			}
			r.subs[sub].push(f, size)
		}
	case client.RequeueOp:
		// Only queue subscriptions requeue; the broker has none.
	case client.ConnectedOp, client.DisconnectedOp:
	}
}

// outbox holds the messages for one subscription until its connection takes them.
type outbox struct {
	b       *Broker
	sub     *client.Subscription
	dest    string
	wake    chan struct{} // capacity 1
	stop    chan struct{}
	once    sync.Once
	dropped atomic.Uint64 // since the subscription began
	drops   throttle

	mu    sync.Mutex
	queue []*frame.Frame
	// bytes counts every message pushed and not yet handed to the connection, including
	// the batch run is handing over.
	bytes int
}

// frameSize is about what f takes in memory: its body and its headers.
func frameSize(f *frame.Frame) int {
	n := len(f.Command) + len(f.Body)
	for i := range f.Header.Len() {
		k, v := f.Header.GetAt(i)
		n += len(k) + len(v) + 2
	}
	return n
}

func newOutbox(b *Broker, sub *client.Subscription, dest string) *outbox {
	return &outbox{b: b, sub: sub, dest: dest, wake: make(chan struct{}, 1), stop: make(chan struct{})}
}

// push queues f, of frameSize size, without blocking; a full outbox drops it.
func (o *outbox) push(f *frame.Frame, size int) {
	o.mu.Lock()
	if len(o.queue) >= o.b.opts.MaxPending || o.bytes > 0 && o.bytes+size > o.b.opts.OutboxBytes {
		pending, bytes := len(o.queue), o.bytes
		o.mu.Unlock()
		n := o.dropped.Add(1)
		if ok, _ := o.drops.allow(); ok {
			o.b.log.Warn("broker: message dropped: subscriber too slow", "destination", o.dest,
				"subscription", o.sub.Id(), "pending", pending, "pending_bytes", bytes, "dropped", n)
		}
		return
	}
	o.queue = append(o.queue, f)
	o.bytes += size
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) close() { o.once.Do(func() { close(o.stop) }) }

// run hands queued messages to the subscription's connection until stopped. Handing one
// over blocks while the connection's own write queue is full.
func (o *outbox) run() {
	for {
		select {
		case <-o.stop:
			return
		case <-o.wake:
		}
		o.mu.Lock()
		batch := o.queue
		o.queue = nil
		o.mu.Unlock()
		for _, f := range batch {
			select {
			case <-o.stop:
				return
			default:
			}
			size := frameSize(f) // before go-stomp adds its headers
			o.sub.SendTopicFrame(f)
			o.mu.Lock()
			o.bytes -= size
			o.mu.Unlock()
		}
	}
}
