package match

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
	"unicode/utf8"
)

// Ruby Regexp option bits, as carried by marshal.Regexp.Options.
const (
	optIgnoreCase = 1
	optExtended   = 2
	optMultiline  = 4
)

// Regex compiles a filter string written as "/re/" the way MCollective's class, agent and
// identity filters do: every "/" in s is removed and the rest is a Ruby regular expression.
// It is meant for strings for which IsRegex reports true.
func Regex(s string) (*regexp.Regexp, error) {
	var none *Regexps
	return none.Regex(s)
}

// Regex is the package's Regex, compiling through the memo.
func (r *Regexps) Regex(s string) (*regexp.Regexp, error) {
	return r.Compile(strings.ReplaceAll(s, "/", ""), 0)
}

// IsRegex reports whether MCollective treats the filter string s as a regular expression:
// some line of s starts with "/" (Ruby's s.match("^/")).
func IsRegex(s string) bool {
	return strings.HasPrefix(s, "/") || strings.Contains(s, "\n/")
}

// Compile compiles a Ruby regular expression source with Ruby option bits (1 ignorecase,
// 2 extended, 4 multiline) into an equivalent Go regular expression. Constructs that Go cannot
// express, such as backreferences, lookaround and extended mode, give an error wrapping
// ErrMalformed. A source over MaxRegexSource bytes, or one whose program exceeds
// MaxRegexProgram instructions, gives an error wrapping ErrTooLarge. Every call compiles
// afresh; Regexps.Compile keeps what it compiles.
func Compile(source string, options byte) (*regexp.Regexp, error) {
	var none *Regexps
	return none.Compile(source, options)
}

// regexpsEntries and regexpsBytes bound the compiled expressions a Regexps keeps: their
// number, and the memory they are estimated to hold (see regexCost).
const (
	regexpsEntries = 512
	regexpsBytes   = 16 << 20
)

type regexKey struct {
	source  string
	options byte
}

type regexEntry struct {
	re   *regexp.Regexp
	err  error
	cost int
}

// Regexps is a concurrency-safe memo of compiled expressions, bounded in entries and in
// estimated bytes: a node compiles each filter's expressions once, not on every request. It
// holds no configuration, so one Regexps can serve every node of a process. A nil *Regexps
// keeps nothing: its Compile is the package's Compile.
type Regexps struct {
	mu     sync.Mutex
	m      map[regexKey]regexEntry
	bytes  int // the sum of the entries' costs
	budget int
}

// NewRegexps returns an empty memo holding at most 512 expressions and about 16 MB.
func NewRegexps() *Regexps {
	return newRegexps(regexpsBytes)
}

func newRegexps(budget int) *Regexps {
	return &Regexps{m: make(map[regexKey]regexEntry), budget: budget}
}

// Compile is the package's Compile, answering from the memo when source and options were
// compiled before (their error too). An expression estimated at over a quarter of the memo's
// bytes is compiled but not kept.
func (r *Regexps) Compile(source string, options byte) (*regexp.Regexp, error) {
	if len(source) > MaxRegexSource {
		return nil, errRegexTooLarge("bytes", len(source), MaxRegexSource)
	}
	if r == nil {
		re, _, err := compileRuby(source, options)
		return re, err
	}
	return r.get(source, options)
}

// Len returns the number of expressions kept.
func (r *Regexps) Len() int {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}

