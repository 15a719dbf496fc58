package external

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mcorun/mcorun/runtime/agent/agenttest"
	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

func TestFailuresBecomeStatusOne(t *testing.T) {
	l := newLib(t)
	l.agent("crash", ddlJSON("crash", "1", 5), activateThen(`echo "something broke: disk full" >&2; exit 3`), 0o755)
	l.agent("garbage", ddlJSON("garbage", "1", 5), activateThen(`echo 'not json' > "$2"; echo "oops" >&2`), 0o755)
	l.agent("badcode", ddlJSON("badcode", "1", 5), activateThen(`echo '{"statuscode": 9}' > "$2"`), 0o755)
	l.agent("huge", ddlJSON("huge", "1", 5), activateThen(`head -c 3000000 /dev/zero | tr '\0' x > "$2"`), 0o755)
	l.agent("noisy", ddlJSON("noisy", "1", 5), activateThen(`head -c 5000000 /dev/zero | tr '\0' x >&2; echo '{"statuscode": 0, "data": {"out": "ok"}}' > "$2"`), 0o755)
	n, w, _ := newNode(t, Options{LibDirs: []string{l.dir}})
	w.Scan(context.Background())
	cases := []struct{ agent, msg string }{
		{"crash", "crash#run failed: crash exit status 3: something broke: disk full"},
		{"garbage", "garbage#run failed: the reply is not a JSON object: invalid character 'o' in literal null (expecting 'u'): oops"},
		{"badcode", "badcode#run failed: the reply's statuscode 9 is not one of 0 to 5"},
		{"huge", "huge#run failed: huge wrote a reply of 3000000 bytes, over the limit of 1048576"},
	}
	for _, c := range cases {
		rep := agenttest.Call(t, n.agent(t, c.agent), "run", nil)
		if rep.Status != message.Aborted || rep.Message != c.msg || rep.Data["out"] != "unset" {
			t.Errorf("%s: %d %q %v\nwant 1 %q", c.agent, rep.Status, rep.Message, rep.Data, c.msg)
		}
	}
	// Megabytes on stderr are kept to their last bytes; the reply still counts.
	if rep := agenttest.Call(t, n.agent(t, "noisy"), "run", nil); rep.Status != message.OK || rep.Message != "OK" || rep.Data["out"] != "ok" {
		t.Errorf("noisy: %d %q %v", rep.Status, rep.Message, rep.Data)
	}
}

