package repl

import (
	"reflect"

	"go.starlark.net/syntax"
)

var positionType = reflect.TypeOf(syntax.Position{})

// mapLines moves every position in f to line(its line). The parser numbers each statement
// from line 1 and never sees the blank lines kept inside a block; a session maps each line
// to where it is in the input, so that errors (and the frames of functions it defines) name
// the input's line.
func mapLines(f *syntax.File, line func(int32) int32) {
	for _, stmt := range f.Stmts {
		syntax.Walk(stmt, func(node syntax.Node) bool {
			if node == nil {
				return false
			}
			v := reflect.ValueOf(node)
			if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
				return true
			}
			mapStruct(v.Elem(), line)
			return true
		})
	}
}

// mapStruct maps the Position fields of one syntax node (its own, not its children's,
// which the walk visits).
func mapStruct(s reflect.Value, line func(int32) int32) {
	for i := 0; i < s.NumField(); i++ {
		fv := s.Field(i)
		if fv.Type() != positionType || !fv.CanSet() {
			continue
		}
		p := fv.Addr().Interface().(*syntax.Position)
		if p.Line > 0 {
			p.Line = line(p.Line)
		}
	}
}
