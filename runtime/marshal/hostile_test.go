package marshal

import (
	"errors"
	"strings"
	"testing"
)

// deepArrays returns n nested one-element Arrays around nil.
func deepArrays(n int) string {
	return strings.Repeat("[\x06", n) + "0"
}

// ivarChain returns n Strings, each carrying the next as an instance variable value.
func ivarChain(n int) string {
	return strings.Repeat("I\"\x00\x06:\x06E", n) + "T"
}

// linkBomb builds [a, a] where a = [b, b], ... n levels deep, using '@' links so the input
// stays small while the tree it denotes doubles at each level.
func linkBomb(n int) string {
	// Object indexes in pre-order: level i's Array is object i (the root is level 0).
	s := ""
	for i := 0; i < n; i++ {
		s += "[\x07"
	}
	s += "i\x00i\x00" // innermost [0, 0]
	for i := n - 1; i > 0; i-- {
		s += "@" + string(appendLong(nil, int64(i)))
	}
	return s
}

func TestHostileInput(t *testing.T) {
	tests := []struct {
		name string
		in   string // whole document, header included
		lim  Limits
		want error
	}{
		{"empty", "", Limits{}, ErrSyntax},
		{"one byte", "\x04", Limits{}, ErrSyntax},
		{"bad major", "\x03\x080", Limits{}, ErrSyntax},
		{"bad minor", "\x04\x090", Limits{}, ErrSyntax},
		{"header only", "\x04\x08", Limits{}, ErrSyntax},
		{"trailing bytes", "\x04\x080\x00", Limits{}, ErrSyntax},
		{"unknown type", "\x04\x08z", Limits{}, ErrSyntax},
		{"truncated fixnum", "\x04\x08i\x02\x01", Limits{}, ErrSyntax},
		{"truncated string", "\x04\x08\"\x0aab", Limits{}, ErrSyntax},
		{"truncated string length", "\x04\x08\"\x04\xff", Limits{}, ErrSyntax},
		{"negative string length", "\x04\x08\"\xfa", Limits{}, ErrSyntax},
		{"huge string length", "\x04\x08\"\x04\xff\xff\xff\x7f", Limits{}, ErrLimit},
		{"string over MaxBytes", "\x04\x08\"\x0aabcde", Limits{MaxBytes: 4}, ErrLimit},
		{"symbol over MaxBytes", "\x04\x08:\x0aabcde", Limits{MaxBytes: 4}, ErrLimit},
		{"huge array length", "\x04\x08[\x04\xff\xff\xff\x7f", Limits{}, ErrLimit},
		{"array longer than input", "\x04\x08[\x02\x00\x10", Limits{}, ErrSyntax},
		{"negative array length", "\x04\x08[\xfa", Limits{}, ErrSyntax},
		{"huge hash size", "\x04\x08{\x04\xff\xff\xff\x7f", Limits{}, ErrLimit},
		{"hash longer than input", "\x04\x08{\x02\x00\x10i\x00i\x00", Limits{}, ErrSyntax},
		{"truncated hash", "\x04\x08{\x06i\x00", Limits{}, ErrSyntax},
		{"hash default missing", "\x04\x08}\x00", Limits{}, ErrSyntax},
		{"elements over limit", "\x04\x08[\x08i\x00i\x00i\x00", Limits{MaxElements: 2}, ErrLimit},
		{"deep arrays", "\x04\x08" + deepArrays(65), Limits{}, ErrLimit},
		{"deep arrays, own limit", "\x04\x08" + deepArrays(4), Limits{MaxDepth: 3}, ErrLimit},
		{"deep arrays, huge", "\x04\x08" + deepArrays(100000), Limits{}, ErrLimit},
		{"deep ivar chain", "\x04\x08" + ivarChain(100000), Limits{}, ErrLimit},
		{"deep hashes", "\x04\x08" + strings.Repeat("{\x06i\x00", 100), Limits{}, ErrLimit},
		{"link bomb", "\x04\x08" + linkBomb(40), Limits{}, ErrLimit},
		{"link out of range", "\x04\x08[\x07i\x00@\x07", Limits{}, ErrSyntax},
		{"negative link", "\x04\x08[\x06@\xfa", Limits{}, ErrSyntax},
		{"link before any object", "\x04\x08@\x00", Limits{}, ErrSyntax},
		{"cyclic link", "\x04\x08[\x06@\x00", Limits{}, ErrUnsupported},
		{"cyclic hash link", "\x04\x08{\x06i\x00@\x00", Limits{}, ErrUnsupported},
		{"symlink out of range", "\x04\x08;\x00", Limits{}, ErrSyntax},
		{"symlink past table", "\x04\x08[\x07:\x06a;\x06", Limits{}, ErrSyntax},
		{"array key", "\x04\x08{\x06[\x00i\x00", Limits{}, ErrUnsupported},
		{"hash key", "\x04\x08{\x06{\x00i\x00", Limits{}, ErrUnsupported},
		{"bignum key", "\x04\x08{\x06l+\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00i\x00", Limits{}, ErrUnsupported},
		{"linked array key", "\x04\x08[\x07[\x00{\x06@\x06i\x00", Limits{}, ErrUnsupported},
		{"bad bignum sign", "\x04\x08l*\x06\x01\x00", Limits{}, ErrSyntax},
		{"truncated bignum", "\x04\x08l+\x08\x01\x00", Limits{}, ErrSyntax},
		{"huge bignum", "\x04\x08l+\x04\xff\xff\xff\x3f", Limits{}, ErrLimit},
		{"negative bignum length", "\x04\x08l+\xfa", Limits{}, ErrSyntax},
		{"bad float", "\x04\x08f\x08abc", Limits{}, ErrSyntax},
		{"empty float", "\x04\x08f\x00", Limits{}, ErrSyntax},
		{"truncated regexp options", "\x04\x08/\x06x", Limits{}, ErrSyntax},
		{"ivar on fixnum", "\x04\x08Ii\x00\x00", Limits{}, ErrSyntax},
		{"ivar on link", "\x04\x08I@\x00\x00", Limits{}, ErrSyntax},
		{"ivar truncated", "\x04\x08I", Limits{}, ErrSyntax},
		{"ivar count missing", "\x04\x08I\"\x00", Limits{}, ErrSyntax},
		{"ivar huge count", "\x04\x08I\"\x00\x04\xff\xff\xff\x7f", Limits{}, ErrLimit},
		{"ivar name not symbol", "\x04\x08I\"\x00\x06i\x00T", Limits{}, ErrSyntax},
		{"ivar name string", "\x04\x08I\"\x00\x06I\"\x00\x00T", Limits{}, ErrSyntax},
		{"object", "\x04\x08o:\x0bObject\x00", Limits{}, ErrUnsupported},
		{"struct", "\x04\x08S:\x09Foo\x00", Limits{}, ErrUnsupported},
		{"user dump", "\x04\x08Iu:\x09Time\x0d\x00\x00\x00\x00\x00\x00\x00\x00\x00", Limits{}, ErrUnsupported},
		{"user marshal", "\x04\x08U:\x08Foo0", Limits{}, ErrUnsupported},
		{"user class", "\x04\x08C:\x08Foo\"\x00", Limits{}, ErrUnsupported},
		{"extended", "\x04\x08e:\x08Foo0", Limits{}, ErrUnsupported},
		{"class", "\x04\x08c\x08Foo", Limits{}, ErrUnsupported},
		{"module", "\x04\x08m\x08Foo", Limits{}, ErrUnsupported},
		{"old module", "\x04\x08M\x08Foo", Limits{}, ErrUnsupported},
		{"data", "\x04\x08d:\x08Foo0", Limits{}, ErrUnsupported},
		{"object in array", "\x04\x08[\x06o:\x0bObject\x00", Limits{}, ErrUnsupported},
		{"object as hash default", "\x04\x08}\x00o:\x0bObject\x00", Limits{}, ErrUnsupported},
		{"truncated capture", "", Limits{}, ErrSyntax}, // filled in below
	}
	capture := readCapture(t, "example_request_rpcutil_ping.bin")
	tests[len(tests)-1].in = string(capture[:len(capture)-1])
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := UnmarshalLimits([]byte(tt.in), tt.lim)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %#v, %v; want an error wrapping %v", v, err, tt.want)
			}
			if v != nil {
				t.Errorf("value %#v returned with the error", v)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "marshal: ") || strings.ToLower(msg[:12]) != msg[:12] {
				t.Errorf("error message %q: want a lowercase \"marshal: \" prefix", msg)
			}
		})
	}
}

