package filter

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

// checkData checks the data plugin calls of a parsed compound expression s against their
// DDLs: the plugin must have one, and the field compared must be one of its outputs. A
// server would otherwise evaluate a misspelt field as false and silently match no node.
// The error is a SyntaxError at the plugin name, or at the field.
func checkData(s string, items []message.CompoundItem, starts []int, data ddl.DataFunc) error {
	for i, it := range items {
		if it.Kind != message.FStatement || it.Func == nil {
			continue
		}
		d, err := data(it.Func.Name)
		if err != nil {
			return &SyntaxError{Input: s, Col: starts[i] + 1, Msg: err.Error()}
		}
		if it.Func.Value == "" || d.Output[it.Func.Value] != nil {
			continue
		}
		fields := make([]string, 0, len(d.Output))
		for k := range d.Output {
			fields = append(fields, k)
		}
		sort.Strings(fields)
		return &SyntaxError{Input: s, Col: fieldColumn(s, starts[i], it.Func.Value),
			Msg: fmt.Sprintf("data plugin %s has no field %q (fields: %s)", it.Func.Name, it.Func.Value, strings.Join(fields, ", "))}
	}
	return nil
}

// fieldColumn is the 1-based column of field in the fstatement starting at rune index start
// of s, or of the fstatement when the field is not found.
func fieldColumn(s string, start int, field string) int {
	rest := string([]rune(s)[start:])
	if i := strings.Index(rest, ")."+field); i >= 0 {
		return start + utf8.RuneCountInString(rest[:i]) + 3
	}
	return start + 1
}
