package repl

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func script(t *testing.T, src string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = Run(context.Background(), Options{Fleet: testFleet(t), In: strings.NewReader(src), Out: &out, Err: &errOut})
	return out.String(), errOut.String(), err
}

// A def with blank and comment lines inside pastes as it is, and its errors name the
// input's lines.
func TestBlockWithBlankLinesPastes(t *testing.T) {
	src := "def f(n):\n" + // 1
		"    x = n\n" + // 2
		"\n" + // 3
		"    # a comment, alone on its line\n" + // 4
		"\n" + // 5
		"    return x * 2\n" + // 6
		"print(f(21))\n" + // 7: at the left margin, it ends the def
		"def g():\n" + // 8
		"    y = 1\n" + // 9
		"\n" + // 10
		"    return {}[y]\n" + // 11
		"\n" + // 12
		"g()\n" // 13
	out, errOut, err := script(t, src)
	if out != "42\n" {
		t.Errorf("stdout %q, want 42; stderr:\n%s", out, errOut)
	}
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "the first on line 13") {
		t.Errorf("Run = %v", err)
	}
	if !strings.Contains(errOut, "<stdin>:13:2: in <expr>\n  <stdin>:11:14: in g\n") {
		t.Errorf("the traceback does not name lines 13 and 11:\n%s", errOut)
	}
}

func TestBlockEnds(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"two empty lines", "if True:\n    print(1)\n\n\nprint(2)\n", "1\n2\n"},
		{"else at the margin", "if False:\n    print(1)\nelse:\n    print(3)\n\nprint(4)\n", "3\n4\n"},
		{"elif after a blank line", "x = 2\nif x == 1:\n    print(1)\n\nelif x == 2:\n    print(2)\n", "2\n"},
		{"end of input inside a block", "for i in range(2):\n    print(i)", "0\n1\n"},
		{"brackets over lines at the margin", "def h():\n    return [\n1,\n\n2]\n\nprint(h())\n", "[1, 2]\n"},
		{"one line", "print(5)\n", "5\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := script(t, tc.src)
			if out != tc.want || err != nil {
				t.Errorf("stdout %q, want %q; Run = %v; stderr:\n%s", out, tc.want, err, errOut)
			}
		})
	}
}

// A block recalled from the history comes back from the line editor as one chunk of lines.
func TestInputSplitsChunks(t *testing.T) {
	chunks := []string{"def f():\n    return 3\n\n    \nprint(f())", ""}
	in := &input{read: func() ([]byte, error) {
		if len(chunks) == 0 {
			return nil, io.EOF
		}
		c := chunks[0]
		chunks = chunks[1:]
		return []byte(c), nil
	}}
	st := &statement{in: in}
	var got []string
	for i := 0; i < 4; i++ {
		b, err := st.read()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	want := []string{"def f():\n", "    return 3\n", "\n", "\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", got, want)
	}
	if st.used != 4 || string(st.text) != "def f():\n    return 3\n" {
		t.Errorf("used %d, text %q", st.used, st.text)
	}
	next := &statement{in: in}
	if b, _ := next.read(); string(b) != "print(f())\n" {
		t.Errorf("the next statement starts with %q", b)
	}
}
