package playbook

import (
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/starlib"
)

// Diagnostic is one problem that Check found, at a position in the playbook.
type Diagnostic struct {
	Pos syntax.Position
	Msg string
}

// String renders the diagnostic as "file:line:col: message".
func (d Diagnostic) String() string { return d.Pos.String() + ": " + d.Msg }

// DDLFunc returns the DDL of an agent, or an error when the agent is unknown (the DDL
// method of a starlib.Fleet or of the client).
type DDLFunc func(agent string) (*ddl.Agent, error)

// Check finds, without running anything and without a broker, the problems of a playbook
// that can be seen in its text:
//
//   - syntax errors (the first one; nothing else is checked then);
//   - resolve errors: names that are neither defined, loaded nor predeclared builtins;
//   - load() of a file or standard module that does not exist, or of a name it does not
//     define;
//   - rpc() calls with a literal agent, action or args: an agent without a DDL, an action
//     the DDL does not declare, undeclared inputs, and literal values that fail the DDL
//     (types, validation, required inputs);
//   - filters built from literals: filter("..."), filter.fact/cls/identity/agent/compound
//     with literal arguments, and a literal string given as discover() or rpc()'s filter,
//     rejected as a run would reject them (a compound expression at its column);
//   - keyword arguments that a builtin does not take, such as discover(filtr=...);
//   - --arg names and values (args) that the playbook's literal params(...) call rejects, and
//     args.NAME for a name that params(...) does not declare.
//
// src nil reads file; ddlOf nil knows the built-in DDLs only (ddl.Builtin). Diagnostics
// are sorted by position; none means the playbook passed.
func Check(file string, src []byte, ddlOf DDLFunc, args map[string]string) []Diagnostic {
	return CheckData(file, src, ddlOf, nil, args)
}

