package discovery

import (
	"testing"

	"github.com/mcorun/mcorun/runtime/marshal"
)

func TestHandle(t *testing.T) {
	tests := []struct {
		name string
		body any
		want any
	}{
		{"ping", "ping", "pong"},
		{"other", "hello", "Unknown Request: hello"},
		{"nil", nil, "Unknown Request: "},
		{"number", int64(3), "Unknown Request: 3"},
		{"float", 1.0, "Unknown Request: 1.0"},
		{"array", []any{"a", marshal.Symbol("b"), nil}, `Unknown Request: ["a", :b, nil]`},
		{"symbol", marshal.Symbol("ping"), "Unknown Request: ping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Handle(tt.body); got != tt.want {
				t.Errorf("Handle(%#v) = %#v, want %#v", tt.body, got, tt.want)
			}
		})
	}
}

func TestDDL(t *testing.T) {
	d := DDL()
	if d.Metadata.Name != Name || d.Metadata.Timeout != 5 || d.Metadata.DisplayName != "Discovery Agent" ||
		d.Metadata.Description != "MCollective Discovery Agent" {
		t.Errorf("DDL metadata = %+v", d.Metadata)
	}
}
