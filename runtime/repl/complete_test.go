package repl

import (
	"strings"
	"testing"

	"go.starlark.net/starlark"
)

func testCompleter(t *testing.T) completer {
	t.Helper()
	s := &session{o: Options{Fleet: testFleet(t)}}
	if err := s.init(); err != nil {
		t.Fatal(err)
	}
	s.globals["web"] = starlark.None
	s.globals["webhosts"] = starlark.NewList(nil)
	return completer{s}
}

func TestCompleter(t *testing.T) {
	c := testCompleter(t)
	for _, tc := range []struct {
		line string
		want []string // the whole candidate words, in order
		has  []string
	}{
		{line: `rpc("ser`, want: []string{`service"`}},
		{line: `rpc('pu`, want: []string{`puppet'`}},
		{line: `rpc("service", "re`, want: []string{`restart"`}},
		{line: `rs = rpc("rpcutil", 'get_f`, want: []string{`get_fact'`, `get_facts'`}},
		{line: `rpc("service", "restart", {"se`, want: []string{`service"`}},
		{line: `rpc("service", "restart", {`, want: []string{`"service": `}},
		{line: `rpc("service", "restart", `, has: []string{`{"service": `, "nodes=", "filter=", "discover"}},
		{line: `rpc("service", "restart", {"service": "x"}, `, has: []string{"nodes="}},
		{line: `rpc("rpcutil", "get_fact", {"fact": "role"}, fi`, want: []string{"filter", "filter="}},
		{line: `rpc("rpcutil", "ping", nodes=web, ba`, want: []string{"batch=", "batch_sleep="}},
		{line: `discover(me`, want: []string{"method="}},
		{line: `filter.fact(o`, has: []string{"op="}},
		{line: `filter.co`, want: []string{"filter.compound"}},
		{line: `webhosts.app`, want: []string{"webhosts.append"}},
		{line: `json.en`, want: []string{"json.encode", "json.encode_indent"}},
		{line: `wa`, want: []string{"wait_until"}},
		{line: `we`, want: []string{"web", "webhosts"}},
		{line: `x = di`, want: []string{"dict", "dir", "discover"}},
		{line: `de`, want: []string{"def"}},
		{line: `rpc("nosuch", "`, want: nil},
		{line: `print("ser`, want: nil},
		{line: `nosuch.x`, want: nil},
	} {
		word, got := c.complete(tc.line)
		if !strings.HasSuffix(tc.line, word) {
			t.Errorf("%q: word %q is not the end of the line", tc.line, word)
		}
		if tc.has == nil && strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%q: %q, want %q", tc.line, got, tc.want)
		}
		for _, h := range tc.has {
			if !strings.Contains("|"+strings.Join(got, "|")+"|", "|"+h+"|") {
				t.Errorf("%q: %q lacks %q", tc.line, got, h)
			}
		}
	}
	// The line editor gets what each candidate adds, and the word's length.
	add, n := c.Do([]rune(`rpc("service", "re`), len(`rpc("service", "re`))
	if n != 2 || len(add) != 1 || string(add[0]) != `start"` {
		t.Errorf("Do = %q, %d", add, n)
	}
}

// Completion reads whatever is typed; it never panics, and the word it completes is the
// end of the line.
func FuzzComplete(f *testing.F) {
	for _, s := range []string{`rpc("ser`, `rpc("service", "restart", {"se`, `x.y.`, `"\`, `{'a': [1, (2`, `# "rpc(`, `f(a=`, `)]}`, "\xff\xfe"} {
		f.Add(s)
	}
	s := &session{o: Options{}}
	if err := s.init(); err != nil {
		f.Fatal(err)
	}
	c := completer{s}
	f.Fuzz(func(t *testing.T, line string) {
		word, _ := c.complete(line)
		if !strings.HasSuffix(line, word) && !strings.HasSuffix(string([]rune(line)), word) {
			// a string being typed gives its content without escapes
			if !strings.ContainsAny(line, `"'`) {
				t.Errorf("%q: word %q", line, word)
			}
		}
		c.Do([]rune(line), len([]rune(line)))
	})
}
