package ddl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Choria's plugins ship their DDLs as JSON in a format of their own
// (https://choria.io/schemas/mcorpc/ddl/v1/agent.json): a "$schema" key, metadata that may
// carry a provider, "actions" as an array of objects each naming its "action", aggregates
// written {"function": "summary", "args": ["status", {"format": "..."}]}, named validators
// without a leading colon and "default": null where there is none. A libdir holding a normal
// install of those plugins must read as it is, so ParseAgent accepts that format beside ours
// and normalizes it into the same Agent. Fields we do not use are ignored in that format;
// ours stays strict.

// choriaAgent is an agent DDL in Choria's JSON format. Unknown fields are ignored.
type choriaAgent struct {
	Schema   string         `json:"$schema"`
	Metadata choriaMetadata `json:"metadata"`
	Actions  []choriaAction `json:"actions"`
}

type choriaMetadata struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Author      string `json:"author"`
	License     string `json:"license"`
	Version     string `json:"version"`
	URL         string `json:"url"`
	Timeout     int    `json:"timeout"`
	Provider    string `json:"provider"` // ruby or golang in Choria; unused here
}

type choriaAction struct {
	Action      string             `json:"action"`
	Description string             `json:"description"`
	Display     string             `json:"display"`
	Input       map[string]*Input  `json:"input"`
	Output      map[string]*Output `json:"output"`
	Aggregate   []choriaAggregate  `json:"aggregate"`
}

// choriaAggregate is {"function": f, "args": [output, {options}]}.
type choriaAggregate struct {
	Function string `json:"function"`
	Args     []any  `json:"args"`
}

// isChoriaAgent reports whether b is in Choria's format: it has a "$schema" key, or its
// actions are an array.
func isChoriaAgent(b []byte) bool {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return false // let the strict decoder report the syntax error
	}
	if _, ok := probe["$schema"]; ok {
		return true
	}
	return bytes.HasPrefix(bytes.TrimSpace(probe["actions"]), []byte("["))
}

// parseChoriaAgent decodes Choria's format into our Agent, before ParseAgent's checks.
func parseChoriaAgent(b []byte) (*Agent, error) {
	var c choriaAgent
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("parse agent ddl (choria format): %w", err)
	}
	m := c.Metadata
	a := &Agent{
		Metadata: Metadata{Name: m.Name, Description: m.Description, Author: m.Author,
			License: m.License, Version: m.Version, URL: m.URL, Timeout: m.Timeout},
		Actions: make(map[string]*Action, len(c.Actions)),
	}
	for i, ca := range c.Actions {
		if ca.Action == "" {
			return nil, fmt.Errorf("parse agent ddl %s: action %d has no \"action\" name", m.Name, i)
		}
		if _, dup := a.Actions[ca.Action]; dup {
			return nil, fmt.Errorf("parse agent ddl %s: action %s is declared twice", m.Name, ca.Action)
		}
		for _, in := range ca.Input {
			if in != nil {
				in.Validation = choriaValidation(in.Validation)
			}
		}
		act := &Action{Description: ca.Description, Display: ca.Display, Input: ca.Input, Output: ca.Output}
		for j, ag := range ca.Aggregate {
			conv, err := ag.normalize()
			if err != nil {
				return nil, fmt.Errorf("parse agent ddl %s: action %s: aggregate %d: %w", m.Name, ca.Action, j, err)
			}
			act.Aggregate = append(act.Aggregate, conv)
		}
		a.Actions[ca.Action] = act
	}
	return a, nil
}

// normalize turns args [output, {options}] into our Aggregate's Output and Args.
func (c choriaAggregate) normalize() (Aggregate, error) {
	if c.Function == "" {
		return Aggregate{}, fmt.Errorf("no function named")
	}
	if len(c.Args) == 0 {
		return Aggregate{}, fmt.Errorf("%s has no args: the first arg names the output", c.Function)
	}
	out, ok := c.Args[0].(string)
	if !ok || out == "" {
		return Aggregate{}, fmt.Errorf("%s: the first arg must name an output, got %v", c.Function, c.Args[0])
	}
	ag := Aggregate{Function: c.Function, Output: out}
	if len(c.Args) > 1 {
		opts, ok := c.Args[1].(map[string]any)
		if !ok {
			return Aggregate{}, fmt.Errorf("%s: the second arg must be an object of options, got %v", c.Function, c.Args[1])
		}
		if len(opts) > 0 {
			ag.Args = opts
		}
	}
	return ag, nil
}

// choriaValidation writes a bare validator name ("shellsafe", "nettest_fqdn") as ours
// (":shellsafe") when we know that validator; anything else is a regular expression, as
// Choria reads it.
func choriaValidation(v string) string {
	if _, ok := namedValidators[v]; ok && !strings.HasPrefix(v, ":") {
		return ":" + v
	}
	return v
}