func (r *Regexps) get(source string, options byte) (*regexp.Regexp, error) {
	k := regexKey{source, options}
	r.mu.Lock()
	e, ok := r.m[k]
	r.mu.Unlock()
	if ok {
		return e.re, e.err
	}
	re, insts, err := compileRuby(source, options)
	e = regexEntry{re, err, regexCost(source, insts)}
	if e.cost > r.budget/4 {
		return re, err // too big to keep: it would push out many others
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.m[k]; ok { // compiled meanwhile by another request
		r.bytes -= old.cost
	}
	for old, oe := range r.m { // evict arbitrary entries until this one fits
		if len(r.m) < regexpsEntries && r.bytes+e.cost <= r.budget {
			break
		}
		delete(r.m, old)
		r.bytes -= oe.cost
	}
	r.m[k] = e
	r.bytes += e.cost
	return re, err
}

// regexCost estimates the bytes a cached expression holds: its key and the compiled
// program, whose instructions Go keeps in more than one form (the program, and the one-pass
// and backtracking machines built from it).
func regexCost(source string, insts int) int {
	const perInst = 128
	return 2*len(source) + 256 + perInst*insts
}

// compileRuby translates a Ruby (Onigmo) regular expression into Go's syntax and compiles it,
// returning the size of its program in instructions. In Ruby ^ and $ always match at line
// boundaries, so the result always runs in Go's (?m); Ruby's multiline option (and inline m
// flag) means "dot matches newline", Go's s flag.
func compileRuby(source string, options byte) (*regexp.Regexp, int, error) {
	if options&optExtended != 0 {
		return nil, 0, fmt.Errorf("%w: regexp /%s/: extended mode is not supported", ErrMalformed, source)
	}
	flags := "m"
	if options&optIgnoreCase != 0 {
		flags += "i"
	}
	if options&optMultiline != 0 {
		flags += "s"
	}
	body, err := translate(source)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: regexp /%s/: %w", ErrMalformed, source, err)
	}
	expr := "(?" + flags + ")" + body
	insts, err := programSize(expr)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: regexp /%s/: %w", ErrMalformed, source, err)
	}
	if insts > MaxRegexProgram {
		return nil, 0, errRegexTooLarge("instructions", insts, MaxRegexProgram)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: regexp /%s/: %w", ErrMalformed, source, err)
	}
	return re, insts, nil
}

// programSize is the number of instructions Go compiles expr into, as regexp.Compile does.
func programSize(expr string) (int, error) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return 0, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0, err
	}
	return len(prog.Inst), nil
}

// errUnsupported reports a Ruby construct that has no Go equivalent.
func errUnsupported(what string) error {
	return fmt.Errorf("unsupported construct %s", what)
}

