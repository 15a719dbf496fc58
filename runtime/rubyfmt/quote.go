package rubyfmt

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Quote renders s as Ruby's String#inspect does for a UTF-8 String: in double quotes, with
// `"`, `\` and a "#" that starts an interpolation ("#{", "#$", "#@") escaped, \n \t \r \f
// \v \b \a \e named, other unprintable characters as \uXXXX or \u{XXXXX}, and bytes that
// are not UTF-8 as \xHH. What is printable follows the Unicode tables of this Go release,
// which may know characters newer than Ruby's.
func Quote(s string) string {
	return quote(s, true)
}

// QuoteBinary renders s as Ruby's String#inspect does for an ASCII-8BIT (binary) String:
// like Quote, but every byte outside printable ASCII is written \xHH.
func QuoteBinary(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !quoteSpecial(&b, s, i, rune(c)) {
			if c >= 0x20 && c < 0x7f {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, `\x%02X`, c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// quote writes a String's inspect form. A String whose characters are all ASCII is written
// with \xHH for unprintable characters, as Ruby does for a Symbol's US-ASCII name, unless
// unicode is set.
func quote(s string, unicode bool) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02X`, s[i])
		case quoteSpecial(&b, s, i, r):
		case printable(r):
			b.WriteString(s[i : i+n])
		case !unicode:
			fmt.Fprintf(&b, `\x%02X`, r)
		case r > 0xffff:
			fmt.Fprintf(&b, `\u{%X}`, r)
		default:
			fmt.Fprintf(&b, `\u%04X`, r)
		}
		i += n
	}
	b.WriteByte('"')
	return b.String()
}

// namedEscapes are the characters Ruby's inspect writes with a backslash and a letter, or
// escapes with a backslash.
var namedEscapes = map[rune]string{
	'"': `\"`, '\\': `\\`, '\n': `\n`, '\r': `\r`, '\t': `\t`, '\f': `\f`, '\v': `\v`, '\b': `\b`,
	'\a': `\a`, 0x1b: `\e`,
}

// quoteSpecial writes the escape Ruby gives c, which stands at s[i], if it has a named one
// or is a "#" that would start an interpolation, and reports whether it did.
func quoteSpecial(b *strings.Builder, s string, i int, c rune) bool {
	esc, ok := namedEscapes[c]
	if !ok && c == '#' && i+1 < len(s) && strings.IndexByte("{$@", s[i+1]) >= 0 {
		esc, ok = `\#`, true
	}
	if ok {
		b.WriteString(esc)
	}
	return ok
}

// printable reports whether Ruby writes r as itself in an inspect form: any assigned
// character but the control characters (NEL, U+0085, excepted) and the line and paragraph
// separators.
func printable(r rune) bool {
	switch {
	case r == 0x85:
		return true
	case r == 0x2028 || r == 0x2029:
		return false
	case unicode.Is(unicode.Cc, r):
		return false
	}
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs,
		unicode.Cf, unicode.Co)
}

// Symbol renders the Symbol named name as Ruby's Symbol#inspect does: :name when the name
// is an identifier (with one trailing ?, ! or =), an instance, class or global variable
// name, or an operator method name; :"quoted" otherwise.
func Symbol(name string) string {
	if plainSymbol(name) {
		return ":" + name
	}
	return ":" + quote(name, !isASCII(name))
}

var (
	// identRE is a method, local variable or constant name; any non-ASCII character counts
	// as a letter, as in Ruby.
	identRE = `(?:[A-Za-z_]|[^\x00-\x7f])(?:[A-Za-z0-9_]|[^\x00-\x7f])*`
	plainRE = regexp.MustCompile(`^(?:` + identRE + `[?!=]?` +
		`|@@?` + identRE +
		`|\$` + identRE + `|\$-(?:[A-Za-z0-9_]|[^\x00-\x7f])|\$[0-9]+|\$[~*$?!@/\\;,.=:<>"&` + "`'+" + `]` +
		`|\[\]=?|[+\-]@?|\*\*?|[/%~&|^` + "`" + `!]|===?|=~|!=|!~|<=>|<[<=]?|>[>=]?)$`)
)

// plainSymbol reports whether Ruby writes the Symbol name without quotes.
func plainSymbol(name string) bool {
	if !utf8.ValidString(name) || !plainRE.MatchString(name) {
		return false
	}
	for _, r := range name {
		if !printable(r) {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
