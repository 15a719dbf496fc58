package playbook

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"go.starlark.net/syntax"

	"github.com/mcorun/mcorun/starlib"
)

// Describe is a playbook's own help, as 'mcorun PLAYBOOK.star --help' prints it: its
// header comment (the comment lines it starts with) and the args of its literal
// params(...) call with their defaults and types. A default that cannot be evaluated on
// its own (it refers to the playbook's globals) is shown as "(computed)".
func Describe(filename string, src []byte) (string, error) {
	opts := starlib.FileOptions()
	f, err := opts.Parse(filename, src, syntax.RetainComments)
	if err != nil {
		return "", fmt.Errorf("%w; 'mcorun check %s' lists every problem", err, filename)
	}
	var b strings.Builder
	if h := header(src); h != "" {
		b.WriteString(h + "\n\n")
	}
	call := findParams(f)
	if call == nil {
		b.WriteString("Args: none; the playbook declares no params(), so it takes no --arg.\n")
		return b.String(), nil
	}
	b.WriteString("Args (--arg NAME=VALUE):\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tDEFAULT\tTYPE")
	for _, a := range call.Args {
		kw, ok := a.(*syntax.BinaryExpr)
		if !ok || kw.Op != syntax.EQ {
			continue
		}
		name := kw.X.(*syntax.Ident).Name
		def, typ := "(computed)", "?"
		if v, err := evalAlone(opts, kw.Y, nil); err == nil {
			def, typ = starlib.ArgDefault(v).String(), starlib.ArgType(v)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", name, def, typ)
	}
	if err := tw.Flush(); err != nil {
		return "", err
	}
	return b.String(), nil
}

// header returns the comment lines a file starts with (after a #! line), without their
// "# " marks.
func header(src []byte) string {
	var lines []string
	for i, l := range strings.Split(string(src), "\n") {
		l = strings.TrimRight(l, "\r")
		if i == 0 && strings.HasPrefix(l, "#!") {
			continue
		}
		if !strings.HasPrefix(l, "#") {
			break
		}
		l = strings.TrimPrefix(l, "#")
		lines = append(lines, strings.TrimPrefix(l, " "))
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// ParamNames returns the names its literal params(...) call declares, the --arg names a
// playbook takes, in their order; none without such a call.
func ParamNames(filename string, src []byte) ([]string, error) {
	f, err := starlib.FileOptions().Parse(filename, src, 0)
	if err != nil {
		return nil, err
	}
	call := findParams(f)
	if call == nil {
		return nil, nil
	}
	var names []string
	for _, a := range call.Args {
		if kw, ok := a.(*syntax.BinaryExpr); ok && kw.Op == syntax.EQ {
			if id, ok := kw.X.(*syntax.Ident); ok {
				names = append(names, id.Name)
			}
		}
	}
	return names, nil
}
