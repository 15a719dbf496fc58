package match

import (
	"errors"
	"math/big"
	"testing"

	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/rubyfmt"
)

func TestCompile(t *testing.T) {
	cases := []struct {
		src     string
		opts    byte
		input   string
		want    bool
		wantErr bool
	}{
		{src: "^web", input: "db\nweb", want: true}, // ^ is a line anchor in Ruby
		{src: `\Aweb`, input: "db\nweb", want: false},
		{src: `web\z`, input: "web\n", want: false},
		{src: `web\Z`, input: "web\n", want: true},
		{src: `web$`, input: "web\ndb", want: true},
		{src: "WEB", opts: 1, input: "web", want: true},
		{src: "a.b", input: "a\nb", want: false},
		{src: "a.b", opts: 4, input: "a\nb", want: true},
		{src: "(?m:a.b)", input: "a\nb", want: true},
		{src: "(?i)WEB", input: "web", want: true},
		{src: `\h+\z`, input: "00ff", want: true},
		{src: `[\h]+\z`, input: "xyz", want: false},
		{src: `\s`, input: "\v", want: true},
		{src: `a{,2}c`, input: "aac", want: true},
		{src: `(?<n>w)eb`, input: "web", want: true},
		{src: `a(?#comment)b`, input: "ab", want: true},
		{src: `[]a]`, input: "]", want: true},
		{src: `[[:digit:]]`, input: "5", want: true},
		{src: `(a)\1`, wantErr: true},
		{src: `a(?=b)`, wantErr: true},
		{src: `a(?<!b)`, wantErr: true},
		{src: `(?>a)`, wantErr: true},
		{src: `a++`, wantErr: true},
		{src: `[a-z&&[^b]]`, wantErr: true},
		{src: `(`, wantErr: true},
		{src: `a`, opts: 2, wantErr: true},
		{src: `(?x) a`, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			re, err := Compile(tc.src, tc.opts)
			if tc.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Compile(%q) error = %v, want ErrMalformed", tc.src, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compile(%q): %v", tc.src, err)
			}
			if got := re.MatchString(tc.input); got != tc.want {
				t.Fatalf("/%s/ =~ %q = %v, want %v", tc.src, tc.input, got, tc.want)
			}
		})
	}
}

func TestRegex(t *testing.T) {
	re, err := Regex(`/^web\d/`)
	if err != nil {
		t.Fatal(err)
	}
	if !re.MatchString("web1") || re.MatchString("db1") {
		t.Fatalf("Regex(/^web\\d/) = %v", re)
	}
	if !IsRegex("/x/") || IsRegex("x/") || !IsRegex("a\n/b") {
		t.Fatal("IsRegex")
	}
}

func TestRubyConversions(t *testing.T) {
	floats := map[float64]string{
		1.5: "1.5", 100: "100.0", 1e14: "100000000000000.0", 1e15: "1.0e+15",
		1e20: "1.0e+20", 0.0001: "0.0001", 0.00001: "1.0e-05", 1.23e-7: "1.23e-07", 0: "0.0",
	}
	for f, want := range floats {
		if got := rubyfmt.Float(f); got != want {
			t.Errorf("rubyfmt.Float(%v) = %q, want %q", f, got, want)
		}
	}
	ints := map[string]int64{"10": 10, "010": 8, " 0x1A ": 26, "1_000": 1000, "-5": -5, "0": 0, "0b101": 5}
	for s, want := range ints {
		got, err := rubyInteger(s)
		if err != nil || got.Cmp(big.NewInt(want)) != 0 {
			t.Errorf("rubyInteger(%q) = %v, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"09", "1__0", "1.5", "", "x"} {
		if _, err := rubyInteger(s); err == nil {
			t.Errorf("rubyInteger(%q) succeeded", s)
		}
	}
	fl := map[string]float64{"1.5": 1.5, ".5": 0.5, "1e3": 1000, "1_0.5": 10.5, "5": 5, "0x1A": 26}
	for s, want := range fl {
		if got, err := rubyFloat(s); err != nil || got != want {
			t.Errorf("rubyFloat(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"1.", "1a5", "e5", "", "."} {
		if _, err := rubyFloat(s); err == nil {
			t.Errorf("rubyFloat(%q) succeeded", s)
		}
	}
	if got := rubyfmt.ToS(marshal.Regexp{Source: "re", Options: 1}); got != "(?i-mx:re)" {
		t.Errorf("rubyfmt.ToS(Regexp) = %q", got)
	}
}
