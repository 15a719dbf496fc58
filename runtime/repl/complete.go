package repl

import (
	"maps"
	"slices"
	"sort"
	"strings"

	"go.starlark.net/starlark"

	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/starlib"
)

// keywords are Starlark's keywords and constants, completed with the names in scope.
const keywords = "and break continue def elif else for if in lambda load not or pass return while True False None"

// completer completes the line being typed (readline.AutoCompleter): names in scope and
// keywords; attributes after "x."; a builtin's keyword arguments inside its call; and, in
// rpc(), agent names, action names and the action's inputs from the DDLs:
//
//	rpc("ser       -> rpc("service"
//	rpc("service", "re          -> "restart"
//	rpc("service", "restart", {"se     -> {"service"
//	rpc("service", "restart", {        -> {"service":
//	rpc("service", "restart", {"service": "nginx"}, fi    -> filter=
type completer struct{ s *session }

// Do returns the candidates as the line editor wants them: what each adds after the
// word before the cursor, and the word's length.
func (c completer) Do(line []rune, pos int) ([][]rune, int) {
	word, cands := c.complete(string(line[:pos]))
	var out [][]rune
	for _, cand := range cands {
		if strings.HasPrefix(cand, word) {
			out = append(out, []rune(cand[len(word):]))
		}
	}
	return out, len([]rune(word))
}

// frame is one open bracket of the text before the cursor.
type frame struct {
	open   rune     // '(', '[' or '{'
	callee string   // for '(': the name called, e.g. "rpc", "filter.fact"
	arg    int      // the argument (or element) index
	lits   []string // for '(': the positional arguments that are string literals, by index
	key    bool     // for '{': a key is being typed
	kw     bool     // for '(': the current argument is a keyword argument
}

// complete returns the word before the cursor and the candidates that could replace it.
func (c completer) complete(text string) (string, []string) {
	stack, quote, str, tail := scan(text)
	if quote != 0 {
		return str, c.stringCandidates(stack, str, quote)
	}
	word := tail
	if base, part, ok := cutLast(word, "."); ok {
		return word, c.attrs(base, part)
	}
	var cands []string
	if n := len(stack); n > 0 {
		top := stack[n-1]
		switch {
		case top.open == '(':
			if names, ok := starlib.Params(top.callee); ok {
				for _, p := range names {
					cands = append(cands, p+"=")
				}
			}
			// rpc()'s third argument, its inputs: offer the dict, one input at a time.
			for _, in := range c.rpcInputs(top) {
				cands = append(cands, `{"`+in+`": `)
			}
		case top.open == '{' && top.key && n > 1:
			if inputs := c.rpcInputs(stack[n-2]); inputs != nil {
				for _, in := range inputs {
					cands = append(cands, `"`+in+`": `)
				}
				if word == "" {
					return "", cands
				}
			}
		}
	}
	for name := range c.s.globals {
		cands = append(cands, name)
	}
	for name := range starlark.Universe {
		cands = append(cands, name)
	}
	cands = append(cands, strings.Fields(keywords)...)
	return word, matching(word, cands)
}

// stringCandidates completes a string literal being typed: an agent or an action in rpc(),
// an input as a key of rpc()'s args.
func (c completer) stringCandidates(stack []frame, str string, quote rune) []string {
	n := len(stack)
	if n == 0 {
		return nil
	}
	var names []string
	top := stack[n-1]
	switch {
	case top.open == '(' && top.callee == "rpc" && !top.kw && top.arg == 0:
		names = slices.Sorted(maps.Keys(c.agents()))
	case top.open == '(' && top.callee == "rpc" && !top.kw && top.arg == 1:
		if a := c.agents()[top.lit(0)]; a != nil {
			names = slices.Sorted(maps.Keys(a.Actions))
		}
	case top.open == '{' && top.key && n > 1:
		names = c.rpcInputs(stack[n-2])
	}
	var out []string
	for _, name := range matching(str, names) {
		out = append(out, name+string(quote))
	}
	return out
}

// rpcInputs returns the inputs of the rpc() call of frame call when the dict inside it is
// its args (the third argument), else nil.
func (c completer) rpcInputs(call frame) []string {
	if call.open != '(' || call.callee != "rpc" || call.kw || call.arg != 2 {
		return nil
	}
	a := c.agents()[call.lit(0)]
	if a == nil || a.Actions[call.lit(1)] == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(a.Actions[call.lit(1)].Input))
}

