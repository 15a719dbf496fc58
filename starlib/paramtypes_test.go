package starlib

import (
	"strings"
	"testing"
)

// FuzzParamRead: reading a raw --arg value as any declared kind never panics, and a value
// it accepts has the kind's Starlark type.
func FuzzParamRead(f *testing.F) {
	for _, s := range []string{"10", "10m", "1h30m", "10%", "101%", "-1", "yes", "n", "", " 3 ", "reload", "9999999999999999999999", "1e9s"} {
		f.Add(s)
	}
	kinds := []*paramSpec{{kind: "duration"}, {kind: "size"}, {kind: "int"}, {kind: "bool"}, {kind: "string"},
		{kind: "choice", choices: []string{"restart", "reload"}}}
	want := map[string]string{"duration": "time.duration", "size": "int string NoneType", "int": "int", "bool": "bool",
		"string": "string", "choice": "string"}
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range kinds {
			v, err := k.read(s)
			if err != nil {
				continue
			}
			if !strings.Contains(want[k.kind], v.Type()) {
				t.Errorf("%s.read(%q) = %s of type %s", k.kind, s, v, v.Type())
			}
		}
	})
}
