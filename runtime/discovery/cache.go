package discovery

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/mcorun/mcorun/runtime/message"
)

// Cache keeps the client's last mc discovery result of each filter, one file per
// (scope, collective, filter) under Dir. Storing a filter not stored before removes the
// entries not written for CacheMaxAge, so filters used once do not pile up. The client uses it only to know when to stop
// waiting: the nodes of the previous discovery are the ones it expects to hear from again.
// A missing, unreadable or foreign file is no entry, never an error.
type Cache struct {
	Dir   string // e.g. $XDG_CACHE_HOME/mcorun/discovery
	Scope string // what else tells fleets apart, e.g. the broker pool
}

// CacheMaxAge is how long an entry not written again is kept.
const CacheMaxAge = 30 * 24 * time.Hour

// DefaultCacheDir is $XDG_CACHE_HOME/mcorun/discovery (cacheHome, when absolute), else
// HOME/.cache/mcorun/discovery, else "" (no cache).
func DefaultCacheDir(cacheHome, home string) string {
	if cacheHome != "" && filepath.IsAbs(cacheHome) {
		return filepath.Join(cacheHome, "mcorun", "discovery")
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".cache", "mcorun", "discovery")
}

// cacheEntry is one cache file.
type cacheEntry struct {
	Key   string    `json:"key"`
	At    time.Time `json:"at"`
	Nodes []string  `json:"nodes"`
}

// key is the entry's identity: the scope, the collective and the filter's canonical JSON.
func (c Cache) key(collective string, f message.Filter) (string, error) {
	b, err := json.Marshal(struct {
		Scope, Collective string
		Filter            message.Filter
	}{c.Scope, collective, f})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Load returns the nodes the last discovery of f in collective found and when it ran.
func (c Cache) Load(collective string, f message.Filter) ([]string, time.Time, bool) {
	if c.Dir == "" {
		return nil, time.Time{}, false
	}
	k, err := c.key(collective, f)
	if err != nil {
		return nil, time.Time{}, false
	}
	b, err := os.ReadFile(filepath.Join(c.Dir, k+".json"))
	if err != nil {
		return nil, time.Time{}, false
	}
	e, ok := parseCacheEntry(b, k)
	return e.Nodes, e.At, ok
}

// parseCacheEntry decodes a cache file; ok is false unless it is an entry for key with
// at least one node.
func parseCacheEntry(b []byte, key string) (cacheEntry, bool) {
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil || e.Key != key || len(e.Nodes) == 0 {
		return cacheEntry{}, false
	}
	slices.Sort(e.Nodes)
	e.Nodes = slices.Compact(e.Nodes)
	return e, true
}

// Store records nodes as the last discovery of f in collective, made at at. An empty
// result removes the entry: there is nothing to expect.
func (c Cache) Store(collective string, f message.Filter, nodes []string, at time.Time) error {
	if c.Dir == "" {
		return nil
	}
	k, err := c.key(collective, f)
	if err != nil {
		return err
	}
	path := filepath.Join(c.Dir, k+".json")
	if len(nodes) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("discovery cache: %w", err)
		}
		return nil
	}
	b, err := json.Marshal(cacheEntry{Key: k, At: at.UTC(), Nodes: nodes})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return fmt.Errorf("discovery cache: %w", err)
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		c.prune(at)
	}
	tmp, err := os.CreateTemp(c.Dir, k+".*.tmp")
	if err != nil {
		return fmt.Errorf("discovery cache: %w", err)
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("discovery cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("discovery cache: %w", err)
	}
	return nil
}

// prune removes the entries (and leftover temporary files) not written for CacheMaxAge
// before now. It is best effort: a file it cannot remove stays.
func (c Cache) prune(now time.Time) {
	entries, err := os.ReadDir(c.Dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || (filepath.Ext(name) != ".json" && filepath.Ext(name) != ".tmp") {
			continue
		}
		if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > CacheMaxAge {
			_ = os.Remove(filepath.Join(c.Dir, name))
		}
	}
}