func (f frame) lit(i int) string {
	if i < len(f.lits) {
		return f.lits[i]
	}
	return ""
}

// agents are the DDLs the session knows: Options.Agents, else the built-in ones.
func (c completer) agents() map[string]*ddl.Agent {
	if c.s.o.Agents != nil {
		return c.s.o.Agents
	}
	out := map[string]*ddl.Agent{}
	for _, n := range ddl.BuiltinAgents() {
		if a, err := ddl.Builtin(n); err == nil {
			out[n] = a
		}
	}
	return out
}

// attrs completes base.part: the attributes of the value base names (a global, or a chain
// of attributes of one; nothing is called).
func (c completer) attrs(base, part string) []string {
	names := strings.Split(base, ".")
	v, ok := c.s.globals[names[0]]
	if !ok {
		if v, ok = starlark.Universe[names[0]]; !ok {
			return nil
		}
	}
	for _, n := range names[1:] {
		x, isAttrs := v.(starlark.HasAttrs)
		if !isAttrs {
			return nil
		}
		next, err := x.Attr(n)
		if err != nil || next == nil {
			return nil
		}
		v = next
	}
	x, isAttrs := v.(starlark.HasAttrs)
	if !isAttrs {
		return nil
	}
	var out []string
	for _, n := range matching(part, x.AttrNames()) {
		out = append(out, base+"."+n)
	}
	return out
}

// scan reads the text before the cursor: the brackets still open, and either the string
// literal being typed (its quote and content so far) or the name at the end (letters, digits,
// _ and .).
func scan(text string) (stack []frame, quote rune, str, tail string) {
	var lastName string // the name before the current position, for a following '('
	name := func(r rune) bool {
		return r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
	}
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '"' || r == '\'':
			j := i + 1
			var b strings.Builder
			for ; j < len(rs) && rs[j] != r; j++ {
				if rs[j] == '\\' && j+1 < len(rs) {
					j++
				}
				b.WriteRune(rs[j])
			}
			if j >= len(rs) {
				return stack, r, b.String(), ""
			}
			if n := len(stack); n > 0 && stack[n-1].open == '(' && !stack[n-1].kw {
				f := &stack[n-1]
				for len(f.lits) <= f.arg {
					f.lits = append(f.lits, "")
				}
				f.lits[f.arg] = b.String()
			}
			i = j
			lastName = ""
		case r == '#':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
		case name(r):
			j := i
			for j < len(rs) && name(rs[j]) {
				j++
			}
			lastName = string(rs[i:j])
			i = j - 1
		case r == '(' || r == '[' || r == '{':
			f := frame{open: r, key: r == '{'}
			if r == '(' {
				f.callee = lastName
			}
			stack = append(stack, f)
			lastName = ""
		case r == ')' || r == ']' || r == '}':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			lastName = ""
		case r == ',':
			if n := len(stack); n > 0 {
				stack[n-1].arg++
				stack[n-1].kw = false
				stack[n-1].key = stack[n-1].open == '{'
			}
			lastName = ""
		case r == '=' && i+1 < len(rs) && rs[i+1] != '=' && (i == 0 || !strings.ContainsRune("=!<>", rs[i-1])):
			if n := len(stack); n > 0 && stack[n-1].open == '(' {
				stack[n-1].kw = true
			}
			lastName = ""
		case r == ':':
			if n := len(stack); n > 0 && stack[n-1].open == '{' {
				stack[n-1].key = false
			}
			lastName = ""
		case r == ' ' || r == '\t':
		default:
			lastName = ""
		}
	}
	i := len(rs)
	for i > 0 && name(rs[i-1]) {
		i--
	}
	return stack, 0, "", string(rs[i:])
}

// cutLast splits s at its last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// matching returns the candidates that begin with prefix, sorted, without repeats; names
// beginning with _ only when the prefix does.
func matching(prefix string, cands []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range cands {
		if !strings.HasPrefix(c, prefix) || seen[c] || (strings.HasPrefix(c, "_") && !strings.HasPrefix(prefix, "_")) {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}
