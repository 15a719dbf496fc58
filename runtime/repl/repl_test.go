package repl

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/playbook/fleettest"
	"github.com/mcorun/mcorun/starlib"
)

// lockedWriter serialises writes to w.
type lockedWriter struct {
	w  io.Writer
	ch chan struct{}
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.ch <- struct{}{}
	defer func() { <-l.ch }()
	return l.w.Write(p)
}

// testFleet is the default test fleet, closed when the test ends.
func testFleet(t *testing.T) *fleettest.Fleet {
	t.Helper()
	f := fleettest.New()
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func runSession(t *testing.T, input string, o Options) string {
	t.Helper()
	var buf bytes.Buffer
	w := lockedWriter{&buf, make(chan struct{}, 1)}
	o.In, o.Out, o.Err = strings.NewReader(input), w, w
	if o.Fleet == nil {
		o.Fleet = testFleet(t)
	}
	if err := Run(context.Background(), o); err != nil && !errors.Is(err, ErrFailed) {
		t.Fatalf("Run: %v", err)
	}
	return buf.String()
}

func TestSession(t *testing.T) {
	input := `web = discover("role=web")
web
len(web)
rs = rpc("rpcutil", "get_fact", {"fact": "operatingsystem"}, nodes = web)
rs.summary("value")
x = = 1
print("still here", _)
def double(n):
    return n * 2

double(21)
for n in ["db1", "db2"]:
    print(n)

rpc("rpcutil", "get_fact")
undefined_name
_
`
	out := runSession(t, input, Options{})
	for _, want := range []string{
		"discover [fact role=web]  found=4",
		"│ NODE │", "│ web1 │", "4 nodes\n",
		"rpc rpcutil.get_fact  targets=4 ok=4 failed=0 missing=0",
		`{"Debian": 4}`,
		"<stdin>:6:5: got '=', want primary expression",
		"still here {\"Debian\": 4}\n",
		"42\n",
		"db1\ndb2\n",
		"rpc: rpcutil.get_fact: Action get_fact needs a fact argument",
		"undefined: undefined_name",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// the session goes on after the syntax error: the last value is still printed
	if !strings.HasSuffix(out, "42\n") {
		t.Errorf("last line should be _ = 42:\n%s", out)
	}
}

func TestResultTable(t *testing.T) {
	fleet := testFleet(t)
	fleet.Silence("web2")
	out := runSession(t, `rpc("service", "status", {"service": "nginx"}, filter = "role=web")`+"\n", Options{Fleet: fleet})
	// The data column is headed by the key code reads (r["status"]), not "Service Status".
	for _, want := range []string{"│ status ", "│ web1 │ ok", "running", "│ web2 │ no reply", "service.status: 3 ok, 0 failed, 1 missing"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(strings.ToLower(out), "service status") {
		t.Errorf("the table shows the display name:\n%s", out)
	}
}

// A session with a width cuts its tables to it.
func TestTableWidth(t *testing.T) {
	fleet := testFleet(t)
	out := runSession(t, `rpc("rpcutil", "daemon_stats", filter = "role=web")`+"\n", Options{Fleet: fleet, Width: 60})
	if !strings.Contains(out, "…") {
		t.Errorf("nothing cut at width 60:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "│") || strings.HasPrefix(line, "┌") {
			if n := len([]rune(line)); n > 60 {
				t.Errorf("line of %d runes: %q", n, line)
			}
		}
	}
}

func TestInterrupt(t *testing.T) {
	fleet := testFleet(t)
	fleet.Block()
	interrupts := make(chan os.Signal, 1)
	go func() {
		<-fleet.Entered()
		interrupts <- os.Interrupt
	}()
	done := make(chan string, 1)
	go func() {
		var buf bytes.Buffer
		w := lockedWriter{&buf, make(chan struct{}, 1)}
		err := Run(context.Background(), Options{Fleet: fleet, In: strings.NewReader("discover()\nprint('after', 1 + 1)\n"),
			Out: w, Err: w, Interrupts: interrupts})
		if err != nil {
			buf.WriteString("Run: " + err.Error())
		}
		done <- buf.String()
	}()
	select {
	case out := <-done:
		if !strings.Contains(out, "error: interrupted\ninterrupted in discover\n") || strings.Contains(out, "context canceled") ||
			!strings.Contains(out, "after 2\n") {
			t.Errorf("output:\n%s", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the interrupt did not cancel the call")
	}
}

func TestFormat(t *testing.T) {
	out := runSession(t, "nodeset(['b', 'a'])\n[1, 2]\n'text'\nNone\n", Options{})
	if !strings.Contains(out, "│ a    │\n│ b    │") {
		t.Errorf("nodeset table:\n%s", out)
	}
	if !strings.Contains(out, "2 nodes\n[1, 2]\n\"text\"\n") {
		t.Errorf("values:\n%s", out)
	}
}

func TestHelp(t *testing.T) {
	out := runSession(t, "help\n?\nhelp()\nhelp(rpc)\nweb = nodeset(['web1'])\nhelp(web)\nhelp(web.batches)\nhelp(nosuch)\nhelp('nosuch')\nprint('on')\n", Options{})
	overview := starlib.HelpOverview() + "\n"
	if n := strings.Count(out, overview); n != 3 {
		t.Errorf("help, ? and help() should each print the overview, got it %d times:\n%s", n, out)
	}
	rpcHelp, _ := starlib.Help("rpc")
	for _, want := range []string{
		rpcHelp + "\n",
		".sample(n, seed=None)",
		".batches(n) -> [NodeSet]\n    The set split",
		"undefined: nosuch",
		`help: nothing on "nosuch"; help() lists the builtins and value types`,
		"on\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestHelpIsStatement: "help" and "?" are the overview only alone on a line; help as a
// name in an expression is the builtin.
func TestHelpIsStatement(t *testing.T) {
	out := runSession(t, "h = help\nh == help\n", Options{})
	if out != "True\n" {
		t.Errorf("output:\n%s", out)
	}
}
