// Package ddl holds agent and data plugin definitions (MCollective's DDL), encoded as JSON:
// metadata with the timeout, each action's inputs with their validation, outputs with their
// defaults and display names, and aggregates.
package ddl

// Agent is an agent's DDL.
type Agent struct {
	Metadata Metadata           `json:"metadata"`
	Actions  map[string]*Action `json:"actions"`
}

// Metadata is a DDL's metadata block. Timeout is in seconds.
type Metadata struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Author      string `json:"author"`
	License     string `json:"license"`
	Version     string `json:"version"`
	URL         string `json:"url"`
	Timeout     int    `json:"timeout"`
	// DisplayName is MCollective's metadata :name when it differs from the plugin's name,
	// e.g. "Discovery Agent" or "File Stat". Name is always the name the plugin is served by.
	DisplayName string `json:"display_name,omitempty"`
}

// Action is one action: inputs, outputs and aggregates.
type Action struct {
	Description string             `json:"description"`
	Display     string             `json:"display,omitempty"` // always, ok or failed
	Input       map[string]*Input  `json:"input,omitempty"`
	Output      map[string]*Output `json:"output,omitempty"`
	Aggregate   []Aggregate        `json:"aggregate,omitempty"`
}

// Input is one action input. Type is string, integer, float, number, boolean, list, hash or
// array. Validation is a regular expression or a named validator (shellsafe, ipv4address, ...).
type Input struct {
	Prompt      string   `json:"prompt"`
	Description string   `json:"description"`
	Type        string   `json:"type"`
	Validation  string   `json:"validation,omitempty"`
	Optional    bool     `json:"optional"`
	MaxLength   int      `json:"maxlength,omitempty"`
	Default     any      `json:"default,omitempty"`
	List        []string `json:"list,omitempty"` // allowed values for type list
}

// Output is one action output.
type Output struct {
	Description string `json:"description"`
	DisplayAs   string `json:"display_as"`
	Default     any    `json:"default,omitempty"`
	Type        string `json:"type,omitempty"`
}

// Data is a data plugin's DDL: its metadata, its single query input (nil when the plugin takes
// no argument) and its outputs. Data plugins answer compound filters (fstat("/etc/motd").size)
// and rpcutil get_data.
type Data struct {
	Metadata    Metadata           `json:"metadata"`
	Description string             `json:"description"`
	Query       *Input             `json:"query,omitempty"`
	Output      map[string]*Output `json:"output"`
}

// Aggregate is one aggregate function over an output, e.g. summary(:status).
type Aggregate struct {
	Function string         `json:"function"` // summary, average, sum, boolean_summary
	Output   string         `json:"output"`
	Args     map[string]any `json:"args,omitempty"`
}
