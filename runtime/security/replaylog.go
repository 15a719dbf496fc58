package security

import (
	"bufio"
	"container/heap"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gofrs/flock"
)

// The replay log keeps a node's replay cache across restarts. It is one append-only text
// file, <dir>/ed25519.ids, of lines "<expiry unix seconds> <requestid in hex>\n".
//
//   - Each accepted request id is written to it (one write(2), under the cache's lock) before
//     the request is accepted; if that write fails, the request is refused.
//   - At open the file is read, expired and torn lines are dropped, and the live ones are
//     written to a new file that replaces the old one (compaction). The same compaction runs
//     when the file holds more than twice as many lines as live ids, and at least
//     replayCompactMin.
//   - fsync: a compaction is fsynced (the file, then its directory) before it replaces the
//     old file, and the file is fsynced when the node stops. Appends are not fsynced one by
//     one: an id written is safe when mcod stops, crashes or is killed, but one accepted in
//     the seconds before the machine itself crashes or loses power may be lost.
const (
	replayLogName    = "ed25519.ids"
	replayLockName   = "ed25519.lock" // held while the log is open: one node per directory
	replayCompactMin = 4096
)

// openLog loads the ids of dir's replay log that expire at now or later, compacts the file
// and keeps it open for appends. It is called once, before the cache is used.
func (c *replayCache) openLog(dir string, now int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.log != nil {
		return errors.New("replay log already open")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	lock := flock.New(filepath.Join(dir, replayLockName))
	locked, err := lock.TryLock()
	if err != nil {
		return err
	}
	if !locked {
		return errors.New("another process keeps its replay log there; give each node its own plugin.mcod.state_dir")
	}
	if err := c.openLocked(dir, now); err != nil {
		_ = lock.Unlock()
		return err
	}
	c.lock = lock
	return nil
}

// openLocked is openLog once dir is locked.
func (c *replayCache) openLocked(dir string, now int64) error {
	path := filepath.Join(dir, replayLogName)
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		err := c.load(f, now)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	c.path = path
	return c.compact()
}

// load adds the live ids of a replay log, skipping lines that are expired or torn.
func (c *replayCache) load(f *os.File, now int64) error {
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), 4096)
	for sc.Scan() {
		at, hexID, ok := strings.Cut(sc.Text(), " ")
		expiry, err := strconv.ParseInt(at, 10, 64)
		id, herr := hex.DecodeString(hexID)
		if !ok || err != nil || herr != nil || len(id) == 0 || len(id) > maxRequestIDLen || expiry < now {
			continue
		}
		if _, dup := c.seen[string(id)]; dup || len(c.seen) >= c.max {
			continue
		}
		c.seen[string(id)] = expiry
		heap.Push(&c.exp, expiryEntry{id: string(id), at: expiry})
	}
	return sc.Err()
}

// compact writes the live ids to a new log file, fsyncs it, puts it in place of the old one
// and keeps it open for appends. c.mu is held.
func (c *replayCache) compact() error {
	tmp, err := os.CreateTemp(filepath.Dir(c.path), replayLogName+".*")
	if err != nil {
		return err
	}
	w := bufio.NewWriter(tmp)
	for id, at := range c.seen {
		fmt.Fprintf(w, "%d %s\n", at, hex.EncodeToString([]byte(id)))
	}
	err = errors.Join(w.Flush(), tmp.Sync())
	if err == nil {
		err = os.Rename(tmp.Name(), c.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(c.path))
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if c.log != nil {
		c.log.Close()
	}
	c.log, c.logLines = tmp, len(c.seen)
	return nil
}

// appendLog records one accepted id. c.mu is held.
func (c *replayCache) appendLog(id string, expiry int64) error {
	if c.log == nil {
		return nil
	}
	if c.logLines >= replayCompactMin && c.logLines > 2*len(c.seen) {
		if err := c.compact(); err != nil {
			return fmt.Errorf("compact replay log: %w", err)
		}
	}
	if _, err := fmt.Fprintf(c.log, "%d %s\n", expiry, hex.EncodeToString([]byte(id))); err != nil {
		return fmt.Errorf("replay log: %w", err)
	}
	c.logLines++
	return nil
}

// closeLog fsyncs and closes the replay log.
func (c *replayCache) closeLog() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.log == nil {
		return nil
	}
	err := errors.Join(c.log.Sync(), c.log.Close(), c.lock.Unlock())
	c.log, c.lock = nil, nil
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
