package ddl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DataFunc returns the DDL of a data plugin, or an error when it has none.
type DataFunc func(name string) (*Data, error)

// DataFromLibDirs returns a data plugin DDL lookup over JSON DDLs named <name>_data.json in
// each libdir's mcollective/data directory, earlier libdirs first, then the built-in data
// plugin DDLs. A file that cannot be read or parsed is an error for that plugin only. The
// error for a plugin found nowhere names the built-in plugins and where a DDL would go.
func DataFromLibDirs(libdirs []string) DataFunc {
	return func(name string) (*Data, error) {
		name = strings.TrimSuffix(strings.ToLower(name), "_data")
		for _, dir := range libdirs {
			file := filepath.Join(dir, "mcollective", "data", name+"_data.json")
			b, err := os.ReadFile(file)
			if errors.Is(err, os.ErrNotExist) {
				continue
			} else if err != nil {
				return nil, err
			}
			d, err := ParseData(b)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			return d, nil
		}
		if d, err := BuiltinData(name); err == nil {
			return d, nil
		}
		where := "a libdir's mcollective/data directory"
		if len(libdirs) > 0 {
			where = "mcollective/data under a libdir (" + strings.Join(libdirs, ", ") + ")"
		}
		return nil, unknownData(fmt.Sprintf("unknown data plugin %q (data plugins: %s); for another one, install its DDL as %s_data.json in %s",
			name, strings.Join(BuiltinDataPlugins(), ", "), name, where))
	}
}

// unknownData is the error for a data plugin without a DDL; it is an ErrNotFound.
type unknownData string

func (e unknownData) Error() string { return string(e) }
func (e unknownData) Unwrap() error { return ErrNotFound }
