package ddl

import (
	"fmt"
	"os"
	"path/filepath"
)

// FromLibDirs returns a DDL lookup over JSON DDLs (<agent>.json) in each libdir's
// mcollective/agent directory or the libdir itself, earlier libdirs first, then the built-in
// DDLs. A DDL file that cannot be read or parsed does not stop the load: it is returned as a
// warning naming the file, and looking up that agent fails with the same error, so only
// calls to that agent fail. A later libdir's good file for the same agent does not hide an
// earlier bad one, as the earlier file is the one MCollective would use.
func FromLibDirs(libdirs []string) (lookup func(agent string) (*Agent, error), warnings []error) {
	found := map[string]*Agent{}
	broken := map[string]error{}
	for _, dir := range libdirs {
		for _, d := range []string{filepath.Join(dir, "mcollective", "agent"), dir} {
			if st, err := os.Stat(d); err != nil || !st.IsDir() {
				continue
			}
			agents, bad, err := loadDir(d)
			if err != nil {
				warnings = append(warnings, err)
				continue
			}
			for name, err := range bad {
				if _, seen := found[name]; seen {
					continue
				}
				if _, seen := broken[name]; !seen {
					broken[name] = err
					warnings = append(warnings, fmt.Errorf("%w: calls to agent %s fail until the file is fixed or removed", err, name))
				}
			}
			for name, a := range agents {
				_, seen := found[name]
				_, bad := broken[name]
				if !seen && !bad {
					found[name] = a
				}
			}
		}
	}
	return func(agent string) (*Agent, error) {
		if a, ok := found[agent]; ok {
			return a, nil
		}
		if err, ok := broken[agent]; ok {
			return nil, err
		}
		a, err := Builtin(agent)
		if err != nil {
			return nil, fmt.Errorf("%w: no %s.json in libdir %v", err, agent, libdirs)
		}
		return a, nil
	}, warnings
}
