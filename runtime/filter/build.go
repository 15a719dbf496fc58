package filter

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/match"
	"github.com/mcorun/mcorun/runtime/message"
)

// Options are mco's filter flags as given on the command line. Each slice holds one entry per
// use of the flag; an empty Select means no -S.
type Options struct {
	Facts      []string // -F, --wf: fact filters such as "role=web"
	Classes    []string // -C, --wc: classes, or /re/
	Identities []string // -I, --wi: identities, or /re/
	Agents     []string // -A, --wa: agents, or /re/
	With       []string // -W, --with: mixed fact and class words
	Select     string   // -S, --select: a compound expression
	// Data finds the DDLs of the data plugins -S calls (ddl.DataFromLibDirs); nil leaves
	// their names and fields unchecked.
	Data ddl.DataFunc
}

// Build combines all the filter flags into one Filter, checking every fact filter, compound
// expression and regular expression. Entries are kept as written: "/re/" identities, classes
// and agents stay strings, as the Ruby client sends them.
func Build(opts Options) (message.Filter, error) {
	b := Builder{Data: opts.Data}
	steps := []struct {
		add  func(string) error
		args []string
	}{
		{b.Fact, opts.Facts},
		{b.Class, opts.Classes},
		{b.Identity, opts.Identities},
		{b.Agent, opts.Agents},
		{b.With, opts.With},
	}
	for _, st := range steps {
		for _, a := range st.args {
			if err := st.add(a); err != nil {
				return message.Filter{}, err
			}
		}
	}
	if opts.Select != "" {
		if err := b.Select(opts.Select); err != nil {
			return message.Filter{}, err
		}
	}
	return b.Filter(), nil
}

// Builder accumulates filter flags one at a time, in command-line order, as mco's option
// parser does; it suits flag callbacks. Each method checks its argument and leaves the
// Builder unchanged on error. The zero Builder holds the empty filter.
type Builder struct {
	// Data finds the DDLs of the data plugins a compound expression calls: Select rejects
	// an unknown plugin and a field that is not one of its outputs. nil checks neither.
	Data ddl.DataFunc
	f    message.Filter
}

// Filter returns the filter built so far. Later calls on the Builder do not change it.
func (b *Builder) Filter() message.Filter {
	f := message.Filter{
		Fact:     slices.Clone(b.f.Fact),
		CFClass:  slices.Clone(b.f.CFClass),
		Agent:    slices.Clone(b.f.Agent),
		Identity: slices.Clone(b.f.Identity),
	}
	for _, c := range b.f.Compound {
		f.Compound = append(f.Compound, slices.Clone(c))
	}
	return f
}

// Fact adds a -F fact filter (see Fact).
func (b *Builder) Fact(s string) error {
	ff, err := Fact(s)
	if err != nil {
		return err
	}
	if err := checkFactRegex(ff); err != nil {
		return fmt.Errorf("fact filter %q: %w", s, err)
	}
	b.f.Fact = append(b.f.Fact, ff)
	return nil
}

// Class adds a -C class filter: a class name, or /re/.
func (b *Builder) Class(s string) error {
	if err := checkName("class", s); err != nil {
		return err
	}
	b.f.CFClass = append(b.f.CFClass, s)
	return nil
}

// Identity adds a -I identity filter: a node identity, or /re/. Identity entries are ORed.
func (b *Builder) Identity(s string) error {
	if err := checkName("identity", s); err != nil {
		return err
	}
	b.f.Identity = append(b.f.Identity, s)
	return nil
}

// Agent adds a -A agent filter: an agent name, or /re/.
func (b *Builder) Agent(s string) error {
	if err := checkName("agent", s); err != nil {
		return err
	}
	b.f.Agent = append(b.f.Agent, s)
	return nil
}

// With adds a -W argument's facts and classes (see With).
func (b *Builder) With(s string) error {
	w, err := With(s)
	if err != nil {
		return err
	}
	for _, ff := range w.Fact {
		if err := checkFactRegex(ff); err != nil {
			return fmt.Errorf("with %q: fact %s%s%s: %w", s, ff.Fact, ff.Operator, ff.Value, err)
		}
	}
	for _, c := range w.CFClass {
		if err := checkName("class", c); err != nil {
			return fmt.Errorf("with %q: %w", s, err)
		}
	}
	b.f.Fact = append(b.f.Fact, w.Fact...)
	b.f.CFClass = append(b.f.CFClass, w.CFClass...)
	return nil
}

// errEmptySelect is returned for -S "": servers evaluate an empty expression as false, so it
// would silently match no node.
var errEmptySelect = errors.New("compound filter: empty expression matches no node")

// Select adds a -S compound expression (see Compound). On top of what Compound checks, the
// regular expressions in its statements must compile and a comparison must have a value, and
// with Data set, each data plugin called must have a DDL declaring the field compared.
func (b *Builder) Select(s string) error {
	if s == "" {
		return errEmptySelect
	}
	items, starts, err := parseCompound(s)
	if err != nil {
		return err
	}
	for i, it := range items {
		if it.Kind != message.Statement {
			continue
		}
		if msg := checkStatement(it.Value); msg != "" {
			return &SyntaxError{Input: s, Col: starts[i] + 1, Msg: msg}
		}
	}
	if b.Data != nil {
		if err := checkData(s, items, starts, b.Data); err != nil {
			return err
		}
	}
	b.f.Compound = append(b.f.Compound, items)
	return nil
}

// checkName checks a class, identity or agent entry: not empty, and a valid regular
// expression when written /re/.
func checkName(kind, s string) error {
	if s == "" {
		return fmt.Errorf("%s filter: empty", kind)
	}
	if match.IsRegex(s) {
		if _, err := match.Regex(s); err != nil {
			return fmt.Errorf("%s filter %q: %w", kind, s, err)
		}
	}
	return nil
}

// reSlashedValue is how util.rb test_fact_value takes the slashes off a =~ value.
var reSlashedValue = regexp.MustCompile(`(?m)^/(.+)/$`)

// regexSource is the regular expression a server builds from a =~ fact value.
func regexSource(v string) string {
	if m := reSlashedValue.FindStringSubmatch(v); m != nil {
		return m[1]
	}
	return v
}

func checkFactRegex(ff message.FactFilter) error {
	if ff.Operator != "=~" {
		return nil
	}
	_, err := match.Compile(regexSource(ff.Value), 0)
	return err
}

// reStatementOp finds a statement's comparison as Matcher.eval_compound_statement does.
var reStatementOp = regexp.MustCompile(`>=|<=|=|<|>`)

// checkStatement checks a compound statement the way a server will read it
// (Matcher.eval_compound_statement): /re/ is a class regex; a comparison needs a value and
// a value starting with / is a fact regex. It returns "" when the statement is fine.
func checkStatement(v string) string {
	if match.IsRegex(v) {
		if _, err := match.Regex(v); err != nil {
			return fmt.Sprintf("statement %q: %v", v, err)
		}
		return ""
	}
	op := reStatementOp.FindString(v)
	if op == "" {
		return ""
	}
	parts := rubySplitString(v, op)
	if len(parts) < 2 {
		return fmt.Sprintf("statement %q: no value after %s", v, op)
	}
	if value := parts[1]; strings.HasPrefix(value, "/") {
		if _, err := match.Compile(regexSource(value), 0); err != nil {
			return fmt.Sprintf("statement %q: %v", v, err)
		}
	}
	return ""
}
