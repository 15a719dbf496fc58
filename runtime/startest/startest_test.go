package startest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runTests runs Run on paths and returns its exit code and output.
func runTests(t *testing.T, o Options, paths ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	o.Paths, o.Out = paths, &out
	code := Run(context.Background(), o)
	return code, out.String()
}

func wantOutput(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// TestPlaybookTests runs the tests beside every playbook in playbooks/, as
// `mcorun test playbooks/` does, and checks that every playbook has them.
func TestPlaybookTests(t *testing.T) {
	dir := filepath.Join("..", "..", "playbooks")
	books, err := filepath.Glob(filepath.Join(dir, "*.star"))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range books {
		if strings.HasSuffix(b, "_test.star") {
			continue
		}
		if _, err := os.Stat(strings.TrimSuffix(b, ".star") + "_test.star"); err != nil {
			t.Errorf("%s has no _test.star beside it", b)
		}
	}
	code, out := runTests(t, Options{Verbose: testing.Verbose()}, dir)
	if code != ExitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	t.Log(out)
}

func TestStarPass(t *testing.T) {
	code, out := runTests(t, Options{Verbose: true}, filepath.Join("testdata", "pass"))
	if code != ExitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	wantOutput(t, out, "=== RUN   test_canned_failures_stop_rolling\n", "--- PASS: test_wait_until_times_out_on_the_fake_clock (",
		"ok  \ttestdata/pass/rolling_test.star\t")
}

func TestStarFailingAssertion(t *testing.T) {
	code, out := runTests(t, Options{}, filepath.Join("testdata", "fail", "assert_test.star"))
	if code != ExitFailed {
		t.Errorf("exit %d, want %d", code, ExitFailed)
	}
	wantOutput(t, out,
		"--- FAIL: test_fails (testdata/fail/assert_test.star:6)\n",
		"    testdata/fail/assert_test.star:7: 8 != 3\n",
		"    testdata/fail/assert_test.star:9: [\"a\"] does not contain b\n",
		"--- FAIL: test_raises (testdata/fail/assert_test.star:11)\n",
		"testdata/fail/assert_test.star:12:8: in test_raises",
		`rpc: nosuch: ddl nosuch: unknown agent`,
		"FAIL\ttestdata/fail/assert_test.star\t",
		"\nFAIL\n")
	if strings.Contains(out, "test_passes") {
		t.Errorf("a passing test is listed without -v:\n%s", out)
	}
}

func TestStarRunPattern(t *testing.T) {
	code, out := runTests(t, Options{Run: "^test_passes$", Verbose: true}, filepath.Join("testdata", "fail"))
	if code != ExitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	wantOutput(t, out, "--- PASS: test_passes")
	if strings.Contains(out, "test_fails") {
		t.Errorf("-run did not filter:\n%s", out)
	}
}

func TestStarBrokenPlaybook(t *testing.T) {
	code, out := runTests(t, Options{}, filepath.Join("testdata", "broken"))
	if code != ExitFailed {
		t.Errorf("exit %d, want %d", code, ExitFailed)
	}
	wantOutput(t, out,
		// a syntax error in the playbook under test fails the test, with its position
		"--- FAIL: test_broken_playbook (testdata/broken/broken_test.star:3)\n",
		"testdata/broken/broken_test.star:5: 1 != 0",
		"broken.star:3:1: got newline, want ':'",
		// a syntax error in the test file fails the file
		"--- FAIL: testdata/broken/syntax_test.star (load)\n",
		"syntax_test.star:1:13: got ':', want ')'",
		"FAIL\ttestdata/broken/syntax_test.star\t")
}

func TestStarUsage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		o     Options
		paths []string
		want  string
	}{
		{"missing path", Options{}, []string{"testdata/nosuch"}, "no such file"},
		{"bad pattern", Options{Run: "("}, []string{"testdata"}, "-run:"},
		{"no test files", Options{}, []string{t.TempDir()}, "no *_test.star files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runTests(t, tc.o, tc.paths...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d:\n%s", code, ExitUsage, out)
			}
			wantOutput(t, out, tc.want)
		})
	}
}

func TestFind(t *testing.T) {
	files, err := Find([]string{"testdata", filepath.Join("testdata", "pass", "rolling_test.star")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"testdata/broken/broken_test.star", "testdata/broken/syntax_test.star",
		"testdata/fail/assert_test.star", "testdata/pass/real_agents_test.star", "testdata/pass/rolling_test.star"}
	if strings.Join(files, " ") != strings.Join(want, " ") {
		t.Errorf("Find = %v, want %v", files, want)
	}
}
