package filter

import "regexp"

// Token kinds produced by the scanner. They are the names MCollective's compound scanner
// (matcher/scanner.rb) gives its tokens, so the parser can follow the same rules.
const (
	tokLParen     = "("
	tokRParen     = ")"
	tokNot        = "not"
	tokAnd        = "and"
	tokOr         = "or"
	tokSpace      = " "
	tokStatement  = "statement"
	tokFStatement = "fstatement"
	tokBad        = "bad_token"
)

// eof stands for Ruby's nil: an index outside the input.
const eof rune = -1

// token is one scanned token. A zero kind means the end of the input.
type token struct {
	kind  string
	value string
	start int // rune index of the token's first character
}

// errTokenize is what the scanner reports when the Ruby scanner would raise while reading a
// token; Ruby gives up on the whole expression in that case.
type errTokenize struct {
	start int
	msg   string
}

// Patterns the Ruby scanner applies to a finished token. Ruby's ^ and $ always match at line
// boundaries and its \s includes \v, hence (?m) and the explicit class.
var (
	reOpInside  = regexp.MustCompile(`(?m)^.+(=|<|>).+$`)
	reOpenCall  = regexp.MustCompile(`(?m).+?\($`)
	reRegexCmp  = regexp.MustCompile(`(?m)^/.+?/(<|>|=).+`)
	reSlashCmp  = regexp.MustCompile(`(?m)^.+?/(<|>|=).+`)
	reCallQuote = regexp.MustCompile(`(?m)^.+?\(([\t\n\v\f\r ]*(')[^']*(')[\t\n\v\f\r ]*(,[\t\n\v\f\r ]*(')[^']*('))*)?\)(\.[a-zA-Z0-9_]+)?((!=|<=|>=|=|>|<).+)?$`)
	reCallDbl   = regexp.MustCompile(`(?m)^.+?\(([\t\n\v\f\r ]*(")[^"]*(")[\t\n\v\f\r ]*(,[\t\n\v\f\r ]*(")[^"]*("))*)?\)(\.[a-zA-Z0-9_]+)?((!=|<=|>=|=|>|<).+)?$`)
)

// scanner is a character-for-character port of MCollective's Matcher::Scanner. It works on
// runes because Ruby splits the input into characters. Its quirks are kept on purpose: what it
// accepts and how it cuts tokens decides what stock servers receive.
type scanner struct {
	args []rune
	idx  int // Ruby's @token_index: the last character of the current token
	sep  int // Ruby's @seperation_counter
	ws   int // Ruby's @white_spaces: characters consumed but not kept in the token
}

// at returns the character at i with Ruby's Array#[] rules: negative indexes count from the
// end and anything out of range is nil (eof).
func (s *scanner) at(i int) rune {
	if i < 0 {
		i += len(s.args)
	}
	if i < 0 || i >= len(s.args) {
		return eof
	}
	return s.args[i]
}

func isOp(r rune) bool { return r == '=' || r == '<' || r == '>' }

// isSpace is Ruby's /\s/ on one character: ASCII whitespace only.
func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r'
}

// next is Scanner#get_token. It does not advance past the token's last character; the
// parser does that, as in Ruby.
func (s *scanner) next() (token, *errTokenize) {
	if s.idx >= len(s.args) {
		return token{}, nil
	}
	start := s.idx
	switch s.at(s.idx) {
	case '(':
		return token{kind: tokLParen, value: "(", start: start}, nil
	case ')':
		return token{kind: tokRParen, value: ")", start: start}, nil
	case 'n':
		if s.at(s.idx+1) == 'o' && s.at(s.idx+2) == 't' && (s.at(s.idx+3) == ' ' || s.at(s.idx+3) == '(') {
			s.idx += 2
			return token{kind: tokNot, value: "not", start: start}, nil
		}
	case '!':
		return token{kind: tokNot, value: "not", start: start}, nil
	case 'a':
		if s.at(s.idx+1) == 'n' && s.at(s.idx+2) == 'd' && (s.at(s.idx+3) == ' ' || s.at(s.idx+3) == '(') {
			s.idx += 2
			return token{kind: tokAnd, value: "and", start: start}, nil
		}
	case 'o':
		if s.at(s.idx+1) == 'r' && (s.at(s.idx+2) == ' ' || s.at(s.idx+2) == '(') {
			s.idx++
			return token{kind: tokOr, value: "or", start: start}, nil
		}
	case ' ':
		return token{kind: tokSpace, value: " ", start: start}, nil
	}
	return s.statement()
}

