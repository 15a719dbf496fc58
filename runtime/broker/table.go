package broker

// Table is the broker's routing rule, kept apart from the STOMP connections so that the
// in-memory bus of the test fleet routes by the very same rule: every destination is a
// topic with exact-match routing, and a message goes to every subscription on exactly its
// destination at the time it arrives (none: it is dropped). That is what RabbitMQ's
// exclusive auto-delete queues bound to MCollective's topic and direct exchanges do, since
// agent names and identities contain no routing wildcards.
//
// A Table is not safe for concurrent use; its owner serialises access (the broker's router
// goroutine, the bus's lock).
type Table[S comparable] struct {
	topics map[string]map[S]struct{}
	dests  map[S]string
}

// NewTable returns an empty table.
func NewTable[S comparable]() *Table[S] {
	return &Table[S]{topics: map[string]map[S]struct{}{}, dests: map[S]string{}}
}

// Add subscribes s to dest. It reports false, and changes nothing, when s is subscribed
// already.
func (t *Table[S]) Add(s S, dest string) bool {
	if _, ok := t.dests[s]; ok {
		return false
	}
	t.dests[s] = dest
	subs := t.topics[dest]
	if subs == nil {
		subs = map[S]struct{}{}
		t.topics[dest] = subs
	}
	subs[s] = struct{}{}
	return true
}

// Remove unsubscribes s and returns its destination; ok is false when s was not
// subscribed.
func (t *Table[S]) Remove(s S) (dest string, ok bool) {
	dest, ok = t.dests[s]
	if !ok {
		return "", false
	}
	delete(t.dests, s)
	if subs := t.topics[dest]; subs != nil {
		delete(subs, s)
		if len(subs) == 0 {
			delete(t.topics, dest)
		}
	}
	return dest, true
}

// Route returns the subscriptions a message sent to dest goes to, in no particular order.
func (t *Table[S]) Route(dest string) []S {
	subs := t.topics[dest]
	out := make([]S, 0, len(subs))
	for s := range subs {
		out = append(out, s)
	}
	return out
}
