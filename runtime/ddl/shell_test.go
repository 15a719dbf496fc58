package ddl

import (
	"strings"
	"testing"
)

// TestShellDDL checks the shell agent's DDL against the shell-agent 1.1 contract: its
// actions, the inputs' types, validations and lengths, and the timeout.
func TestShellDDL(t *testing.T) {
	s, err := Builtin("shell")
	if err != nil {
		t.Fatal(err)
	}
	if s.Metadata.Timeout != 180 || s.Metadata.Version != "1.1.0" || len(s.Actions) != 5 {
		t.Fatalf("shell: metadata %+v, %d actions", s.Metadata, len(s.Actions))
	}
	outputs := map[string]string{
		"run":    "exitcode,stderr,stdout,success",
		"start":  "handle",
		"status": "exitcode,status,stderr,stdout",
		"list":   "jobs",
		"kill":   "",
	}
	for action, want := range outputs {
		if got := strings.Join(sortedKeys(s.Actions[action].Output), ","); got != want {
			t.Errorf("%s outputs = %s, want %s", action, got, want)
		}
	}
	cases := []struct {
		action string
		data   map[string]any
		ok     bool
	}{
		{"run", map[string]any{"command": "echo hi"}, true},
		{"run", map[string]any{"command": "echo hi", "user": "nobody", "timeout": 1.5}, true},
		{"run", map[string]any{"command": "echo hi", "timeout": int64(1)}, false}, // float only
		{"run", map[string]any{"command": strings.Repeat("x", 10241)}, false},
		{"run", map[string]any{"command": "x", "user": strings.Repeat("u", 1025)}, false},
		{"run", map[string]any{}, false},
		{"start", map[string]any{"command": "sleep 1"}, true},
		{"status", map[string]any{"handle": "0f8fad5b-d9cb-469f-a165-70867728950e", "stdout_offset": int64(3)}, true},
		{"status", map[string]any{"handle": "../etc"}, false},
		{"status", map[string]any{"handle": "0f8fad5b-d9cb-469f-a165-70867728950e", "stderr_offset": "3"}, false},
		{"kill", map[string]any{"handle": "0f8fad5b-d9cb-469f-a165-70867728950e0"}, false}, // 37 characters
		{"kill", map[string]any{"handle": "ABC"}, false},
		{"list", map[string]any{}, true},
	}
	for _, c := range cases {
		err := s.Validate(c.action, c.data)
		if (err == nil) != c.ok {
			t.Errorf("Validate(%s, %v) = %v, want ok=%v", c.action, c.data, err, c.ok)
		}
	}
}
