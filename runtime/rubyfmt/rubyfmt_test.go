package rubyfmt

import (
	"encoding/json"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/marshal"
)

// The expected strings below were produced by Ruby 3.1's own Float#to_s, to_s, inspect,
// String#inspect and Symbol#inspect on the equivalent Ruby values, then pasted in.

var valueCases = []struct {
	v       any
	toS     string
	inspect string
}{
	{1.0, "1.0", "1.0"},
	{1e20, "1.0e+20", "1.0e+20"},
	{1.5e-05, "1.5e-05", "1.5e-05"},
	{0.0001, "0.0001", "0.0001"},
	{0.00001, "1.0e-05", "1.0e-05"},
	{1e15, "1.0e+15", "1.0e+15"},
	{1e14, "100000000000000.0", "100000000000000.0"},
	{123456789012345.0, "123456789012345.0", "123456789012345.0"},
	{1234567890123456.0, "1.234567890123456e+15", "1.234567890123456e+15"},
	{0.30000000000000004, "0.30000000000000004", "0.30000000000000004"},
	{100.0, "100.0", "100.0"},
	{-2.5e-7, "-2.5e-07", "-2.5e-07"},
	{1e100, "1.0e+100", "1.0e+100"},
	{5e-324, "5.0e-324", "5.0e-324"},
	{math.MaxFloat64, "1.7976931348623157e+308", "1.7976931348623157e+308"},
	{math.NaN(), "NaN", "NaN"},
	{math.Inf(1), "Infinity", "Infinity"},
	{math.Inf(-1), "-Infinity", "-Infinity"},
	{math.Copysign(0, -1), "-0.0", "-0.0"},
	{0.0, "0.0", "0.0"},
	{0.05, "0.05", "0.05"},
	{float32(1.5), "1.5", "1.5"},
	{nil, "", "nil"},
	{true, "true", "true"},
	{false, "false", "false"},
	{int64(3), "3", "3"},
	{-7, "-7", "-7"},
	{int32(-8), "-8", "-8"},
	{uint64(math.MaxUint64), "18446744073709551615", "18446744073709551615"},
	{new(big.Int).Lsh(big.NewInt(1), 80), "1208925819614629174706176", "1208925819614629174706176"},
	{json.Number("12"), "12", "12"},
	{json.Number("1.0"), "1.0", "1.0"},
	{json.Number("1e20"), "1.0e+20", "1.0e+20"},
	{marshal.Symbol("sym"), "sym", ":sym"},
	{marshal.Symbol("foo bar"), "foo bar", ":\"foo bar\""},
	{"text", "text", "\"text\""},
	{"q\"uote", "q\"uote", "\"q\\\"uote\""},
	{marshal.Binary("\xff\x00a"), "\xff\x00a", "\"\\xFF\\x00a\""},
	{[]byte("ab"), "ab", "\"ab\""},
	{marshal.Regexp{Source: "a/b", Options: 1}, "(?i-mx:a\\/b)", "/a\\/b/i"},
	{marshal.Regexp{Source: `a\/b`}, "(?-mix:a\\/b)", "/a\\/b/"},
	{marshal.Regexp{Source: "x", Options: 7}, "(?mix:x)", "/x/mix"},
	{marshal.Regexp{Source: "a\x01b\nc", Options: 4}, "(?m-ix:a\\x01b\nc)", "/a\\x01b\nc/m"},
	{[]any{}, "[]", "[]"},
	{map[any]any{}, "{}", "{}"},
	{[]any{int64(1), 2.5, nil, "s", marshal.Symbol("x")}, "[1, 2.5, nil, \"s\", :x]", "[1, 2.5, nil, \"s\", :x]"},
	{[]string{"a", "b\""}, "[\"a\", \"b\\\"\"]", "[\"a\", \"b\\\"\"]"},
	{map[any]any{"a": int64(1), marshal.Symbol("b"): []any{int64(1), 2.5, nil}}, "{\"a\"=>1, :b=>[1, 2.5, nil]}", "{\"a\"=>1, :b=>[1, 2.5, nil]}"},
	{[]any{[]any{int64(1), []any{int64(2)}}, map[any]any{marshal.Symbol("x"): map[string]any{"y": marshal.Symbol("z")}}}, "[[1, [2]], {:x=>{\"y\"=>:z}}]", "[[1, [2]], {:x=>{\"y\"=>:z}}]"},
	{map[string]any{"b": 1.0, "a": nil}, "{\"a\"=>nil, \"b\"=>1.0}", "{\"a\"=>nil, \"b\"=>1.0}"},
	{map[marshal.Symbol]any{"service": "nginx", "a-b": true}, "{:\"a-b\"=>true, :service=>\"nginx\"}", "{:\"a-b\"=>true, :service=>\"nginx\"}"},
	{map[any]any{int64(1): int64(2), nil: int64(3), 1.5: marshal.Symbol("a")}, "{1=>2, 1.5=>:a, nil=>3}", "{1=>2, 1.5=>:a, nil=>3}"},
	{time.Date(2024, 5, 1, 10, 0, 0, 0, time.FixedZone("CEST", 7200)), "2024-05-01 10:00:00 +0200", "2024-05-01 10:00:00 +0200"},
	{time.Date(2001, 12, 14, 21, 59, 43, 0, time.UTC), "2001-12-14 21:59:43 UTC", "2001-12-14 21:59:43 UTC"},
}

