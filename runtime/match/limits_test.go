package match

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/message"
)

// bigIdentityRegex is an identity filter of about size bytes: an alternation of node names,
// the shape a caller gets by pasting a host list into -I /.../. Each seed gives another one.
func bigIdentityRegex(seed, size int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "/^(s%d|", seed)
	for i := 0; b.Len() < size; i++ {
		b.WriteString("node-")
		b.WriteString(strconv.Itoa(1000000 + i))
		b.WriteByte('|')
	}
	b.WriteString("x)$/")
	return b.String()
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestHugeRegexFilterRefused checks that a filter whose regex exceeds the source limit is
// refused as too large, and that six 1.6 MB identity regexes leave the heap as it was: they
// are refused before they are compiled, so nothing is compiled or cached for them.
func TestHugeRegexFilterRefused(t *testing.T) {
	n := &fakeNode{identity: "web1"}
	before := heapInUse()
	for seed := range 6 {
		f := message.Filter{Identity: []string{bigIdentityRegex(seed, 1600<<10)}}
		ok, err := Match(context.Background(), f, n)
		if ok || !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrTooLarge) {
			t.Fatalf("1.6 MB identity regex: match %t, err %v; want refused as too large", ok, err)
		}
	}
	after := heapInUse()
	grown := int64(after) - int64(before)
	t.Logf("heap in use: %.1f MB before, %.1f MB after six 1.6 MB identity regexes", float64(before)/1e6, float64(after)/1e6)
	if grown > 16<<20 {
		t.Fatalf("heap grew by %.1f MB", float64(grown)/1e6)
	}
}

// TestRegexLimits checks the limits one at a time: a regex at the source limit compiles, one
// byte more is refused, a short source that expands into a huge program is refused, and a
// filter whose regexes together exceed the filter budget is refused.
func TestRegexLimits(t *testing.T) {
	ok := strings.Repeat("a", MaxRegexSource)
	rx := NewRegexps()
	for name, compile := range map[string]func(string, byte) (*regexp.Regexp, error){"Compile": Compile, "Regexps.Compile": rx.Compile} {
		for range 2 { // the second time, Regexps.Compile answers from its memo
			if _, err := compile(ok, 0); err != nil {
				t.Fatalf("%s: source of %d bytes: %v", name, len(ok), err)
			}
			if _, err := compile(ok+"a", 0); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "bytes") {
				t.Fatalf("%s: source of %d bytes: err %v, want too large", name, len(ok)+1, err)
			}
			if _, err := compile(strings.Repeat("(x{1000})", 40), 0); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%s: 40 x{1000}: err %v, want too large", name, err)
			}
		}
	}
	if rx.Len() != 2 { // the source over the limit is refused before the memo
		t.Fatalf("the memo holds %d expressions, want 2", rx.Len())
	}
	var ids []string
	for i := 0; i*MaxRegexSource <= MaxFilterRegexBytes; i++ {
		ids = append(ids, fmt.Sprintf("/^%d%s$/", i, strings.Repeat("b", MaxRegexSource-20)))
	}
	if _, err := Match(context.Background(), message.Filter{Identity: ids}, &fakeNode{identity: "web1"}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%d regexes of %d bytes: err %v, want too large", len(ids), MaxRegexSource-16, err)
	}
	big := strings.Repeat("c", MaxFilterBytes+1)
	if _, err := Match(context.Background(), message.Filter{CFClass: []string{big}}, &fakeNode{identity: "web1"}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a filter of %d bytes: err %v, want too large", len(big), err)
	}
}

// TestRegexpsBoundedByBytes checks that the memo's estimated size never exceeds its
// budget, whatever the mix of small and large expressions.
func TestRegexpsBoundedByBytes(t *testing.T) {
	c := newRegexps(256 << 10)
	for i := range 600 {
		src := fmt.Sprintf("^n%d-(%s)$", i, strings.Repeat("[a-z]x", i%50))
		if _, err := c.Compile(src, 0); err != nil {
			t.Fatal(err)
		}
		if c.bytes > c.budget {
			t.Fatalf("after %d expressions the cache holds %d bytes, over its budget of %d", i+1, c.bytes, c.budget)
		}
	}
	if len(c.m) < 10 {
		t.Fatalf("only %d entries kept", len(c.m))
	}
}

// TestRegexpsBoundedByEntries checks that the memo keeps at most regexpsEntries expressions.
func TestRegexpsBoundedByEntries(t *testing.T) {
	c := NewRegexps()
	for i := range regexpsEntries + 100 {
		if _, err := c.Compile("^n"+strconv.Itoa(i)+"$", 0); err != nil {
			t.Fatal(err)
		}
		if c.Len() > regexpsEntries {
			t.Fatalf("after %d expressions the memo holds %d, over its bound of %d", i+1, c.Len(), regexpsEntries)
		}
	}
	if c.Len() < regexpsEntries/2 {
		t.Fatalf("only %d expressions kept", c.Len())
	}
}