// An agent that never exits is killed at its DDL timeout plus the grace, with everything it
// started.
func TestTimeoutKillsProcessGroup(t *testing.T) {
	l := newLib(t)
	pidFile := filepath.Join(l.dir, "child.pid")
	l.agent("hang", ddlJSON("hang", "1", 1), activateThen(`sleep 60 & echo $! > `+pidFile+`; sleep 60`), 0o755)
	n, w, _ := newNode(t, Options{LibDirs: []string{l.dir}, Grace: 200 * time.Millisecond})
	w.Scan(context.Background())
	start := time.Now()
	rep := agenttest.Call(t, n.agent(t, "hang"), "run", nil)
	took := time.Since(start)
	if rep.Status != message.Aborted || rep.Message != "hang#run failed: timed out after 1.2s; its process group was killed" {
		t.Errorf("hang: %d %q", rep.Status, rep.Message)
	}
	if took < 1200*time.Millisecond || took > 10*time.Second { // not the 60 s the agent asked for
		t.Errorf("the call took %s, want about 1.2s", took)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// Killed, it is gone or a zombie waiting for init to reap it.
	deadline := time.Now().Add(2 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the agent's child %d still runs after the timeout: %s", pid, stat)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDecodeReply(t *testing.T) {
	good := []struct {
		in   string
		want Reply
	}{
		{`{"statuscode": 0, "statusmsg": "OK", "data": {"n": 1, "f": 1.5, "big": 123456789012345678901234567890, "l": [1, "a"], "h": {"x": null}}}`,
			Reply{StatusCode: 0, StatusMsg: "OK", Data: map[string]any{"n": int64(1), "f": 1.5, "big": "123456789012345678901234567890", "l": []any{int64(1), "a"}, "h": map[string]any{"x": nil}}}},
		{`{"statuscode": 1, "statusmsg": "no"}`, Reply{StatusCode: 1, StatusMsg: "no"}},
		{`{"statuscode": 5, "data": null}`, Reply{StatusCode: 5}},
	}
	for _, c := range good {
		got, err := DecodeReply([]byte(c.in))
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("DecodeReply(%s) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	bad := map[string]string{
		``:                                    "not a JSON object",
		`[1]`:                                 "not a JSON object",
		`{"statusmsg": "OK"}`:                 "no statuscode",
		`{"statuscode": -1}`:                  "not one of 0 to 5",
		`{"statuscode": 1.5}`:                 "not one of 0 to 5",
		`{"statuscode": 0, "statusmsg": 3}`:   "statusmsg is a json.Number, want a string",
		`{"statuscode": 0, "data": [1]}`:      "data is a []interface {}, want an object",
		`{"statuscode": 0} {"statuscode": 1}`: "data after its JSON object",
	}
	for in, want := range bad {
		if _, err := DecodeReply([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeReply(%q) = %v, want an error saying %q", in, err, want)
		}
	}
}

func FuzzDecodeReply(f *testing.F) {
	for _, s := range []string{`{"statuscode": 0, "statusmsg": "OK", "data": {"a": [1, 2.5, {"b": null}]}}`, `{"activate": true}`, `{`, `{"statuscode": 9}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeReply(b)
		if err == nil && (r.StatusCode < message.OK || r.StatusCode > message.UnknownError) {
			t.Errorf("accepted status %d", r.StatusCode)
		}
		_, _ = decodeActivation(b)
	})
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("é", 150) + "\nthe end\n"
	got := excerpt([]byte(long))
	if !strings.HasPrefix(got, ": ...") || !strings.HasSuffix(got, "é the end") || len(got) > len(": ...")+maxExcerpt || !utf8.ValidString(got) {
		t.Errorf("excerpt = %q", got)
	}
	if got := excerpt([]byte(" \n")); got != "" {
		t.Errorf("excerpt of blank stderr = %q", got)
	}
}

// The request file holds every field of the v1 protocol, and inputs decoded from Ruby (a
// Symbol, a Hash with non-String keys) as JSON writes them; optional inputs get their DDL
// default.
func TestRequestFile(t *testing.T) {
	l := newLib(t)
	l.agent("echo", `{"$schema": "https://choria.io/schemas/mcorpc/ddl/v1/agent.json",
 "metadata": {"name": "echo", "description": "d", "author": "a", "license": "l", "version": "1", "url": "u", "timeout": 5, "provider": "external"},
 "actions": [{"action": "show", "description": "d", "output": {"request": {"description": "r", "display_as": "R", "default": null}},
  "input": {"h": {"prompt": "h", "description": "h", "type": "hash", "optional": false},
            "opt": {"prompt": "o", "description": "o", "type": "string", "optional": true, "default": "dflt", "validation": ".", "maxlength": 10}}}]}`,
		activateThen(`printf '{"statuscode": 0, "data": {"request": %s, "argv3": "%s", "env": "%s"}}' "$(cat "$1")" "$3" "$CHORIA_EXTERNAL_PROTOCOL" > "$2"`), 0o755)
	n, w, _ := newNode(t, Options{LibDirs: []string{l.dir}})
	w.Scan(context.Background())
	in := map[string]any{"h": map[any]any{marshal.Symbol("sym"): int64(1), int64(2): []any{true, 1.5}}}
	rep := agenttest.Call(t, n.agent(t, "echo"), "show", in)
	if rep.Status != message.OK {
		t.Fatalf("show: %d %q", rep.Status, rep.Message)
	}
	req, _ := rep.Data["request"].(map[string]any)
	want := map[string]any{
		"$schema": "https://choria.io/schemas/mcorpc/external/v1/rpc_request.json", "protocol": RequestProtocol,
		"agent": "echo", "action": "show", "requestid": "0123456789abcdef0123456789abcdef", "senderid": "agenttest",
		"callerid": "uid=0", "collective": "mcollective", "ttl": int64(60),
		"data": map[string]any{"h": map[string]any{"sym": int64(1), "2": []any{true, 1.5}}, "opt": "dflt"},
	}
	for k, v := range want {
		if fmt.Sprint(req[k]) != fmt.Sprint(v) {
			t.Errorf("request %s = %#v, want %#v", k, req[k], v)
		}
	}
	if mt, _ := req["msgtime"].(int64); time.Since(time.Unix(mt, 0)) > time.Minute {
		t.Errorf("request msgtime = %v", req["msgtime"])
	}
	if rep.Data["argv3"] != RequestProtocol || rep.Data["env"] != RequestProtocol {
		t.Errorf("protocol: argv[3] %v, env %v", rep.Data["argv3"], rep.Data["env"])
	}
}