// TestEveryTruncation cuts each capture at every length: each prefix must fail cleanly.
func TestEveryTruncation(t *testing.T) {
	for _, name := range captureNames {
		t.Run(name, func(t *testing.T) {
			b := readCapture(t, name)
			for n := 0; n < len(b); n++ {
				if _, err := Unmarshal(b[:n]); !errors.Is(err, ErrSyntax) {
					t.Fatalf("prefix of %d bytes: err = %v, want ErrSyntax", n, err)
				}
			}
		})
	}
}

// TestLimitsAtTheEdge checks that the limits are inclusive and that zero means default.
func TestLimitsAtTheEdge(t *testing.T) {
	ok := []struct {
		name string
		in   string
		lim  Limits
	}{
		{"64 nested arrays", deepArrays(64), Limits{}},
		{"3 nested arrays", deepArrays(3), Limits{MaxDepth: 3}},
		{"I-wrapped string at full depth", strings.Repeat("[\x06", 64) + "I\"\x00\x06:\x06ET", Limits{}},
		{"string of MaxBytes", "\"\x09abcd", Limits{MaxBytes: 4}},
		{"MaxElements elements", "[\x07i\x00i\x00", Limits{MaxElements: 2}},
		{"link within element budget", "[\x07[\x06i\x00@\x06", Limits{MaxElements: 4}},
		{"link bomb, small", linkBomb(10), Limits{}},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := UnmarshalLimits([]byte("\x04\x08"+tt.in), tt.lim); err != nil {
				t.Fatal(err)
			}
		})
	}
	// A link repeats the elements under it, so one element more must fail.
	if _, err := UnmarshalLimits([]byte("\x04\x08[\x07[\x06i\x00@\x06"), Limits{MaxElements: 3}); !errors.Is(err, ErrLimit) {
		t.Errorf("link over the element budget: err = %v, want ErrLimit", err)
	}
}