// CheckData is Check, with the data plugin DDLs that literal compound filters are checked
// against (ddl.DataFromLibDirs); nil knows the built-in data plugins only.
func CheckData(file string, src []byte, ddlOf DDLFunc, dataOf ddl.DataFunc, args map[string]string) []Diagnostic {
	if src == nil {
		b, err := os.ReadFile(file)
		if err != nil {
			return []Diagnostic{{Pos: syntax.MakePosition(&file, 1, 1), Msg: err.Error()}}
		}
		src = b
	}
	if ddlOf == nil {
		ddlOf = ddl.Builtin
	}
	c := &checker{file: file, ddlOf: ddlOf, dataOf: dataOf}
	f, err := starlib.FileOptions().Parse(file, src, 0)
	if err != nil {
		if se, ok := err.(syntax.Error); ok {
			return []Diagnostic{{Pos: se.Pos, Msg: se.Msg}}
		}
		return []Diagnostic{{Pos: syntax.MakePosition(&file, 1, 1), Msg: err.Error()}}
	}
	if err := resolve.File(f, starlib.Predeclared().Has, starlark.Universe.Has); err != nil {
		if list, ok := err.(resolve.ErrorList); ok {
			for _, e := range list {
				c.add(e.Pos, "%s", e.Msg)
			}
		} else {
			c.add(syntax.MakePosition(&file, 1, 1), "%v", err)
		}
	}
	declared := c.params(f, src, args)
	syntax.Walk(f, func(n syntax.Node) bool {
		switch x := n.(type) {
		case *syntax.LoadStmt:
			c.load(x)
		case *syntax.CallExpr:
			c.keywords(x)
			c.filters(x)
			if isBuiltin(x.Fn, "rpc") {
				c.rpc(x)
			}
			if isBuiltin(x.Fn, "exit") {
				c.exit(x)
			}
		case *syntax.DotExpr:
			if declared != nil && isBuiltin(x.X, "args") && !declared[x.Name.Name] {
				c.add(x.Name.NamePos, "args.%s: params() declares no %q", x.Name.Name, x.Name.Name)
			}
		}
		return true
	})
	sort.SliceStable(c.diags, func(i, j int) bool {
		a, b := c.diags[i].Pos, c.diags[j].Pos
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
	return c.diags
}

type checker struct {
	file   string
	ddlOf  DDLFunc
	dataOf ddl.DataFunc // nil: the built-in data plugins
	diags  []Diagnostic
}

func (c *checker) add(pos syntax.Position, format string, a ...any) {
	c.diags = append(c.diags, Diagnostic{Pos: pos, Msg: fmt.Sprintf(format, a...)})
}

// isBuiltin reports whether e names the predeclared name, not a local or global that
// shadows it.
func isBuiltin(e syntax.Expr, name string) bool {
	id, ok := e.(*syntax.Ident)
	if !ok || id.Name != name {
		return false
	}
	b, _ := id.Binding.(*resolve.Binding)
	return b == nil || b.Scope == resolve.Predeclared
}

func start(n syntax.Node) syntax.Position {
	p, _ := n.Span()
	return p
}

// params checks the raw args against the file's params(...) call and returns the names it
// declares when they are all literal keywords (nil otherwise).
func (c *checker) params(f *syntax.File, src []byte, args map[string]string) map[string]bool {
	if len(args) > 0 {
		pos, err := precheckArgs(c.file, src, args)
		switch {
		case err != nil:
			c.add(pos, "%v", err)
		case !pos.IsValid():
			names := make([]string, 0, len(args))
			for k := range args {
				names = append(names, k)
			}
			sort.Strings(names)
			c.add(syntax.MakePosition(&c.file, 1, 1), "unknown arg %q: the playbook declares no params()", names[0])
		}
	}
	call := findParams(f)
	if call == nil {
		return nil
	}
	declared := map[string]bool{}
	for _, a := range call.Args {
		b, ok := a.(*syntax.BinaryExpr)
		if !ok || b.Op != syntax.EQ {
			return nil
		}
		declared[b.X.(*syntax.Ident).Name] = true
		c.paramDecl(b.Y)
	}
	return declared
}

// paramDecl checks a param.KIND(...) declaration of params(...) whose arguments are
// literal, such as param.duration("10") (a default without a unit), by evaluating it alone.
func (c *checker) paramDecl(e syntax.Expr) {
	call, ok := e.(*syntax.CallExpr)
	if !ok {
		return
	}
	if dot, ok := call.Fn.(*syntax.DotExpr); !ok || !isBuiltin(dot.X, "param") {
		return
	}
	for _, a := range call.Args {
		if b, ok := a.(*syntax.BinaryExpr); ok && b.Op == syntax.EQ {
			a = b.Y
		}
		if _, ok := literal(a); !ok {
			return // depends on the playbook's values
		}
	}
	if _, err := evalAlone(starlib.FileOptions(), call, nil); err != nil {
		msg := err.Error()
		var ee *starlark.EvalError
		if errors.As(err, &ee) {
			msg = ee.Msg
		}
		if strings.HasPrefix(msg, "param.") && !strings.Contains(msg, "unexpected keyword") {
			c.add(start(call), "%s", msg)
		}
	}
}

// load checks that a loaded module exists and defines the loaded names.
func (c *checker) load(l *syntax.LoadStmt) {
	module, _ := l.Module.Value.(string)
	var src []byte
	var err error
	switch {
	case strings.HasPrefix(module, starlib.StdlibPrefix):
		src, err = fs.ReadFile(starlib.Stdlib(), strings.TrimPrefix(module, starlib.StdlibPrefix))
		if err != nil {
			c.add(start(l.Module), "load: no standard module %q", module)
			return
		}
	case strings.HasPrefix(module, "@"):
		c.add(start(l.Module), "load: unknown repository in %q: only %s is known", module, starlib.StdlibPrefix)
		return
	default:
		p := module
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(c.file), module)
		}
		if src, err = os.ReadFile(p); err != nil {
			c.add(start(l.Module), "load: %q: %v", module, err)
			return
		}
	}
	f, err := starlib.FileOptions().Parse(module, src, 0)
	if err != nil {
		return // reported when that file is checked or run
	}
	defined := topLevelNames(f)
	for _, from := range l.From {
		if !defined[from.Name] {
			c.add(from.NamePos, "load: %s does not define %s", module, from.Name)
		}
	}
}