var quoteCases = []stringCase{
	{"plain", "\"plain\""},
	{"q\"uote", "\"q\\\"uote\""},
	{"back\\slash", "\"back\\\\slash\""},
	{"tab\tnl\ncr\x0d", "\"tab\\tnl\\ncr\\r\""},
	{"\x1b\x07\x08\x0c\x0b\x00", "\"\\e\\a\\b\\f\\v\\u0000\""},
	{"\x7f", "\"\\u007F\""},
	{"été", "\"été\""},
	{"\u200b", "\"\u200b\""},
	{"\U0001f600", "\"\U0001f600\""},
	{"#{x}", "\"\\#{x}\""},
	{"#$x #@y #x #", "\"\\#$x \\#@y #x #\""},
	{"\xff\xfe", "\"\\xFF\\xFE\""},
	{"a\xffb", "\"a\\xFFb\""},
	{"\u0085", "\"\u0085\""},
	{"\u00a0", "\"\u00a0\""},
	{"\u2028", "\"\\u2028\""},
	{"\u2029", "\"\\u2029\""},
	{"\x01", "\"\\u0001\""},
	{"\u0378", "\"\\u0378\""},
	{"\U0010ffff", "\"\\u{10FFFF}\""},
	{"\ufffe", "\"\\uFFFE\""},
	{"\u00ad", "\"\u00ad\""},
	{"\ue000", "\"\ue000\""},
	{"\u3000", "\"\u3000\""},
	{"", "\"\""},
}

var quoteBinaryCases = []stringCase{
	{"abc", "\"abc\""},
	{"\xff\x00a\x22", "\"\\xFF\\x00a\\\"\""},
	{"\xc3\xa9", "\"\\xC3\\xA9\""},
	{"#{x}\n\x1b\x7f", "\"\\#{x}\\n\\e\\x7F\""},
}

var symbolCases = []stringCase{
	{"foo", ":foo"},
	{"foo?", ":foo?"},
	{"foo!", ":foo!"},
	{"foo=", ":foo="},
	{"Foo", ":Foo"},
	{"Foo=", ":Foo="},
	{"Foo?", ":Foo?"},
	{"_x", ":_x"},
	{"_", ":_"},
	{"A_1!", ":A_1!"},
	{"@a", ":@a"},
	{"@@b", ":@@b"},
	{"$c", ":$c"},
	{"$1", ":$1"},
	{"$12", ":$12"},
	{"$-", ":\"$-\""},
	{"$-w", ":$-w"},
	{"$-ww", ":\"$-ww\""},
	{"$~", ":$~"},
	{"$*", ":$*"},
	{"$$", ":$$"},
	{"$?", ":$?"},
	{"$!", ":$!"},
	{"$@", ":$@"},
	{"$/", ":$/"},
	{"$\\", ":$\\"},
	{"$;", ":$;"},
	{"$,", ":$,"},
	{"$.", ":$."},
	{"$=", ":$="},
	{"$:", ":$:"},
	{"$<", ":$<"},
	{"$>", ":$>"},
	{"$\"", ":$\""},
	{"$&", ":$&"},
	{"$`", ":$`"},
	{"$'", ":$'"},
	{"$+", ":$+"},
	{"$0", ":$0"},
	{"$a?", ":\"$a?\""},
	{"@a?", ":\"@a?\""},
	{"@a=", ":\"@a=\""},
	{"+", ":+"},
	{"-", ":-"},
	{"*", ":*"},
	{"/", ":/"},
	{"%", ":%"},
	{"**", ":**"},
	{"==", ":=="},
	{"===", ":==="},
	{"!=", ":!="},
	{"=~", ":=~"},
	{"!~", ":!~"},
	{"!", ":!"},
	{"<", ":<"},
	{"<=", ":<="},
	{">", ":>"},
	{">=", ":>="},
	{"<=>", ":<=>"},
	{"[]", ":[]"},
	{"[]=", ":[]="},
	{"<<", ":<<"},
	{">>", ":>>"},
	{"~", ":~"},
	{"+@", ":+@"},
	{"-@", ":-@"},
	{"&", ":&"},
	{"|", ":|"},
	{"^", ":^"},
	{"`", ":`"},
	{"a-b", ":\"a-b\""},
	{"9a", ":\"9a\""},
	{"a?b", ":\"a?b\""},
	{"!@", ":\"!@\""},
	{"~@", ":\"~@\""},
	{"[]=?", ":\"[]=?\""},
	{"=", ":\"=\""},
	{"==>", ":\"==>\""},
	{"||", ":\"||\""},
	{"&&", ":\"&&\""},
	{"..", ":\"..\""},
	{"::", ":\"::\""},
	{"->", ":\"->\""},
	{"foo?=", ":\"foo?=\""},
	{"foo!=", ":\"foo!=\""},
	{"@", ":\"@\""},
	{"$", ":\"$\""},
	{"@1", ":\"@1\""},
	{"[]?", ":\"[]?\""},
	{"", ":\"\""},
	{"foo bar", ":\"foo bar\""},
	{"é", ":é"},
	{"é?", ":é?"},
	{"$é", ":$é"},
	{"@é", ":@é"},
	{"a=b", ":\"a=b\""},
	{"a\x00", ":\"a\\x00\""},
	{"aé\x00", ":\"aé\\u0000\""},
	{"\x7f", ":\"\\x7F\""},
	{"a\nb", ":\"a\\nb\""},
}

