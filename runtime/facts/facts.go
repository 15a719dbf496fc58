// Package facts loads a node's facts from YAML files and its configuration management classes
// from a classes file, as MCollective's yaml fact source and classesfile do. Both are re-read
// when their files change on disk.
package facts

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mcorun/mcorun/runtime/rubyfmt"
)

// Source serves facts merged from YAML files, later files overriding earlier ones. Values are
// normalized as MCollective does: scalars become strings, Hash keys become strings, Arrays
// keep their shape. A file that fails to load is reported by Err and the last good facts stay.
type Source struct {
	paths []string

	mu     sync.Mutex
	mtimes []time.Time
	facts  map[string]any
	err    error
	loaded bool
}

// NewSource returns a fact source over the given YAML files. It reads nothing until first used.
func NewSource(paths ...string) *Source {
	return &Source{paths: paths, mtimes: make([]time.Time, len(paths))}
}

// Facts returns the current facts, re-reading the files if any changed. The map must not be
// modified by the caller.
func (s *Source) Facts() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stale() {
		s.reload()
	}
	return s.facts
}

// Fact returns one fact by name.
func (s *Source) Fact(name string) (any, bool) {
	v, ok := s.Facts()[name]
	return v, ok
}

// Err reports the last load error, or nil.
func (s *Source) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stale() {
		s.reload()
	}
	return s.err
}

func (s *Source) stale() bool {
	if !s.loaded {
		return true
	}
	for i, p := range s.paths {
		st, err := os.Stat(p)
		if err != nil || !st.ModTime().Equal(s.mtimes[i]) {
			return true
		}
	}
	return false
}

func (s *Source) reload() {
	s.loaded = true
	merged := map[string]any{}
	var errs []string
	for i, p := range s.paths {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Sprintf("facts: %v", err))
			continue
		}
		s.mtimes[i] = st.ModTime()
		m, err := LoadYAML(p)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		for k, v := range m {
			merged[k] = v
		}
	}
	if len(errs) > 0 {
		s.err = fmt.Errorf("%s", strings.Join(errs, "; "))
		if s.facts != nil && len(merged) == 0 {
			return // keep the last good facts
		}
	} else {
		s.err = nil
	}
	s.facts = merged
}

// LoadYAML reads one YAML facts file into normalized facts.
func LoadYAML(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("facts: %w", err)
	}
	return ParseYAML(b, path)
}

// ParseYAML parses YAML facts; name is used in errors.
func ParseYAML(b []byte, name string) (map[string]any, error) {
	var raw any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("facts: %s: %w", name, err)
	}
	if raw == nil {
		return map[string]any{}, nil
	}
	m, ok := Normalize(raw).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("facts: %s: want a mapping of fact names to values at the top level", name)
	}
	return m, nil
}

// Normalize converts a decoded fact value the way MCollective's fact base does
// (Facts::Base#normalize_facts): Arrays keep their elements (normalized), Hash keys become
// strings, and every scalar becomes its Ruby to_s.
//
// It is the fact-matching rule, not the reply normaliser (value.Plain): MCollective stores
// and compares facts as text, so 5 becomes "5", true "true" and nil "", where reply data
// keeps its Integers, Booleans and nil. Use value.Plain for reply data and Normalize only for
// facts that filters match against.
func Normalize(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Normalize(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = Normalize(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[rubyfmt.ToS(k)] = Normalize(e)
		}
		return out
	}
	return rubyfmt.ToS(v)
}

// Classes reads a classes file: one class per line, blank lines ignored. It is re-read when
// the file changes. A missing file means no classes, as MCollective treats it.
type Classes struct {
	path string

	mu      sync.Mutex
	mtime   time.Time
	size    int64
	classes []string
	loaded  bool
}

// NewClasses returns a classes reader for path.
func NewClasses(path string) *Classes { return &Classes{path: path} }

// List returns the classes, re-reading the file when it changed.
func (c *Classes) List() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := os.Stat(c.path)
	if err != nil {
		c.classes, c.loaded = nil, true
		return nil
	}
	if c.loaded && st.ModTime().Equal(c.mtime) && st.Size() == c.size {
		return c.classes
	}
	b, err := os.ReadFile(c.path)
	if err != nil {
		return c.classes
	}
	c.mtime, c.size, c.loaded = st.ModTime(), st.Size(), true
	c.classes = parseClasses(b)
	return c.classes
}

func parseClasses(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// Static is a fixed set of facts, for nodes whose facts come from a fleet file or a test
// rather than from YAML files.
type Static map[string]any

// Facts returns every fact.
func (f Static) Facts() map[string]any { return f }

// Fact returns one fact.
func (f Static) Fact(name string) (any, bool) { v, ok := f[name]; return v, ok }

// StaticClasses is a fixed list of classes.
type StaticClasses []string

// List returns the classes.
func (c StaticClasses) List() []string { return c }
