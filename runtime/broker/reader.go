package broker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/go-stomp/stomp/v3/frame"
)

// errLimit marks a frame the broker refuses for its size; the connection is then closed.
var errLimit = errors.New("frame refused")

// limits bound one frame as it is read. Every count is checked before the bytes it covers
// are buffered, so a frame that declares content-length:4294967295 costs no more than one
// that declares the limit.
type limits struct {
	line    int // one line (command or header), with its line ending
	headers int // header entries
	frame   int // the whole frame: command, headers and body
}

// Limits before a connection has logged in: a CONNECT frame is a handful of short headers
// and no body (STOMP allows a body only on SEND, MESSAGE and ERROR).
var preLogin = limits{line: 8 << 10, headers: 32, frame: 16 << 10}

// postLogin returns the limits once a connection has logged in.
func postLogin(maxFrame int) limits {
	return limits{line: min(64<<10, maxFrame), headers: 256, frame: maxFrame}
}

// readBuffer is the frameReader's read-ahead: bytes taken from the connection beyond the
// frame being read never exceed it.
const readBuffer = 4 << 10

// bodyChunk is the piece in which a body is buffered as it arrives.
const bodyChunk = 64 << 10

// frameReader reads STOMP frames with go-stomp's frame.Reader contract (a nil frame for a
// heart-beat; headers unescaped; content-length honoured, else the body ends at the first
// NUL) and checks lim before it buffers anything. go-stomp's reader allocates whatever
// content-length declares and reads lines of any length, so the broker reads with this one.
type frameReader struct {
	r   *bufio.Reader
	lim limits
}

func newFrameReader(r io.Reader, lim limits) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, readBuffer), lim: lim}
}

// Read returns the next frame, or nil for a heart-beat. An error wrapping errLimit means the
// frame broke lim; the stream cannot be read further.
func (fr *frameReader) Read() (*frame.Frame, error) {
	budget := fr.lim.frame
	cmd, err := fr.line(&budget)
	if err != nil {
		return nil, err
	}
	if len(cmd) == 0 {
		return nil, nil
	}
	f := frame.New(string(cmd))
	if !knownCommand(f.Command) {
		return nil, frame.ErrInvalidCommand
	}
	for n := 0; ; n++ {
		line, err := fr.line(&budget)
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			break
		}
		if n == fr.lim.headers {
			return nil, fmt.Errorf("%w: more than %d headers", errLimit, fr.lim.headers)
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return nil, frame.ErrInvalidFrameFormat
		}
		f.Header.Add(unescape(line[:i]), unescape(line[i+1:]))
	}
	n, ok, err := f.Header.ContentLength()
	switch {
	case err != nil:
		return nil, err
	case !ok:
		f.Body, err = fr.untilNUL(budget)
		if err != nil {
			return nil, err
		}
		return f, nil
	case n > budget:
		return nil, fmt.Errorf("%w: content-length %d is more than the %d bytes a frame may have", errLimit, n, fr.lim.frame)
	}
	if f.Body, err = fr.body(n); err != nil {
		return nil, err
	}
	switch b, err := fr.r.ReadByte(); {
	case err != nil:
		return nil, err
	case b != 0:
		return nil, frame.ErrInvalidFrameFormat
	}
	return f, nil
}

// line reads one line within the limits and takes it from budget; the line ending is
// removed.
func (fr *frameReader) line(budget *int) ([]byte, error) {
	most := min(fr.lim.line, *budget)
	var line []byte
	for {
		chunk, err := fr.r.ReadSlice('\n')
		if len(line)+len(chunk) > most {
			return nil, fmt.Errorf("%w: a line longer than %d bytes", errLimit, most)
		}
		line = append(line, chunk...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
	*budget -= len(line)
	line = line[:len(line)-1]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, nil
}

// body reads n bytes. It buffers what arrives in chunks, so a client that declares a large
// body and sends little holds little, and a growing buffer leaves no garbage behind.
func (fr *frameReader) body(n int) ([]byte, error) {
	if n <= bodyChunk {
		body := make([]byte, n)
		_, err := io.ReadFull(fr.r, body)
		return body, err
	}
	var cs chunks
	for left := n; left > 0; {
		c := make([]byte, min(left, bodyChunk))
		if _, err := io.ReadFull(fr.r, c); err != nil {
			return nil, err
		}
		cs.full = append(cs.full, c)
		cs.n += len(c)
		left -= len(c)
	}
	return cs.bytes(), nil
}

// untilNUL reads a body that has no content-length: up to the first NUL, which it drops.
func (fr *frameReader) untilNUL(budget int) ([]byte, error) {
	var cs chunks
	for {
		part, err := fr.r.ReadSlice(0)
		if cs.n+len(part) > budget+1 {
			return nil, fmt.Errorf("%w: a body longer than the %d bytes left of the frame's %d", errLimit, budget, fr.lim.frame)
		}
		cs.add(part)
		if err == nil {
			body := cs.bytes()
			return body[:len(body)-1], nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
}

// chunks holds a body as it arrives, in pieces of at most bodyChunk bytes.
type chunks struct {
	full [][]byte
	last []byte // the piece being filled
	n    int    // bytes in all
}

func (c *chunks) add(p []byte) {
	c.n += len(p)
	for len(p) > 0 {
		if len(c.last) == bodyChunk {
			c.full = append(c.full, c.last)
			c.last = nil
		}
		k := min(len(p), bodyChunk-len(c.last))
		c.last = append(c.last, p[:k]...)
		p = p[k:]
	}
}

// bytes returns everything added, in one slice.
func (c *chunks) bytes() []byte {
	out := make([]byte, 0, c.n)
	for _, p := range c.full {
		out = append(out, p...)
	}
	return append(out, c.last...)
}

func knownCommand(c string) bool {
	switch c {
	case frame.CONNECT, frame.STOMP, frame.SEND, frame.SUBSCRIBE, frame.UNSUBSCRIBE, frame.ACK,
		frame.NACK, frame.BEGIN, frame.COMMIT, frame.ABORT, frame.DISCONNECT, frame.CONNECTED,
		frame.MESSAGE, frame.RECEIPT, frame.ERROR:
		return true
	}
	return false
}

// unescape decodes STOMP 1.2 header escapes (\r \n \c \\). Like go-stomp's reader, it keeps
// any other backslash as it is.
func unescape(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			if c, ok := escaped(b[i+1]); ok {
				out = append(out, c)
				i++
				continue
			}
		}
		out = append(out, b[i])
	}
	return string(out)
}

// escaped returns the byte that a backslash followed by c stands for.
func escaped(c byte) (byte, bool) {
	switch c {
	case 'r':
		return '\r', true
	case 'n':
		return '\n', true
	case 'c':
		return ':', true
	case '\\':
		return '\\', true
	}
	return 0, false
}
