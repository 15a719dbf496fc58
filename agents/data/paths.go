package data

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Paths is the list of paths the fstat data plugin may examine (plugin.fstat.allowed_paths).
// Each entry is an absolute glob in filepath.Match syntax ("/etc/*.conf"), or a directory
// followed by "/**" for everything beneath it ("/srv/app/**"). A nil Paths allows every
// path, as MCollective's fstat does.
type Paths []string

// ParsePaths reads a comma-separated list of globs. An empty list gives nil (every path).
func ParsePaths(s string) (Paths, error) {
	var p Paths
	for g := range strings.SplitSeq(s, ",") {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		if !filepath.IsAbs(g) {
			return nil, fmt.Errorf("%q is not an absolute path; write globs such as /etc/*.conf or /srv/app/**", g)
		}
		glob, tree := strings.CutSuffix(g, "/**")
		if _, err := filepath.Match(glob, ""); err != nil {
			return nil, fmt.Errorf("%q: %w", g, err)
		}
		glob = filepath.Clean(glob)
		if tree {
			glob += "/**"
		}
		p = append(p, glob)
	}
	return p, nil
}

// errPathNotAllowed is the error of a query for a path outside the list. It says nothing
// about the path itself, so a refused query reveals nothing.
var errPathNotAllowed = errors.New("the path is not one plugin.fstat.allowed_paths allows")

// Allows reports whether fstat may examine name. The path must be absolute, and both it
// and the path it resolves to (following symlinks in every directory above it) must match an
// entry, so a symlinked directory inside an allowed tree cannot lead outside it.
func (p Paths) Allows(name string) bool {
	if p == nil {
		return true
	}
	if !filepath.IsAbs(name) {
		return false
	}
	clean := filepath.Clean(name)
	return p.matches(clean) && p.matches(resolveDir(clean))
}

// resolveDir is path with the symlinks of its directories resolved: the longest existing
// directory above it, resolved, joined with the rest.
func resolveDir(path string) string {
	dir, rest := filepath.Dir(path), filepath.Base(path)
	for {
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(r, rest)
		}
		if dir == "/" || dir == "." {
			return path
		}
		dir, rest = filepath.Dir(dir), filepath.Join(filepath.Base(dir), rest)
	}
}

func (p Paths) matches(name string) bool {
	for _, g := range p {
		if tree, ok := strings.CutSuffix(g, "/**"); ok {
			if name == tree || strings.HasPrefix(name, strings.TrimSuffix(tree, "/")+"/") {
				return true
			}
			continue
		}
		if ok, _ := filepath.Match(g, name); ok {
			return true
		}
	}
	return false
}
