package sandbox

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FleetError is a fleet file that cannot be used: File names it, Err says what is wrong
// in the file's own terms (line numbers and keys, no Go types).
type FleetError struct {
	File string
	Err  error
}

func (e *FleetError) Error() string { return "fleet " + e.File + ": " + e.Err.Error() }
func (e *FleetError) Unwrap() error { return e.Err }

// fleetBlocks names the blocks of a fleet file by the Go type that holds them.
var fleetBlocks = map[reflect.Type]string{
	reflect.TypeFor[Fleet]():       "the fleet file",
	reflect.TypeFor[Template]():    "a template",
	reflect.TypeFor[PuppetSpec]():  "a puppet block",
	reflect.TypeFor[ServiceSpec](): "a service",
	reflect.TypeFor[PackageSpec](): "a package",
}

var (
	unknownFieldRE = regexp.MustCompile(`^(line \d+): field (\S+) not found in type (\S+)$`)
	unmarshalRE    = regexp.MustCompile("^(line \\d+): cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
)

// yamlError rewrites the decoder's errors about a fleet file in the file's terms: an
// unknown key names the block and its keys, a value of the wrong kind says what is wanted.
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		msgs[i] = yamlMessage(m)
	}
	return errors.New(strings.Join(msgs, "; "))
}

func yamlMessage(m string) string {
	if p := unknownFieldRE.FindStringSubmatch(m); p != nil {
		for t, block := range fleetBlocks {
			if t.String() == p[3] {
				return fmt.Sprintf("%s: unknown key %q in %s (keys: %s)", p[1], p[2], block, strings.Join(yamlKeys(t), ", "))
			}
		}
		return fmt.Sprintf("%s: unknown key %q", p[1], p[2])
	}
	if p := unmarshalRE.FindStringSubmatch(m); p != nil {
		return fmt.Sprintf("%s: %q is %s, want %s", p[1], p[3], yamlKind(p[2]), goKind(p[4]))
	}
	return m
}

// yamlKeys lists the keys of a block, in the order the type declares them.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

func yamlKind(tag string) string {
	switch tag {
	case "str":
		return "a string"
	case "int", "float":
		return "a number"
	case "bool":
		return "a boolean"
	case "seq":
		return "a list"
	case "map":
		return "a mapping"
	}
	return "a " + tag
}

func goKind(t string) string {
	t = strings.TrimLeft(t, "*")
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a mapping"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	}
	return "a mapping"
}
