package ddl

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Defaults returns every output of action with its DDL default (nil when it has none), as
// MCollective prefills a reply's data (RPC::Reply#initialize_data). Each call returns fresh
// copies, so a caller may change them. An undeclared action gives an empty map.
func (a *Agent) Defaults(action string) map[string]any {
	out := map[string]any{}
	act, ok := a.Actions[action]
	if !ok {
		return out
	}
	for k, o := range act.Output {
		out[k] = deepCopy(o.Default)
	}
	return out
}

// Defaults returns every output of the data plugin with its DDL default (nil when it has
// none), as Data::Result starts.
func (d *Data) Defaults() map[string]any {
	out := make(map[string]any, len(d.Output))
	for k, o := range d.Output {
		out[k] = deepCopy(o.Default)
	}
	return out
}

// SetInputDefaults adds the DDL default of every input that data lacks, as MCollective's
// client does before it sends a request (DDL::AgentDDL#set_default_input_arguments). Like
// MCollective it fills only required inputs that have a non-nil default; an optional input
// stays absent so the agent sees that it was not given.
func (a *Agent) SetInputDefaults(action string, data map[string]any) {
	act, ok := a.Actions[action]
	if !ok || data == nil {
		return
	}
	for k, in := range act.Input {
		if _, present := data[k]; present || in.Default == nil || in.Optional {
			continue
		}
		data[k] = deepCopy(in.Default)
	}
}

var (
	floatRE = regexp.MustCompile(`^-?\d+\.\d+$`)
	intRE   = regexp.MustCompile(`^-?\d+$`)
)

// Convert turns a command-line value (the v of k=v) into the input's DDL type, as mco rpc
// does: boolean takes true/t/yes/y/1 and false/f/no/n/0 in any case; integer, float and
// number take digits, with a fraction giving a float and none an integer (so "1.5" for an
// integer input converts, then fails validation, as in MCollective). A leading minus sign is
// also accepted. Other types return s unchanged.
func (in *Input) Convert(s string) (any, error) {
	switch in.Type {
	case "boolean":
		switch strings.ToLower(s) {
		case "true", "t", "yes", "y", "1":
			return true, nil
		case "false", "f", "no", "n", "0":
			return false, nil
		}
		return nil, fmt.Errorf("%s does not look like a boolean argument", s)
	case "integer", "float", "number":
		if floatRE.MatchString(s) {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("%s does not look like a number: %w", s, err)
			}
			return f, nil
		}
		if intRE.MatchString(s) {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s does not look like a number: %w", s, err)
			}
			return n, nil
		}
		return nil, fmt.Errorf("%s does not look like a number", s)
	}
	return s, nil
}

// deepCopy copies the JSON-shaped values a DDL default can hold.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

// normalize turns json.Number values (decoded with UseNumber) into int64 when the literal is
// an integer and float64 otherwise, so a default of 0 goes on the wire as an Integer.
func normalize(v any) (any, error) {
	switch t := v.(type) {
	case json.Number:
		if n, err := t.Int64(); err == nil {
			return n, nil
		}
		f, err := t.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", t, err)
		}
		return f, nil
	case map[string]any:
		for k, e := range t {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			t[k] = n
		}
	case []any:
		for i, e := range t {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			t[i] = n
		}
	}
	return v, nil
}

// normalizeAgent normalizes every default in an agent DDL.
func normalizeAgent(a *Agent) error {
	for name, act := range a.Actions {
		if act == nil {
			continue
		}
		if err := normalizeIO(act.Input, act.Output); err != nil {
			return fmt.Errorf("action %s: %w", name, err)
		}
	}
	return nil
}

func normalizeIO(in map[string]*Input, out map[string]*Output) error {
	var err error
	for k, i := range in {
		if i == nil {
			continue
		}
		if i.Default, err = normalize(i.Default); err != nil {
			return fmt.Errorf("input %s default: %w", k, err)
		}
	}
	for k, o := range out {
		if o == nil {
			continue
		}
		if o.Default, err = normalize(o.Default); err != nil {
			return fmt.Errorf("output %s default: %w", k, err)
		}
	}
	return nil
}