// topLevelNames lists the globals a module defines: its defs and top-level assignments.
func topLevelNames(f *syntax.File) map[string]bool {
	names := map[string]bool{}
	var bind func(e syntax.Expr)
	bind = func(e syntax.Expr) {
		switch x := e.(type) {
		case *syntax.Ident:
			names[x.Name] = true
		case *syntax.TupleExpr:
			for _, y := range x.List {
				bind(y)
			}
		case *syntax.ListExpr:
			for _, y := range x.List {
				bind(y)
			}
		case *syntax.ParenExpr:
			bind(x.X)
		}
	}
	var stmts func([]syntax.Stmt)
	stmts = func(list []syntax.Stmt) {
		for _, s := range list {
			switch x := s.(type) {
			case *syntax.DefStmt:
				names[x.Name.Name] = true
			case *syntax.AssignStmt:
				bind(x.LHS)
			case *syntax.IfStmt: // top-level control is allowed in playbooks
				stmts(x.True)
				stmts(x.False)
			case *syntax.ForStmt:
				bind(x.Vars)
				stmts(x.Body)
			case *syntax.WhileStmt:
				stmts(x.Body)
			}
		}
	}
	stmts(f.Stmts)
	return names
}

// keywords checks the keyword arguments of a call to a builtin that takes a fixed set.
func (c *checker) keywords(call *syntax.CallExpr) {
	name := ""
	switch fn := call.Fn.(type) {
	case *syntax.Ident:
		if isBuiltin(fn, fn.Name) {
			name = fn.Name
		}
	case *syntax.DotExpr:
		for _, mod := range []string{"filter", "param", "report"} {
			if isBuiltin(fn.X, mod) {
				name = mod + "." + fn.Name.Name
			}
		}
	}
	params, ok := starlib.Params(name)
	if !ok {
		return
	}
	for _, a := range call.Args {
		b, ok := a.(*syntax.BinaryExpr)
		if !ok || b.Op != syntax.EQ {
			continue
		}
		kw := b.X.(*syntax.Ident)
		if slices.Contains(params, kw.Name) {
			continue
		}
		if len(params) == 0 {
			c.add(kw.NamePos, "%s: unexpected keyword argument %q: it takes no keywords", name, kw.Name)
		} else {
			c.add(kw.NamePos, "%s: unexpected keyword argument %q (parameters: %s)", name, kw.Name, strings.Join(params, ", "))
		}
	}
}

// rpc checks an rpc(agent, action, args) call whose parts are literals.
func (c *checker) rpc(call *syntax.CallExpr) {
	var agentE, actionE, argsE syntax.Expr
	positional := []*syntax.Expr{&agentE, &actionE, &argsE}
	i := 0
	for _, a := range call.Args {
		if b, ok := a.(*syntax.BinaryExpr); ok && b.Op == syntax.EQ {
			switch name := b.X.(*syntax.Ident).Name; name {
			case "agent":
				agentE = b.Y
			case "action":
				actionE = b.Y
			case "args":
				argsE = b.Y
			case "batch", "limit":
				c.size(name, b.Y)
			}
			continue
		}
		if u, ok := a.(*syntax.UnaryExpr); ok && (u.Op == syntax.STAR || u.Op == syntax.STARSTAR) {
			return // *args or **kwargs: nothing is certain
		}
		if i < len(positional) {
			*positional[i] = a
		}
		i++
	}
	agent, ok := stringLit(agentE)
	if !ok {
		return
	}
	d, err := c.ddlOf(agent)
	if err != nil {
		c.add(start(agentE), "rpc: unknown agent %q: %v", agent, err)
		return
	}
	action, ok := stringLit(actionE)
	if !ok {
		return
	}
	act, ok := d.Actions[action]
	if !ok {
		names := make([]string, 0, len(d.Actions))
		for k := range d.Actions {
			names = append(names, k)
		}
		sort.Strings(names)
		c.add(start(actionE), "rpc: agent %s has no action %q (actions: %s)", agent, action, strings.Join(names, ", "))
		return
	}
	c.rpcArgs(call, agent, action, d, act, argsE)
}

// exit checks the literal code of an exit(code) call.
func (c *checker) exit(call *syntax.CallExpr) {
	if len(call.Args) != 1 {
		return // starlark reports a missing or extra argument when the call runs
	}
	e := call.Args[0]
	if b, ok := e.(*syntax.BinaryExpr); ok && b.Op == syntax.EQ {
		e = b.Y
	}
	if code, ok := literal(e); ok {
		if n, ok := code.(int64); ok {
			if err := starlib.CheckExitCode(n); err != nil {
				c.add(start(e), "%v", err)
			}
		}
	}
}

