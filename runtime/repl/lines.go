package repl

import (
	"reflect"

	"go.starlark.net/syntax"
)

var positionType = reflect.TypeOf(syntax.Position{})

// shiftLines moves every position in f down by n lines. The parser numbers each statement
// from line 1; a session reading a script shifts each one to where it is in the input, so
// that errors (and the frames of functions it defines) name the input's line.
func shiftLines(f *syntax.File, n int32) {
	if n == 0 {
		return
	}
	for _, stmt := range f.Stmts {
		syntax.Walk(stmt, func(node syntax.Node) bool {
			if node == nil {
				return false
			}
			v := reflect.ValueOf(node)
			if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
				return true
			}
			shiftStruct(v.Elem(), n)
			return true
		})
	}
}

// shiftStruct shifts the Position fields of one syntax node (its own, not its children's,
// which the walk visits).
func shiftStruct(s reflect.Value, n int32) {
	for i := 0; i < s.NumField(); i++ {
		fv := s.Field(i)
		if fv.Type() != positionType || !fv.CanSet() {
			continue
		}
		p := fv.Addr().Interface().(*syntax.Position)
		if p.Line > 0 {
			p.Line += n
		}
	}
}
