package ddl

import (
	"fmt"
	"os"
	"path/filepath"
)

// FromLibDirs returns a DDL lookup over JSON DDLs (<agent>.json) in each libdir's
// mcollective/agent directory or the libdir itself, earlier libdirs first, then the built-in
// DDLs. A malformed DDL file is an error that names it.
func FromLibDirs(libdirs []string) (func(agent string) (*Agent, error), error) {
	found := map[string]*Agent{}
	for _, dir := range libdirs {
		for _, d := range []string{filepath.Join(dir, "mcollective", "agent"), dir} {
			if st, err := os.Stat(d); err != nil || !st.IsDir() {
				continue
			}
			agents, err := LoadDir(d)
			if err != nil {
				return nil, err
			}
			for name, a := range agents {
				if _, seen := found[name]; !seen {
					found[name] = a
				}
			}
		}
	}
	return func(agent string) (*Agent, error) {
		if a, ok := found[agent]; ok {
			return a, nil
		}
		a, err := Builtin(agent)
		if err != nil {
			return nil, fmt.Errorf("%w: no %s.json in libdir %v", err, agent, libdirs)
		}
		return a, nil
	}, nil
}