// size checks a literal batch= or limit= of rpc() by the client's own rule.
func (c *checker) size(name string, e syntax.Expr) {
	v, ok := literal(e)
	if !ok {
		return
	}
	var spec string
	switch x := v.(type) {
	case string:
		spec = x
	case int64:
		spec = strconv.FormatInt(x, 10)
	default:
		return
	}
	var err error
	if name == "batch" {
		_, _, err = client.CallSizes(spec, "")
	} else {
		_, _, err = client.CallSizes("", spec)
	}
	if err != nil {
		c.add(start(e), "rpc: %v", err)
	}
}

// rpcArgs validates the literal parts of an rpc() call's args dict against the DDL.
func (c *checker) rpcArgs(call *syntax.CallExpr, agent, action string, d *ddl.Agent, act *ddl.Action, argsE syntax.Expr) {
	prefix := "rpc: " + agent + "." + action
	data := map[string]any{}
	at := start(call)
	switch x := argsE.(type) {
	case nil:
	case *syntax.Ident:
		if x.Name != "None" {
			return
		}
	case *syntax.DictExpr:
		at = start(x)
		for _, e := range x.List {
			entry := e.(*syntax.DictEntry)
			key, ok := stringLit(entry.Key)
			if !ok {
				continue
			}
			in := act.Input[key]
			if in == nil {
				c.add(start(entry.Key), "%s: input %q is not declared in the DDL (inputs: %s)", prefix, key, inputNames(act))
				continue
			}
			v, ok := literal(entry.Value)
			if !ok {
				data[key] = nil // present, value unknown
				continue
			}
			if err := in.Validate(key, v); err != nil {
				c.add(start(entry.Value), "%s: %v", prefix, err)
			}
			data[key] = v
		}
	default:
		return // a variable: checked when the playbook runs
	}
	d.SetInputDefaults(action, data)
	for _, key := range sortedInputs(act) {
		if _, present := data[key]; !present && !act.Input[key].Optional {
			c.add(at, "%s: Action %s needs a %s argument", prefix, action, key)
		}
	}
}

func inputNames(act *ddl.Action) string {
	names := sortedInputs(act)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func sortedInputs(act *ddl.Action) []string {
	names := make([]string, 0, len(act.Input))
	for k := range act.Input {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func stringLit(e syntax.Expr) (string, bool) {
	if l, ok := e.(*syntax.Literal); ok && l.Token == syntax.STRING {
		s, ok := l.Value.(string)
		return s, ok
	}
	return "", false
}

// literal returns the Go value of a literal expression, as rpc() would send it.
func literal(e syntax.Expr) (any, bool) {
	switch x := e.(type) {
	case *syntax.Literal:
		switch v := x.Value.(type) {
		case string:
			return v, x.Token == syntax.STRING
		case int64, float64, *big.Int:
			return v, true
		}
	case *syntax.Ident:
		if !isBuiltinOrUniversal(x) {
			return nil, false
		}
		switch x.Name {
		case "True":
			return true, true
		case "False":
			return false, true
		case "None":
			return nil, true
		}
	case *syntax.ParenExpr:
		return literal(x.X)
	case *syntax.UnaryExpr:
		v, ok := literal(x.X)
		if !ok || x.Op != syntax.MINUS {
			return nil, false
		}
		switch n := v.(type) {
		case int64:
			return -n, true
		case float64:
			return -n, true
		case *big.Int:
			return new(big.Int).Neg(n), true
		}
	case *syntax.ListExpr:
		return literalList(x.List)
	case *syntax.TupleExpr:
		return literalList(x.List)
	case *syntax.DictExpr:
		m := map[string]any{}
		for _, e := range x.List {
			entry := e.(*syntax.DictEntry)
			k, ok := stringLit(entry.Key)
			if !ok {
				return nil, false
			}
			v, ok := literal(entry.Value)
			if !ok {
				return nil, false
			}
			m[k] = v
		}
		return m, true
	}
	return nil, false
}

func literalList(list []syntax.Expr) (any, bool) {
	out := make([]any, 0, len(list))
	for _, e := range list {
		v, ok := literal(e)
		if !ok {
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

func isBuiltinOrUniversal(id *syntax.Ident) bool {
	b, _ := id.Binding.(*resolve.Binding)
	return b == nil || b.Scope == resolve.Universal || b.Scope == resolve.Predeclared
}
