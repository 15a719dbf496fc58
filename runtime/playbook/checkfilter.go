package playbook

import (
	"errors"
	"math/big"
	"slices"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/mcorun/mcorun/runtime/filter"
	"github.com/mcorun/mcorun/starlib"
)

// filterBuiltins are the filter constructors check evaluates when all their arguments are
// literals, by the name a playbook calls them with.
var filterBuiltins = []string{"filter", "filter.fact", "filter.cls", "filter.identity", "filter.agent", "filter.compound"}

// filters checks the literal filters of a call: filter("...") and filter.X(...) with
// literal arguments, and a literal string given as the filter of discover() or rpc(). It
// builds them with the builtins a run uses, so check rejects exactly what a run would.
func (c *checker) filters(call *syntax.CallExpr) {
	name := builtinName(call.Fn)
	switch name {
	case "discover", "rpc":
		if e := filterOperand(call, name); e != nil {
			if _, ok := stringLit(e); ok {
				c.buildFilter(e, "filter", []syntax.Expr{e}, nil)
			}
		}
		return
	}
	for _, b := range filterBuiltins {
		if name != b {
			continue
		}
		params, _ := starlib.Params(name)
		var pos []syntax.Expr
		var kw []*syntax.BinaryExpr
		for _, a := range call.Args {
			if b, ok := a.(*syntax.BinaryExpr); ok && b.Op == syntax.EQ {
				if !slices.Contains(params, b.X.(*syntax.Ident).Name) {
					return // reported by keywords
				}
				kw = append(kw, b)
			} else {
				pos = append(pos, a)
			}
		}
		c.buildFilter(call, name, pos, kw)
	}
}

// builtinName is the name a call's function has when it is a builtin ("rpc",
// "filter.compound"), or "".
func builtinName(fn syntax.Expr) string {
	switch x := fn.(type) {
	case *syntax.Ident:
		if isBuiltin(x, x.Name) {
			return x.Name
		}
	case *syntax.DotExpr:
		if isBuiltin(x.X, "filter") {
			return "filter." + x.Name.Name
		}
	}
	return ""
}

// filterOperand is the filter argument of a discover() or rpc() call: filter=, or its
// positional place (discover's first, rpc's fifth).
func filterOperand(call *syntax.CallExpr, name string) syntax.Expr {
	at := map[string]int{"discover": 0, "rpc": 4}[name]
	i := 0
	for _, a := range call.Args {
		if b, ok := a.(*syntax.BinaryExpr); ok && b.Op == syntax.EQ {
			if b.X.(*syntax.Ident).Name == "filter" {
				return b.Y
			}
			continue
		}
		if u, ok := a.(*syntax.UnaryExpr); ok && (u.Op == syntax.STAR || u.Op == syntax.STARSTAR) {
			return nil
		}
		if i == at {
			return a
		}
		i++
	}
	return nil
}

// buildFilter calls the filter builtin name with the literal arguments pos and kw, and
// reports its error at the column the parser names when the argument is a plain string
// literal, else at at. Arguments that are not all literals are left to the run.
func (c *checker) buildFilter(at syntax.Node, name string, pos []syntax.Expr, kw []*syntax.BinaryExpr) {
	args := make(starlark.Tuple, 0, len(pos))
	for _, e := range pos {
		v, ok := starlarkLiteral(e)
		if !ok {
			return
		}
		args = append(args, v)
	}
	kwargs := make([]starlark.Tuple, 0, len(kw))
	for _, b := range kw {
		v, ok := starlarkLiteral(b.Y)
		if !ok {
			return
		}
		kwargs = append(kwargs, starlark.Tuple{starlark.String(b.X.(*syntax.Ident).Name), v})
	}
	fn, err := filterBuiltin(name)
	if err != nil {
		return
	}
	thread := &starlark.Thread{Name: "check"}
	if c.dataOf != nil {
		starlib.SetDataDDLs(thread, c.dataOf)
	}
	_, err = starlark.Call(thread, fn, args, kwargs)
	if err == nil {
		return
	}
	where := start(at)
	var se *filter.SyntaxError
	if errors.As(err, &se) {
		for _, e := range append(pos, kwExprs(kw)...) {
			if p, ok := columnIn(e, se); ok {
				where = p
				break
			}
		}
	}
	if ee, ok := err.(*starlark.EvalError); ok {
		err = ee.Unwrap()
	}
	c.add(where, "%v", err)
}

func kwExprs(kw []*syntax.BinaryExpr) []syntax.Expr {
	out := make([]syntax.Expr, len(kw))
	for i, b := range kw {
		out[i] = b.Y
	}
	return out
}

// filterBuiltin returns the predeclared filter or one of its constructors.
func filterBuiltin(name string) (starlark.Value, error) {
	f := starlib.Predeclared()["filter"]
	method, ok := strings.CutPrefix(name, "filter.")
	if !ok {
		return f, nil
	}
	return f.(starlark.HasAttrs).Attr(method)
}

// columnIn returns the position in the file of the column a SyntaxError names, when e is
// the one-line string literal it parsed, written without escapes.
func columnIn(e syntax.Expr, se *filter.SyntaxError) (syntax.Position, bool) {
	l, ok := e.(*syntax.Literal)
	if !ok || l.Token != syntax.STRING || l.Value != se.Input || len(l.Raw) < 2 {
		return syntax.Position{}, false
	}
	q := l.Raw[:1]
	if l.Raw != q+se.Input+q || strings.ContainsAny(se.Input, "\\\n") {
		return syntax.Position{}, false
	}
	p := l.TokenPos
	p.Col += int32(se.Col)
	return p, true
}

// starlarkLiteral is the Starlark value of a scalar literal (string, number, bool, None).
func starlarkLiteral(e syntax.Expr) (starlark.Value, bool) {
	v, ok := literal(e)
	if !ok {
		return nil, false
	}
	switch x := v.(type) {
	case string:
		return starlark.String(x), true
	case int64:
		return starlark.MakeInt64(x), true
	case *big.Int:
		return starlark.MakeBigInt(x), true
	case float64:
		return starlark.Float(x), true
	case bool:
		return starlark.Bool(x), true
	case nil:
		return starlark.None, true
	}
	return nil, false
}
