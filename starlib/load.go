package starlib

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// stdlibFS holds the standard Starlark library, loaded as "@mcorun//name.star".
//
//go:embed stdlib/*.star
var stdlibFS embed.FS

// StdlibPrefix starts the module names of the embedded standard library.
const StdlibPrefix = "@mcorun//"

// Stdlib returns the embedded standard library files, for listing and documentation.
func Stdlib() fs.FS {
	sub, err := fs.Sub(stdlibFS, "stdlib")
	if err != nil {
		panic(err) // the directory is embedded
	}
	return sub
}

// RunOptions are the settings of Run. The zero value runs with Predeclared(), the files on
// disk and the dialect of FileOptions().
type RunOptions struct {
	// Predeclared are the names every file of the run sees; nil means Predeclared().
	Predeclared starlark.StringDict
	// Modules are extra modules that load() finds by exact name, such as "assert.star".
	Modules map[string]starlark.StringDict
	// ReadFile reads a loaded file; nil means os.ReadFile.
	ReadFile func(name string) ([]byte, error)
	// FileOptions is the Starlark dialect; nil means FileOptions().
	FileOptions *syntax.FileOptions
}

// FileOptions returns the dialect of playbooks: top-level if/for/while, while loops, sets,
// global reassignment and recursion are all allowed, as in a script.
func FileOptions() *syntax.FileOptions {
	return &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}
}

// Run executes a playbook file (src as for starlark.ExecFile: nil reads filename) on thread
// and returns its globals. It installs thread.Load so that load() finds, in order: a name in
// opts.Modules; "@mcorun//name.star" in the embedded standard library; otherwise a path
// relative to the directory of the file that loads it. Every module is executed once per
// Run, on the same thread (so it sees the fleet, clock and budgets), and a load cycle is an
// error. It replaces any thread.Load set before.
func Run(thread *starlark.Thread, filename string, src any, opts RunOptions) (starlark.StringDict, error) {
	l := &loader{
		opts:  opts,
		cache: map[string]*loadEntry{},
	}
	if l.opts.Predeclared == nil {
		l.opts.Predeclared = Predeclared()
	}
	if l.opts.ReadFile == nil {
		l.opts.ReadFile = os.ReadFile
	}
	if l.opts.FileOptions == nil {
		l.opts.FileOptions = FileOptions()
	}
	thread.Load = l.load
	if src == nil {
		b, err := l.opts.ReadFile(filename)
		if err != nil {
			return nil, err
		}
		src = b
	}
	key := filename
	if abs, err := filepath.Abs(filename); err == nil {
		key = abs
	}
	l.cache[key] = nil // the main file is "loading" while it runs
	globals, err := starlark.ExecFileOptions(l.opts.FileOptions, thread, filename, src, l.opts.Predeclared)
	l.cache[key] = &loadEntry{globals, err}
	return globals, err
}

type loadEntry struct {
	globals starlark.StringDict
	err     error
}

type loader struct {
	opts  RunOptions
	cache map[string]*loadEntry // nil entry: being loaded
}

var errCycle = errors.New("cycle in load graph")

func (l *loader) load(thread *starlark.Thread, module string) (starlark.StringDict, error) {
	if m, ok := l.opts.Modules[module]; ok {
		return m, nil
	}
	from := ""
	if thread.CallStackDepth() > 0 {
		from = thread.CallFrame(0).Pos.Filename()
	}
	key, err := l.resolve(from, module)
	if err != nil {
		return nil, err
	}
	if e, ok := l.cache[key]; ok {
		if e == nil {
			return nil, errCycle
		}
		return e.globals, e.err
	}
	var src []byte
	if name, ok := strings.CutPrefix(key, StdlibPrefix); ok {
		src, err = stdlibFS.ReadFile("stdlib/" + name)
		if err != nil {
			return nil, fmt.Errorf("no standard module %s", key)
		}
	} else if src, err = l.opts.ReadFile(key); err != nil {
		return nil, err
	}
	l.cache[key] = nil
	globals, err := starlark.ExecFileOptions(l.opts.FileOptions, thread, key, src, l.opts.Predeclared)
	l.cache[key] = &loadEntry{globals, err}
	return globals, err
}

// resolve turns a load() name into a cache key: a standard library name, or a clean file
// path relative to the loading file's directory.
func (l *loader) resolve(from, module string) (string, error) {
	if name, ok := strings.CutPrefix(module, StdlibPrefix); ok {
		clean := path.Clean(name)
		if !fs.ValidPath(clean) || strings.Contains(clean, "/") {
			return "", fmt.Errorf("bad standard module name %q", module)
		}
		return StdlibPrefix + clean, nil
	}
	if strings.HasPrefix(module, "@") {
		return "", fmt.Errorf("unknown repository in %q: only %s is known", module, StdlibPrefix)
	}
	if name, ok := strings.CutPrefix(from, StdlibPrefix); ok {
		// a standard module loads its siblings
		return l.resolve("", StdlibPrefix+path.Join(path.Dir(name), module))
	}
	if filepath.IsAbs(module) {
		return filepath.Clean(module), nil
	}
	p := filepath.Join(filepath.Dir(from), module)
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p, nil
}
