package shell

import (
	"fmt"
	"sync"
)

// cappedBuffer keeps the first max bytes written to it and counts the rest, which it
// drops. Write never fails, so the process writing into the pipe is drained to its end and
// never blocks on a full pipe, while memory stays bounded by max.
type cappedBuffer struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	total int64
}

func newCappedBuffer(max int) *cappedBuffer { return &cappedBuffer{max: max} }

// Write implements io.Writer.
func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	c.total += int64(n)
	if room := c.max - len(c.buf); room > 0 {
		if len(p) > room {
			p = p[:room]
		}
		c.buf = append(c.buf, p...)
	}
	return n, nil
}

// String returns what was kept, followed by a truncation marker when bytes were dropped.
func (c *cappedBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.total <= int64(len(c.buf)) {
		return string(c.buf)
	}
	return string(c.buf) + truncationMarker(len(c.buf), c.total)
}

// truncationMarker is appended to output cut after kept of total bytes.
func truncationMarker(kept int, total int64) string {
	return fmt.Sprintf("\n[mcorun: output truncated after %d bytes, of %d]", kept, total)
}
