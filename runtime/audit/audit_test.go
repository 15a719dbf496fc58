package audit

import (
	"encoding/json"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/marshal"
)

var sample = Record{
	Time:      time.Date(2024, 5, 1, 10, 0, 0, 0, time.FixedZone("CEST", 7200)),
	RequestID: "5f3c", RequestAt: 1714557600, CallerID: "cert=admin", SenderID: "client1",
	Collective: "mcollective", Agent: "service", Action: "restart",
	Data: map[string]any{
		"service": "nginx", "process_results": true, "db_password": "hunter2",
		"opts": map[any]any{marshal.Symbol("api_token"): "t0k", "n": int64(3)},
		"list": []any{1.5, nil, marshal.Symbol("x")},
	},
	StatusCode: 0, StatusMsg: "OK", Outcome: OutcomeOK,
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLogfileFormat(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.log")
	l, err := New(Options{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Write(sample); err != nil {
		t.Fatal(err)
	}
	r := sample
	r.RequestID, r.Outcome, r.StatusCode, r.Data = "evil\nforged", OutcomeDenied, 1, nil
	if err := l.Write(r); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(read(t, p), "\n"), "\n")
	want := `[2024-05-01 08:00:00 UTC] reqid=5f3c: reqtime=1714557600 caller=cert=admin@client1 agent=service action=restart ` +
		`data={:db_password=>"[redacted]", :list=>[1.5, nil, :x], :opts=>{"n"=>3, :api_token=>"[redacted]"}, :process_results=>true, :service=>"nginx"} ` +
		`statuscode=0 outcome=ok`
	if len(got) != 2 || got[0] != want {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
	if !strings.HasPrefix(got[1], `[2024-05-01 08:00:00 UTC] reqid="evil\nforged": `) || !strings.HasSuffix(got[1], "data={} statuscode=1 outcome=denied") {
		t.Fatalf("second line %q", got[1])
	}
	if sample.Data["db_password"] != "hunter2" {
		t.Fatal("Write changed the caller's data")
	}
}

// TestLogfileFieldInjection checks that wire-supplied values holding spaces, quotes or control
// characters cannot forge fields of their own line: they are written quoted and escaped, while
// ordinary values stay as the Ruby plugin writes them.
func TestLogfileFieldInjection(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.log")
	l, err := New(Options{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	r := sample
	r.Data = map[string]any{"x": "\x1b[2J"}
	r.RequestID = "5f3c: reqtime=1"
	r.SenderID = "client1 agent=puppet action=disable"
	r.Action = "status statuscode=0 outcome=ok"
	r.Agent = "service\x1b[2J"
	r.StatusCode, r.Outcome = 1, OutcomeDenied
	if err := l.Write(r); err != nil {
		t.Fatal(err)
	}
	want := `[2024-05-01 08:00:00 UTC] reqid="5f3c: reqtime=1": reqtime=1714557600 caller=cert=admin@"client1 agent=puppet action=disable" ` +
		`agent="service\x1b[2J" action="status statuscode=0 outcome=ok" data={:x=>"\e[2J"} statuscode=1 outcome=denied` + "\n"
	if got := read(t, p); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestJSONFormat(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.json")
	l, err := New(Options{Path: p, Format: FormatJSON, Redact: []string{"Service"}})
	if err != nil {
		t.Fatal(err)
	}
	r := sample
	r.Data = map[string]any{"service": "nginx", "big": new(big.Int).Lsh(big.NewInt(1), 80), "psk": "x",
		"opts": map[any]any{marshal.Symbol("max"): math.Inf(1), int64(5): marshal.Symbol("five"), nil: "nil"}}
	if err := l.Write(r); err != nil {
		t.Fatal(err)
	}
	line := read(t, p)
	var got map[string]any
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	for k, want := range map[string]any{
		"requestid": "5f3c", "callerid": "cert=admin", "senderid": "client1", "agent": "service",
		"action": "restart", "statuscode": 0.0, "outcome": "ok", "reqtime": 1714557600.0,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	data := got["data"].(map[string]any)
	if data["service"] != RedactedValue || data["psk"] != RedactedValue || data["big"] != "1208925819614629174706176" {
		t.Errorf("data = %v", data)
	}
	if opts, _ := data["opts"].(map[string]any); opts["max"] != "Infinity" || opts["5"] != "five" || opts[""] != "nil" {
		t.Errorf("data opts = %#v", data["opts"])
	}
	if strings.Count(line, "\n") != 1 {
		t.Errorf("not one line: %q", line)
	}
}

func TestFromConfig(t *testing.T) {
	dir := t.TempDir()
	parse := func(src string) *config.Config {
		t.Helper()
		cfg, err := config.Parse(strings.NewReader(src), "server.cfg")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	if l, err := FromConfig(parse("rpcaudit = 0\n")); l != nil || err != nil {
		t.Fatalf("off: %v %v", l, err)
	}
	p := filepath.Join(dir, "a.log")
	l, err := FromConfig(parse("rpcaudit = 1\nrpcauditprovider = Logfile\nplugin.rpcaudit.logfile = " + p + "\nplugin.rpcaudit.format = JSON\nplugin.rpcaudit.redact = a, b\n"))
	if err != nil || l.Path() != p || l.opts.Format != FormatJSON || len(l.opts.Redact) != 2 {
		t.Fatalf("logger %+v, err %v", l, err)
	}
	for _, src := range []string{
		"rpcaudit = 1\nrpcauditprovider = syslog\n",
		"rpcaudit = 1\nrpcauditprovider = logfile\nplugin.rpcaudit.format = xml\nplugin.rpcaudit.logfile = " + p + "\n",
		"rpcaudit = 1\nrpcauditprovider = logfile\nplugin.rpcaudit.logfile = " + filepath.Join(dir, "no", "such", "a.log") + "\n",
	} {
		if _, err := FromConfig(parse(src)); err == nil {
			t.Errorf("%q: no error", src)
		}
	}
}

func TestInspectFloat(t *testing.T) {
	for f, want := range map[float64]string{1: "1.0", 1.5: "1.5", 1e20: "1.0e+20", 0.00001: "1.0e-05", -2.5e-7: "-2.5e-07"} {
		if got := inspect(map[string]any{"f": f}); got != "{:f=>"+want+"}" {
			t.Errorf("inspect(%v) = %s, want {:f=>%s}", f, got, want)
		}
	}
}

func TestOneLineEscapesEveryLineBreak(t *testing.T) {
	in := "a\rb\nc\u0085d\u2028e\u2029f"
	got := oneLine(in)
	if strings.ContainsAny(got, "\r\n\u0085\u2028\u2029") {
		t.Fatalf("oneLine(%q) = %q still breaks the line", in, got)
	}
	if want := `a\rb\nc\u0085d\u2028e\u2029f`; got != want {
		t.Fatalf("oneLine(%q) = %q, want %q", in, got, want)
	}
}
