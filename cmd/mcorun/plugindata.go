package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/listing"
)

// knownData returns the data plugin DDLs: the built-in ones and the NAME_data.json files
// of the libdirs' mcollective/data directories, each looked up as -S and filter.compound
// look it up (ddl.DataFromLibDirs), so that what this lists is what they accept. A file
// that cannot be parsed is left out.
func knownData(cfg *config.Config) map[string]*ddl.Data {
	find := ddl.DataFromLibDirs(cfg.LibDir)
	names := ddl.BuiltinDataPlugins()
	for _, dir := range cfg.LibDir {
		entries, _ := os.ReadDir(filepath.Join(dir, "mcollective", "data"))
		for _, e := range entries {
			if n, ok := strings.CutSuffix(e.Name(), "_data.json"); ok && !e.IsDir() {
				names = append(names, n)
			}
		}
	}
	out := map[string]*ddl.Data{}
	for _, n := range names {
		if d, err := find(n); err == nil {
			out[n] = d
		}
	}
	return out
}

// formatDataDoc renders a data plugin DDL: mco's metadata block, its query input and its
// outputs, the fields a compound filter can compare.
func formatDataDoc(d *ddl.Data, st listing.Style) string {
	var b strings.Builder
	writeMetadata(&b, d.Metadata)
	name := d.Metadata.Name
	b.WriteString("QUERY:\n")
	inputs := map[string]*ddl.Input{}
	if d.Query != nil {
		inputs["query"] = d.Query
	}
	writeInputs(&b, st, inputs, "This data plugin takes no query")
	b.WriteString("\nOUTPUT:\n")
	writeOutputs(&b, st, d.Output, "This data plugin does not have any outputs")
	if len(d.Output) > 0 {
		query := ""
		if d.Query != nil {
			query = `"..."`
		}
		b.WriteString("\nUse an output in a filter as -S '" + name + "(" + query + ")." + sortedKeys(d.Output)[0] + "=...'.\n")
	}
	return b.String()
}