// translate rewrites the Ruby-only parts of a regular expression source into Go syntax.
// Anything Go rejects on its own (unknown escapes, possessive quantifiers) is left for
// regexp.Compile to report.
func translate(src string) (string, error) {
	var b strings.Builder
	inClass := false // inside [...]
	classStart := 0  // index of the first byte after the opening [ (and ^)
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\\':
			if i+1 >= len(src) {
				return "", errUnsupported(`trailing \`)
			}
			r, size := utf8.DecodeRuneInString(src[i+1:])
			out, err := translateEscape(r, inClass)
			if err != nil {
				return "", err
			}
			if out == "" {
				out = src[i : i+1+size]
			}
			b.WriteString(out)
			i += 1 + size
			continue
		case inClass:
			switch {
			case c == ']' && i > classStart:
				inClass = false
			case c == '[' && strings.HasPrefix(src[i:], "[:"):
				end := strings.Index(src[i:], ":]")
				if end < 0 {
					return "", errUnsupported("nested character class")
				}
				b.WriteString(src[i : i+end+2])
				i += end + 2
				continue
			case c == '[':
				return "", errUnsupported("nested character class")
			case c == '&' && strings.HasPrefix(src[i:], "&&"):
				return "", errUnsupported("character class intersection &&")
			}
		case c == '[':
			inClass = true
			classStart = i + 1
			if strings.HasPrefix(src[i+1:], "^") {
				classStart++
			}
			if strings.HasPrefix(src[classStart:], "]") {
				// a leading ] is a literal in both dialects; skip it here
				b.WriteString(src[i : classStart+1])
				i = classStart + 1
				continue
			}
		case c == '(' && strings.HasPrefix(src[i:], "(?"):
			n, out, err := translateGroup(src[i:])
			if err != nil {
				return "", err
			}
			b.WriteString(out)
			i += n
			continue
		case c == '{' && strings.HasPrefix(src[i:], "{,"):
			// Ruby's {,n} means {0,n}; Go would read it as literal text.
			j := i + 2
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			if j > i+2 && j < len(src) && src[j] == '}' {
				b.WriteString("{0," + src[i+2:j+1])
				i = j + 1
				continue
			}
		}
		b.WriteByte(c)
		i++
	}
	if inClass {
		return "", errUnsupported("unterminated character class")
	}
	return b.String(), nil
}

// translateEscape maps a Ruby escape \r to Go syntax. It returns "" to copy it unchanged.
func translateEscape(r rune, inClass bool) (string, error) {
	switch r {
	case 'h':
		if inClass {
			return "0-9a-fA-F", nil
		}
		return "[0-9a-fA-F]", nil
	case 'H':
		if inClass {
			return "", errUnsupported(`\H inside a character class`)
		}
		return "[^0-9a-fA-F]", nil
	case 's':
		if inClass {
			return `\t\n\v\f\r `, nil
		}
		return `[\t\n\v\f\r ]`, nil
	case 'S':
		if inClass {
			return "", errUnsupported(`\S inside a character class`)
		}
		return `[^\t\n\v\f\r ]`, nil
	case 'e':
		return `\x1b`, nil
	case 'Z':
		if inClass {
			return "", errUnsupported(`\Z inside a character class`)
		}
		// End of string or before a final newline. Consuming the newline does not change
		// whether the expression matches, which is all filters ask.
		return `(?:\n?\z)`, nil
	case '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if inClass {
			return "", nil
		}
		return "", errUnsupported("backreference \\" + string(r))
	case 'k', 'g':
		return "", errUnsupported("backreference or subexpression call \\" + string(r))
	case 'G', 'K', 'R', 'X', 'y', 'Y':
		return "", errUnsupported("\\" + string(r))
	}
	return "", nil
}

// translateGroup handles a group opening with "(?" at the start of s. It returns how many
// bytes it consumed and the Go text to write.
func translateGroup(s string) (int, string, error) {
	rest := s[2:]
	switch {
	case strings.HasPrefix(rest, "#"):
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return 0, "", errUnsupported("unterminated comment group")
		}
		return 2 + end + 1, "", nil
	case strings.HasPrefix(rest, ":"):
		return 3, "(?:", nil
	case strings.HasPrefix(rest, "<="), strings.HasPrefix(rest, "<!"),
		strings.HasPrefix(rest, "="), strings.HasPrefix(rest, "!"):
		return 0, "", errUnsupported("lookaround")
	case strings.HasPrefix(rest, ">"):
		return 0, "", errUnsupported("atomic group")
	case strings.HasPrefix(rest, "~"):
		return 0, "", errUnsupported("absence operator")
	case strings.HasPrefix(rest, "<"), strings.HasPrefix(rest, "P<"):
		return 2, "(?", nil // named group: Go accepts (?<name> and (?P<name>
	case strings.HasPrefix(rest, "'"):
		return 0, "", errUnsupported("named group with quotes")
	}
	// Inline options: (?imx-imx) or (?imx-imx:...).
	var out strings.Builder
	out.WriteString("(?")
	for j := 0; j < len(rest); j++ {
		switch f := rest[j]; f {
		case 'i', '-':
			out.WriteByte(f)
		case 'm':
			out.WriteByte('s')
		case 'x':
			return 0, "", errUnsupported("extended mode (?x)")
		case ':', ')':
			out.WriteByte(f)
			text := out.String()
			if text == "(?-:" || text == "(?-)" {
				text = strings.Replace(text, "-", "", 1)
			}
			if strings.HasSuffix(text, "-:") || strings.HasSuffix(text, "-)") {
				text = text[:len(text)-2] + text[len(text)-1:]
			}
			if text == "(?)" {
				text = ""
			}
			return 2 + j + 1, text, nil
		default:
			return 0, "", errUnsupported("group (?" + string(f))
		}
	}
	return 0, "", errUnsupported("unterminated group")
}
