package repl

import (
	"bytes"
	"errors"
	"io"
)

// input hands the parser one statement's lines at a time. It splits what the line editor
// returns into lines (a block recalled from history comes back whole) and keeps a line
// read ahead, which begins the next statement.
//
// The rule for blocks (def, if, for, while), chosen so that code with blank lines inside a
// def pastes as it is: within a block, empty and comment-only lines are kept when the line
// after them is indented; the block ends at a non-empty line at the left margin (which then
// starts the next statement; else and elif go on with an if) or at two empty lines in a
// row. Typing, end a block with two Enters on empty lines, or go on at the left margin.
type input struct {
	read  func() ([]byte, error) // the next line (or lines) of input
	queue [][]byte               // lines read but not yet given: split from a chunk, or read ahead
	err   error                  // an input error held back until the block it ended is parsed
}

// next returns the next line, with its newline.
func (in *input) next() ([]byte, error) {
	if len(in.queue) == 0 {
		if in.err != nil {
			err := in.err
			in.err = nil
			return nil, err
		}
		b, err := in.read()
		if err != nil {
			return nil, err
		}
		for len(b) > 0 {
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				in.queue = append(in.queue, append(b[:len(b):len(b)], '\n'))
				break
			}
			in.queue = append(in.queue, b[:i+1])
			b = b[i+1:]
		}
		if len(in.queue) == 0 {
			return []byte{}, nil
		}
		if len(in.queue) > 1 {
			// Lines that come at once are a block recalled from the history: it ends here.
			in.queue = append(in.queue, []byte("\n"), []byte("\n"))
		}
	}
	line := in.queue[0]
	in.queue = in.queue[1:]
	return line, nil
}

// unread puts line back: it is the first of the next statement.
func (in *input) unread(line []byte) { in.queue = append([][]byte{line}, in.queue...) }

// statement is the reader the parser calls for one statement.
type statement struct {
	in    *input
	block bool    // the first line opens a block
	depth int     // open brackets so far
	text  []byte  // the lines given, for history
	lines []int32 // for each line given to the parser, its line in the input, from 1
	used  int32   // input lines consumed, given or dropped
	ended bool    // the block's end was given; the parser needs nothing more
}

// read gives the parser its next line.
func (st *statement) read() ([]byte, error) {
	if st.ended {
		return []byte("\n"), nil
	}
	line, err := st.in.next()
	if err != nil {
		if st.block && len(st.lines) > 1 && (errors.Is(err, io.EOF)) {
			// The input ended inside a block: end the block, then the input.
			st.in.err = err
			return st.end(), nil
		}
		return nil, err
	}
	first := len(st.lines) == 0
	if first {
		st.block = opensBlock(line)
		return st.give(line), nil
	}
	if !st.block || st.depth > 0 {
		return st.give(line), nil
	}
	if isBlank(line) {
		// Kept only when the next non-blank line is indented; two empty lines end the block.
		held := 1
		for {
			next, err := st.in.next()
			if err != nil {
				st.in.err = err
				st.used += int32(held)
				return st.end(), nil
			}
			switch {
			case isEmpty(next) && isEmpty(line):
				st.used += int32(held + 1)
				return st.end(), nil
			case isBlank(next):
				line = next
				held++
			case indented(next) || continuesBlock(next):
				st.used += int32(held)
				return st.give(next), nil
			default:
				st.used += int32(held)
				st.in.unread(next)
				return st.end(), nil
			}
		}
	}
	if !indented(line) && !continuesBlock(line) {
		st.in.unread(line)
		return st.end(), nil
	}
	return st.give(line), nil
}

// give passes line to the parser.
func (st *statement) give(line []byte) []byte {
	st.used++
	st.lines = append(st.lines, st.used)
	st.text = append(st.text, line...)
	st.depth = bracketDepth(line, st.depth)
	return line
}

// end tells the parser the block is over: a blank line.
func (st *statement) end() []byte {
	st.ended = true
	return []byte("\n")
}

// inputLine maps a line of the parser's (from 1) to the statement's input line (from 1).
func (st *statement) inputLine(l int32) int32 {
	if l >= 1 && int(l) <= len(st.lines) {
		return st.lines[l-1]
	}
	if len(st.lines) > 0 {
		return st.lines[len(st.lines)-1] + l - int32(len(st.lines))
	}
	return l
}

// opensBlock reports whether a statement's first line begins a compound statement.
func opensBlock(line []byte) bool {
	w := bytes.TrimLeft(line, " \t")
	for _, kw := range []string{"def", "if", "for", "while"} {
		if rest, ok := bytes.CutPrefix(w, []byte(kw)); ok && len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t' || rest[0] == '(') {
			return true
		}
	}
	return false
}

// continuesBlock reports whether a line at the left margin goes on with the block (else,
// elif).
func continuesBlock(line []byte) bool {
	for _, kw := range []string{"else", "elif"} {
		if rest, ok := bytes.CutPrefix(line, []byte(kw)); ok && len(rest) > 0 && (rest[0] == ':' || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '(') {
			return true
		}
	}
	return false
}

// isEmpty reports whether a line has nothing but blanks.
func isEmpty(line []byte) bool { return len(bytes.TrimSpace(line)) == 0 }

// isBlank reports whether a line has nothing but blanks and a comment, which the parser
// would take as the end of a block.
func isBlank(line []byte) bool {
	w := bytes.TrimSpace(line)
	return len(w) == 0 || w[0] == '#'
}

func indented(line []byte) bool { return len(line) > 0 && (line[0] == ' ' || line[0] == '\t') }

// bracketDepth is depth after line: the brackets it opens less those it closes, strings and
// comments left out.
func bracketDepth(line []byte, depth int) int {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#':
			return depth
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth = max(depth-1, 0)
		}
	}
	return depth
}
