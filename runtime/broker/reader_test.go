package broker

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/go-stomp/stomp/v3/frame"
)

// endless yields prefix and then fill forever, counting what it handed out.
type endless struct {
	prefix []byte
	fill   byte
	n      int
}

func (e *endless) Read(p []byte) (int, error) {
	k := copy(p, e.prefix)
	e.prefix = e.prefix[k:]
	for i := k; i < len(p); i++ {
		p[i] = e.fill
	}
	e.n += len(p)
	return len(p), nil
}

// The attack shapes of a 100 MB CONNECT and of frames declaring 4 GB: each is refused having
// read no more than the limit plus the read-ahead buffer, and having allocated about as
// little.
func TestFrameReaderRefusesBeforeBuffering(t *testing.T) {
	logged := postLogin(1 << 20)
	for _, tc := range []struct {
		name   string
		lim    limits
		prefix string
		fill   byte
	}{
		{"4 GB content-length before login", preLogin, "CONNECT\naccept-version:1.2\ncontent-length:4294967295\n\n", 'x'},
		{"4 GB content-length after login", logged, "SEND\ndestination:/exchange/x/y\ncontent-length:4294967295\n\n", 'x'},
		{"100 MB command line", preLogin, "CONNECT", 'x'},
		{"100 MB header line", preLogin, "CONNECT\nlogin:", 'x'},
		{"endless headers before login", preLogin, "CONNECT\n", '\n' + 1},
		{"body with no NUL before login", preLogin, "CONNECT\n\n", 'x'},
		{"body with no NUL after login", logged, "SEND\ndestination:/x\n\n", 'x'},
		{"100 MB header line after login", logged, "SEND\nx:", 'x'},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &endless{prefix: []byte(tc.prefix), fill: tc.fill}
			if tc.fill == '\n'+1 {
				src = &endless{prefix: []byte(tc.prefix + strings.Repeat("h:v\n", 1<<20))}
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			f, err := newFrameReader(src, tc.lim).Read()
			runtime.ReadMemStats(&after)
			if !errors.Is(err, errLimit) {
				t.Fatalf("Read = %v, %v; want a refusal", f, err)
			}
			if most := tc.lim.frame + readBuffer; src.n > most {
				t.Errorf("read %d bytes before refusing, want at most %d", src.n, most)
			}
			if alloc, most := after.TotalAlloc-before.TotalAlloc, uint64(3*tc.lim.frame+(1<<20)); alloc > most {
				t.Errorf("allocated %d bytes before refusing, want at most %d", alloc, most)
			}
		})
	}
}

// An unfinished frame holds only what has arrived, not what it declares.
func TestFrameReaderBodyGrowsWithWhatArrives(t *testing.T) {
	in := "SEND\ndestination:/x\ncontent-length:1000000\n\n" + strings.Repeat("y", 100<<10)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := newFrameReader(strings.NewReader(in), postLogin(1<<20)).Read()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		t.Fatalf("err %v, want the end of the input", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 600<<10 {
		t.Errorf("allocated %d bytes for 100 KiB of a body declared as 1 MB", alloc)
	}
}

func TestFrameReaderReadsWhatGoStompReads(t *testing.T) {
	in := "\n\r\nSEND\r\ndestination:/exchange/a\\cb/c\nreply-to:x\\\\y\\n\\r\\t\ncontent-length:5\n\nab\x00cd\x00" +
		"\nMESSAGE\nk:v\nk:w\n\nbody\x00" +
		"SUBSCRIBE\nid:1\ndestination:/d\n\n\x00"
	got := readAll(t, newFrameReader(strings.NewReader(in), postLogin(1<<20)))
	want := readAll(t, frame.NewReader(strings.NewReader(in)))
	if len(got) != 6 || !equalFrames(got, want) {
		t.Fatalf("frames differ:\nours      %s\ngo-stomp  %s", describe(got), describe(want))
	}
	if d := got[2].Header.Get("destination"); d != "/exchange/a:b/c" {
		t.Errorf("destination %q", d)
	}
}

// readAll reads frames until the first error.
func readAll(t *testing.T, r interface{ Read() (*frame.Frame, error) }) []*frame.Frame {
	t.Helper()
	var fs []*frame.Frame
	for {
		f, err := r.Read()
		if err != nil {
			return fs
		}
		fs = append(fs, f)
	}
}

func equalFrames(a, b []*frame.Frame) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equalFrame(a[i], b[i]) {
			return false
		}
	}
	return true
}

func equalFrame(a, b *frame.Frame) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Command != b.Command || !bytes.Equal(a.Body, b.Body) || a.Header.Len() != b.Header.Len() {
		return false
	}
	for i := range a.Header.Len() {
		ak, av := a.Header.GetAt(i)
		bk, bv := b.Header.GetAt(i)
		if ak != bk || av != bv {
			return false
		}
	}
	return true
}

func describe(fs []*frame.Frame) string {
	var s strings.Builder
	for _, f := range fs {
		if f == nil {
			s.WriteString("[heart-beat] ")
			continue
		}
		s.WriteString("[" + f.Command)
		for i := range f.Header.Len() {
			k, v := f.Header.GetAt(i)
			s.WriteString(" " + k + "=" + v)
		}
		s.WriteString(" body=" + string(f.Body) + "] ")
	}
	return s.String()
}

// FuzzFrameReader checks that the broker's reader never panics and, within its limits,
// reads exactly the frames go-stomp's reader reads.
func FuzzFrameReader(f *testing.F) {
	for _, s := range []string{
		"CONNECT\naccept-version:1.2\nlogin:a\npasscode:b\n\n\x00",
		"SEND\ndestination:/x\ncontent-length:3\n\nabc\x00\n",
		"SEND\r\ndestination:/x\\c\\\\\r\n\r\nbody\x00",
		"\n\nMESSAGE\nk:v\nk:w\n\n\x00",
		"SEND\ncontent-length:4294967295\n\n",
		"SEND\ncontent-length:-1\n\n\x00",
		"BOGUS\n\n\x00",
	} {
		f.Add([]byte(s))
	}
	lim := limits{line: 256, headers: 8, frame: 1024}
	f.Fuzz(func(t *testing.T, in []byte) {
		ours := newFrameReader(bytes.NewReader(in), lim)
		theirs := frame.NewReader(bytes.NewReader(in))
		for range 64 {
			got, err := ours.Read()
			if errors.Is(err, errLimit) {
				return // go-stomp would read on, and might allocate what the frame declares
			}
			want, werr := theirs.Read()
			if (err == nil) != (werr == nil) {
				t.Fatalf("ours %v (%v), go-stomp %v (%v)", describe([]*frame.Frame{got}), err, describe([]*frame.Frame{want}), werr)
			}
			if err != nil {
				return
			}
			if !equalFrame(got, want) {
				t.Fatalf("ours %s, go-stomp %s", describe([]*frame.Frame{got}), describe([]*frame.Frame{want}))
			}
		}
	})
}