// statement is Scanner#gen_statement: it reads a statement or fstatement token, or a bad
// token when the text is malformed.
func (s *scanner) statement() (token, *errTokenize) {
	n := len(s.args)
	start := s.idx
	j := s.idx
	fn, escaped := false, false
	var cur []rune
	switch {
	case s.at(j) == '/':
		for {
			cur = append(cur, s.at(j))
			j++
			if j >= n || isSpace(s.at(j)) {
				break
			}
		}
	case isOp(s.at(j)):
		cur = append(cur, s.at(j))
		j++
		if s.at(j) == '/' {
			for {
				cur = append(cur, s.at(j))
				j++
				if s.at(j) == '/' {
					cur = append(cur, '/') // j stays on the slash, as in Ruby
					break
				}
				if j >= n {
					break
				}
			}
			for j < n && s.at(j) != ' ' && s.at(j) != ')' {
				cur = append(cur, s.at(j))
				j++
			}
		}
	default:
		for {
			if s.at(j) == '/' {
				// A regular expression: everything up to the next unescaped slash.
				cur = append(cur, '/')
				j++
				for j < n && s.at(j) != '/' {
					if s.at(j) == '\\' {
						cur = append(cur, '\\')
						j++
						escaped = true
					}
					if j >= n {
						return token{}, &errTokenize{start: start, msg: "unterminated escape in regular expression"}
					}
					cur = append(cur, s.at(j))
					j++
				}
				if j < n {
					cur = append(cur, s.at(j)) // the closing slash; j stays on it, as in Ruby
				}
				break
			}
			switch c := s.at(j); {
			case c == '(':
				fn = true
				cur = append(cur, '(')
				j++
				for j < n {
					cur = append(cur, s.at(j))
					if s.at(j) == ')' {
						j++
						break
					}
					j++
				}
			case c == '"' || c == '\'':
				escaped = true
				j++
				s.ws++
				for j < n {
					if s.at(j) == '\\' {
						j++
						s.ws++
						if j >= n {
							break
						}
					} else if s.at(j) == c {
						j++
						s.ws++
						break
					}
					cur = append(cur, s.at(j))
					j++
				}
			default:
				cur = append(cur, c)
				j++
			}
			if s.at(j) == ' ' && s.isClass(j) && !isOp(s.at(j-1)) {
				break
			}
			if s.at(j) == ' ' && s.sep < 2 && !reOpInside.MatchString(string(cur)) {
				j = s.lookahead(j)
			}
			if j >= n || isSpace(s.at(j)) || s.at(j) == ')' {
				break
			}
		}
		s.sep = 0
	}

	s.idx += len(cur) + s.ws - 1
	s.ws = 0
	text := string(cur)
	bad := token{kind: tokBad, value: text, start: start}
	switch {
	case reOpenCall.MatchString(text), reRegexCmp.MatchString(text), reSlashCmp.MatchString(text):
		return bad, nil
	case fn:
		if reCallQuote.MatchString(text) || reCallDbl.MatchString(text) {
			return token{kind: tokFStatement, value: text, start: start}, nil
		}
		return bad, nil
	case escaped:
		return token{kind: tokStatement, value: text, start: start}, nil
	}
	slashes := 0
	for _, c := range cur {
		if c == '/' {
			slashes++
		}
	}
	if slashes%2 == 1 {
		return bad, nil
	}
	return token{kind: tokStatement, value: text, start: start}, nil
}

// isClass is Scanner#is_klass?: after the spaces at j, does something other than a comparison
// operator follow (so the spaces end a class name)?
func (s *scanner) isClass(j int) bool {
	for j < len(s.args) && s.args[j] == ' ' {
		j++
	}
	return !isOp(s.at(j))
}

// lookahead is Scanner#lookahead: skip the whitespace after index, counting it.
func (s *scanner) lookahead(index int) int {
	for index++; index <= len(s.args); index++ {
		s.ws++
		if !isSpace(s.at(index)) {
			s.sep++
			return index
		}
	}
	return index // unreachable: at(len) is eof, which is not a space
}