func TestFloat(t *testing.T) {
	for _, tc := range valueCases {
		f, ok := tc.v.(float64)
		if !ok {
			continue
		}
		if got := Float(f); got != tc.toS {
			t.Errorf("Float(%v) = %q, want %q", f, got, tc.toS)
		}
	}
}

func TestToSAndInspect(t *testing.T) {
	for _, tc := range valueCases {
		if got := ToS(tc.v); got != tc.toS {
			t.Errorf("ToS(%#v) = %q, want %q", tc.v, got, tc.toS)
		}
		if got := Inspect(tc.v); got != tc.inspect {
			t.Errorf("Inspect(%#v) = %q, want %q", tc.v, got, tc.inspect)
		}
	}
}

// stringCase is a String or Symbol name and its expected inspect form.
type stringCase struct {
	s    string
	want string
}

// checkStrings checks each of fns against every case.
func checkStrings(t *testing.T, cases []stringCase, fns map[string]func(string) string) {
	t.Helper()
	for _, tc := range cases {
		for name, f := range fns {
			if got := f(tc.s); got != tc.want {
				t.Errorf("%s(%q) = %q, want %q", name, tc.s, got, tc.want)
			}
		}
	}
}

func TestQuote(t *testing.T) {
	checkStrings(t, quoteCases, map[string]func(string) string{
		"Quote": Quote, "Inspect": func(s string) string { return Inspect(s) },
	})
	checkStrings(t, quoteBinaryCases, map[string]func(string) string{
		"QuoteBinary": QuoteBinary, "Inspect(Binary)": func(s string) string { return Inspect(marshal.Binary(s)) },
	})
}

func TestSymbol(t *testing.T) {
	checkStrings(t, symbolCases, map[string]func(string) string{
		"Symbol": Symbol, "Inspect(Symbol)": func(s string) string { return Inspect(marshal.Symbol(s)) },
	})
}

// TestHashOrder checks that Hash entries come in the order of their keys' inspect form,
// whatever Go's map order.
func TestHashOrder(t *testing.T) {
	m := map[any]any{marshal.Symbol("api_token"): "t", "n": int64(3), marshal.Symbol("b"): nil, "a": true}
	want := `{"a"=>true, "n"=>3, :api_token=>"t", :b=>nil}`
	for range 20 {
		if got := Inspect(m); got != want {
			t.Fatalf("Inspect = %s, want %s", got, want)
		}
	}
}

func TestUnknownType(t *testing.T) {
	type point struct{ X, Y int }
	if got := Inspect(point{1, 2}); got != `"{1 2}"` {
		t.Errorf("Inspect(point) = %s", got)
	}
	if got := ToS(point{1, 2}); got != "{1 2}" {
		t.Errorf("ToS(point) = %s", got)
	}
	if got := ToS(int8(-3)) + " " + Inspect(uint16(7)); got != "-3 7" {
		t.Errorf("small integers = %s", got)
	}
	if got := ToS(time.Second); got != "1s" {
		t.Errorf("ToS(time.Second) = %s, want its String method's", got)
	}
}
