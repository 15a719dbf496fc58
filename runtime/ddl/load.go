package ddl

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed builtin/*.json
var builtinFS embed.FS

// ErrNotFound is returned when no DDL exists under the requested name.
var ErrNotFound = errors.New("ddl not found")

// Builtin returns a fresh copy of the embedded DDL of a built-in agent: rpcutil or discovery.
func Builtin(name string) (*Agent, error) {
	b, err := builtinFS.ReadFile("builtin/" + name + ".json")
	if err != nil || strings.HasSuffix(name, "_data") {
		return nil, fmt.Errorf("builtin agent %q: %w", name, ErrNotFound)
	}
	a, err := ParseAgent(b)
	if err != nil {
		return nil, fmt.Errorf("builtin agent %q: %w", name, err)
	}
	return a, nil
}

// BuiltinAgents lists the names of the embedded agent DDLs, sorted.
func BuiltinAgents() []string { return builtinNames(false) }

// BuiltinDataPlugins lists the names of the embedded data plugin DDLs ("fact", "fstat", ...),
// sorted.
func BuiltinDataPlugins() []string { return builtinNames(true) }

func builtinNames(data bool) []string {
	entries, _ := builtinFS.ReadDir("builtin")
	var names []string
	for _, e := range entries {
		n := strings.TrimSuffix(e.Name(), ".json")
		if strings.HasSuffix(n, "_data") == data {
			names = append(names, strings.TrimSuffix(n, "_data"))
		}
	}
	sort.Strings(names)
	return names
}

// BuiltinData returns a fresh copy of the embedded DDL of a built-in data plugin: fact, agent,
// fstat or collective. The name may carry MCollective's "_data" suffix.
func BuiltinData(name string) (*Data, error) {
	name = strings.TrimSuffix(strings.ToLower(name), "_data")
	b, err := builtinFS.ReadFile("builtin/" + name + "_data.json")
	if err != nil {
		return nil, fmt.Errorf("builtin data plugin %q: %w", name, ErrNotFound)
	}
	d, err := ParseData(b)
	if err != nil {
		return nil, fmt.Errorf("builtin data plugin %q: %w", name, err)
	}
	return d, nil
}

// ParseAgent decodes a JSON agent DDL and checks that it is usable: metadata has a name and
// every action, input and output is present. Unknown JSON fields are an error in our format.
//
// Choria's JSON DDL format (see choria.go) is read too, leniently, and normalized into the
// same Agent.
func ParseAgent(b []byte) (*Agent, error) {
	var a Agent
	if isChoriaAgent(b) {
		c, err := parseChoriaAgent(b)
		if err != nil {
			return nil, err
		}
		a = *c
	} else {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		dec.UseNumber()
		if err := dec.Decode(&a); err != nil {
			return nil, fmt.Errorf("parse agent ddl: %w", err)
		}
	}
	if a.Metadata.Name == "" {
		return nil, errors.New("parse agent ddl: metadata has no name")
	}
	if err := normalizeAgent(&a); err != nil {
		return nil, fmt.Errorf("parse agent ddl %s: %w", a.Metadata.Name, err)
	}
	if a.Actions == nil {
		a.Actions = map[string]*Action{}
	}
	for name, act := range a.Actions {
		if act == nil {
			return nil, fmt.Errorf("parse agent ddl %s: action %s is empty", a.Metadata.Name, name)
		}
		if err := checkInputs(act.Input); err != nil {
			return nil, fmt.Errorf("parse agent ddl %s: action %s: %w", a.Metadata.Name, name, err)
		}
		for k, o := range act.Output {
			if o == nil {
				return nil, fmt.Errorf("parse agent ddl %s: action %s: output %s is empty", a.Metadata.Name, name, k)
			}
		}
	}
	return &a, nil
}

// ParseData decodes a JSON data plugin DDL. Unknown JSON fields are an error, and a data
// plugin must declare at least one output, as MCollective requires.
func ParseData(b []byte) (*Data, error) {
	var d Data
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("parse data ddl: %w", err)
	}
	query := map[string]*Input{}
	if d.Query != nil {
		query["query"] = d.Query
	}
	if err := normalizeIO(query, d.Output); err != nil {
		return nil, fmt.Errorf("parse data ddl %s: %w", d.Metadata.Name, err)
	}
	if d.Metadata.Name == "" {
		return nil, errors.New("parse data ddl: metadata has no name")
	}
	if len(d.Output) == 0 {
		return nil, fmt.Errorf("parse data ddl %s: no output declared", d.Metadata.Name)
	}
	if d.Query != nil {
		if err := checkInputs(map[string]*Input{"query": d.Query}); err != nil {
			return nil, fmt.Errorf("parse data ddl %s: %w", d.Metadata.Name, err)
		}
	}
	return &d, nil
}

func checkInputs(in map[string]*Input) error {
	for k, i := range in {
		if i == nil {
			return fmt.Errorf("input %s is empty", k)
		}
		switch i.Type {
		case "string", "integer", "float", "number", "boolean", "hash", "array":
		case "list":
			if len(i.List) == 0 {
				return fmt.Errorf("input %s: type list needs a list of values", k)
			}
		default:
			return fmt.Errorf("input %s: unknown type %q", k, i.Type)
		}
		if i.Type == "string" && i.Validation != "" {
			if _, err := compileValidation(i.Validation); err != nil {
				return fmt.Errorf("input %s: %w", k, err)
			}
		}
	}
	return nil
}

// LoadDir reads every agent DDL (*.json) in dir, keyed by agent name. The file name, less
// .json, is the agent's name, as MCollective finds a DDL by its file name; a metadata name
// that differs is kept as Metadata.DisplayName. A file that does not parse is an error that
// names it. A missing dir is an error.
func LoadDir(dir string) (map[string]*Agent, error) {
	out, bad, err := loadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, name := range sortedKeys(bad) {
		return nil, bad[name]
	}
	return out, nil
}

// loadDir reads every agent DDL in dir: the good ones, and for each file that cannot be
// read or parsed, an error naming it, keyed by agent name. Only an unreadable dir is err.
func loadDir(dir string) (good map[string]*Agent, bad map[string]error, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("load ddls: %w", err)
	}
	good, bad = map[string]*Agent{}, map[string]error{}
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".json" || !e.Type().IsRegular() && e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		name := strings.TrimSuffix(e.Name(), ".json")
		path := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			bad[name] = fmt.Errorf("load ddl %s: %w", path, err)
			continue
		}
		a, err := ParseAgent(b)
		if err != nil {
			bad[name] = fmt.Errorf("load ddl %s: %w", path, err)
			continue
		}
		if a.Metadata.Name != name {
			if a.Metadata.DisplayName == "" {
				a.Metadata.DisplayName = a.Metadata.Name
			}
			a.Metadata.Name = name
		}
		good[name] = a
	}
	return good, bad, nil
}
