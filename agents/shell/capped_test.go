package shell

import (
	"strings"
	"testing"
)

func TestCappedBuffer(t *testing.T) {
	c := newCappedBuffer(5)
	for _, s := range []string{"ab", "cdef", "ghij"} {
		if n, err := c.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v: it must take everything", s, n, err)
		}
	}
	if got, want := c.String(), "abcde"+truncationMarker(5, 10); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !strings.Contains(c.String(), "[mcorun: output truncated after 5 bytes, of 10]") {
		t.Errorf("marker = %q", c.String())
	}
	exact := newCappedBuffer(3)
	exact.Write([]byte("abc"))
	if got := exact.String(); got != "abc" {
		t.Errorf("output of exactly the cap = %q, want no marker", got)
	}
}
