package security

import (
	"container/heap"
	"errors"
	"os"
	"sync"

	"github.com/gofrs/flock"
)

// ErrReplay means a request was refused as a replay: its requestid was already seen while
// it was still valid, or the replay cache is full.
var ErrReplay = errors.New("security: replayed request")

// replayCache remembers the requestids of accepted requests until they expire. An entry
// expires at msgtime + ttl + skew, after which the provider refuses the request as too old
// anyway, so forgetting it cannot let a replay in. Memory is bounded by max entries: when
// the cache is full of unexpired ids, new requests are refused (closed, not open). A node
// keeps the ids across restarts in a replay log (replaylog.go).
type replayCache struct {
	mu   sync.Mutex
	max  int
	seen map[string]int64 // requestid -> expiry, unix seconds
	exp  expiryHeap

	// The replay log (replaylog.go), when a node keeps the cache across restarts.
	path     string
	log      *os.File
	lock     *flock.Flock // on the log's directory while it is open
	logLines int          // lines in the log file
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: map[string]int64{}}
}

// add records id until expiry (unix seconds). It reports false when id is already recorded,
// and an error when the cache is full.
func (c *replayCache) add(id string, expiry, now int64) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.exp) > 0 && c.exp[0].at < now {
		e := heap.Pop(&c.exp).(expiryEntry)
		if c.seen[e.id] == e.at {
			delete(c.seen, e.id)
		}
	}
	if _, dup := c.seen[id]; dup {
		return false, nil
	}
	if len(c.seen) >= c.max {
		return false, errors.New("replay cache full")
	}
	if err := c.appendLog(id, expiry); err != nil {
		return false, err
	}
	c.seen[id] = expiry
	heap.Push(&c.exp, expiryEntry{id: id, at: expiry})
	return true, nil
}

// len returns the number of remembered ids.
func (c *replayCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

type expiryEntry struct {
	id string
	at int64
}

// expiryHeap is a min-heap of entries by expiry.
type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
