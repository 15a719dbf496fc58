package nettest

import (
	"context"
	"errors"
	"math/big"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/agent/agenttest"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/testenv"
)

// call runs an action as mcod's pipeline does (agenttest.Call).
func call(t *testing.T, a *agent.Agent, action string, in map[string]any) *agent.Reply {
	t.Helper()
	return agenttest.Call(t, a, action, in)
}

func newAgent(t *testing.T, o Options) *agent.Agent {
	t.Helper()
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestConnectOpenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	port := int64(l.Addr().(*net.TCPAddr).Port)
	rep := call(t, newAgent(t, Options{}), "connect", map[string]any{"fqdn": "127.0.0.1", "port": port})
	if rep.Status != message.OK {
		t.Fatalf("status = %v %q", rep.Status, rep.Message)
	}
	if rep.Data["connect"] != true || rep.Data["connect_status"] != StatusConnected {
		t.Errorf("reply = %v, want connected", rep.Data)
	}
	if s, ok := rep.Data["connect_time"].(float64); !ok || s <= 0 || s > 2 {
		t.Errorf("connect_time = %#v, want seconds as a float in (0, 2]", rep.Data["connect_time"])
	}
}

func TestConnectClosedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := int64(l.Addr().(*net.TCPAddr).Port)
	_ = l.Close()
	rep := call(t, newAgent(t, Options{}), "connect", map[string]any{"fqdn": "127.0.0.1", "port": port})
	if rep.Status != message.OK {
		t.Fatalf("status = %v %q, want OK as the Ruby agent replies", rep.Status, rep.Message)
	}
	if rep.Data["connect"] != false || rep.Data["connect_status"] != StatusRefused || rep.Data["connect_time"] != nil {
		t.Errorf("reply = %v, want refused with no time", rep.Data)
	}
}

func TestConnectTimeout(t *testing.T) {
	block := func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	a := newAgent(t, Options{Dial: block, ConnectTimeout: 50 * time.Millisecond})
	rep := call(t, a, "connect", map[string]any{"fqdn": "192.0.2.1", "port": int64(81)})
	if rep.Status != message.OK || rep.Data["connect"] != false || rep.Data["connect_status"] != StatusTimeout || rep.Data["connect_time"] != nil {
		t.Errorf("reply = %v %q %v, want a timeout", rep.Status, rep.Message, rep.Data)
	}
}

func TestConnectResolvesName(t *testing.T) {
	var dialed string
	dial := func(_ context.Context, _, addr string) (net.Conn, error) {
		dialed = addr
		return nil, errors.New("connection refused")
	}
	resolve := func(_ context.Context, host string) ([]string, error) {
		if host == "web1.example.com" {
			return []string{"10.1.2.3", "10.1.2.4"}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	a := newAgent(t, Options{Dial: dial, Resolve: resolve})
	rep := call(t, a, "connect", map[string]any{"fqdn": "web1.example.com", "port": int64(443)})
	if dialed != "10.1.2.3:443" || rep.Data["connect_status"] != StatusRefused {
		t.Errorf("dialed %q, reply %v; want the first address and refused", dialed, rep.Data)
	}
	for _, action := range []string{"connect", "ping"} {
		data := map[string]any{"fqdn": "nowhere.example.com", "port": int64(1)}
		if action == "ping" {
			delete(data, "port")
		}
		rep = call(t, a, action, data)
		if rep.Status != message.Aborted || rep.Message != msgCannotResolve {
			t.Errorf("%s of an unknown name = %v %q, want Aborted %q", action, rep.Status, rep.Message, msgCannotResolve)
		}
	}
}

// The real resolver: a name under .invalid (RFC 6761) never resolves.
func TestConnectNameDoesNotResolve(t *testing.T) {
	rep := call(t, newAgent(t, Options{}), "connect", map[string]any{"fqdn": "no-such-host.invalid", "port": int64(80)})
	if rep.Status != message.Aborted || rep.Message != msgCannotResolve {
		t.Errorf("reply = %v %q, want Aborted %q", rep.Status, rep.Message, msgCannotResolve)
	}
	if rep.Data["connect"] != nil || rep.Data["connect_status"] != nil {
		t.Errorf("data = %v, want the DDL defaults (nil)", rep.Data)
	}
}

func TestPingLoopback(t *testing.T) {
	if _, err := exec.LookPath("ping"); err != nil {
		testenv.SkipOrFail(t, "no ping binary: apt-get install iputils-ping (.ci/setup-services does): %v", err)
		return
	}
	rep := call(t, newAgent(t, Options{}), "ping", map[string]any{"fqdn": "127.0.0.1"})
	if rep.Status != message.OK {
		t.Fatalf("ping 127.0.0.1 = %v %q", rep.Status, rep.Message)
	}
	if rtt, ok := rep.Data["rtt"].(float64); !ok || rtt < 0 || rtt > 5000 {
		t.Errorf("rtt = %#v, want milliseconds as a float", rep.Data["rtt"])
	}
}

func TestPingThroughSeam(t *testing.T) {
	var argv []string
	out := "PING 10.0.0.9 (10.0.0.9) 56(84) bytes of data.\n64 bytes from 10.0.0.9: icmp_seq=1 ttl=64 time=12.5 ms\n"
	run := func(_ context.Context, name string, args ...string) ([]byte, []byte, int, error) {
		argv = append([]string{name}, args...)
		return []byte(out), nil, 0, nil
	}
	a := newAgent(t, Options{Run: run, PingCommand: "/usr/bin/ping"})
	rep := call(t, a, "ping", map[string]any{"fqdn": "10.0.0.9"})
	if rep.Status != message.OK || rep.Data["rtt"] != 12.5 {
		t.Errorf("reply = %v %q %v, want rtt 12.5", rep.Status, rep.Message, rep.Data)
	}
	if got := strings.Join(argv, " "); got != "/usr/bin/ping -n -c 1 -W 5 -- 10.0.0.9" {
		t.Errorf("argv = %q", got)
	}

	for _, tc := range []struct {
		name   string
		out    string
		exit   int
		err    error
		prefix string
	}{
		{"no reply", "1 packets transmitted, 0 received", 1, nil, msgCannotReach},
		{"ping error", "", 2, nil, msgCannotReach + ": /usr/bin/ping exited 2"},
		{"not installed", "", -1, exec.ErrNotFound, msgCannotReach + ": "},
		{"unparsable", "weird output", 0, nil, msgCannotReach + ": no round trip time"},
	} {
		run := func(context.Context, string, ...string) ([]byte, []byte, int, error) {
			return []byte(tc.out), []byte("ping: oops\n"), tc.exit, tc.err
		}
		rep := call(t, newAgent(t, Options{Run: run, PingCommand: "/usr/bin/ping"}), "ping", map[string]any{"fqdn": "10.0.0.9"})
		if rep.Status != message.Aborted || !strings.HasPrefix(rep.Message, tc.prefix) || rep.Data["rtt"] != nil {
			t.Errorf("%s: reply = %v %q %v, want Aborted %q...", tc.name, rep.Status, rep.Message, rep.Data, tc.prefix)
		}
		if tc.exit == 1 && rep.Message != msgCannotReach {
			t.Errorf("%s: message %q, want exactly %q", tc.name, rep.Message, msgCannotReach)
		}
	}
}

func TestPingWaitCutToDeadline(t *testing.T) {
	var argv []string
	run := func(_ context.Context, name string, args ...string) ([]byte, []byte, int, error) {
		argv = args
		return []byte("time=1 ms"), nil, 0, nil
	}
	a := newAgent(t, Options{Run: run})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	rep := &agent.Reply{Data: a.DDL.Defaults("ping")}
	a.Actions["ping"](ctx, &agent.Request{Data: map[string]any{"fqdn": "10.0.0.9"}}, rep)
	if strings.Join(argv, " ") != "-n -c 1 -W 2 -- 10.0.0.9" || rep.Data["rtt"] != 1.0 {
		t.Errorf("argv = %q, rtt = %v; want -W 2 for 1.5s left", argv, rep.Data["rtt"])
	}
}

func TestBadInputsRefused(t *testing.T) {
	a := newAgent(t, Options{})
	for _, tc := range []struct {
		action string
		data   map[string]any
	}{
		{"ping", map[string]any{}},
		{"ping", map[string]any{"fqdn": "bad host!"}},
		{"ping", map[string]any{"fqdn": "-leading.example.com"}},
		{"ping", map[string]any{"fqdn": "a;rm -rf /"}},
		{"ping", map[string]any{"fqdn": strings.Repeat("a", 81)}},
		{"ping", map[string]any{"fqdn": 7}},
		{"connect", map[string]any{"fqdn": "example.com"}},
		{"connect", map[string]any{"fqdn": "example.com", "port": "80"}},
		{"connect", map[string]any{"fqdn": "example.com", "port": 1.5}},
		{"connect", map[string]any{"fqdn": "1.2.3.4.5", "port": int64(80)}},
		{"traceroute", map[string]any{"fqdn": "example.com"}},
	} {
		if err := a.DDL.Validate(tc.action, tc.data); err == nil {
			t.Errorf("Validate(%s, %v) accepted bad input", tc.action, tc.data)
		}
	}
	for _, ok := range []string{"example.com", "web-1.example.com", "localhost", "10.0.0.1", "a"} {
		if err := a.DDL.Validate("ping", map[string]any{"fqdn": ok}); err != nil {
			t.Errorf("Validate(ping, %s) = %v", ok, err)
		}
	}
}

func TestDDLContract(t *testing.T) {
	d := newAgent(t, Options{}).DDL
	if d.Metadata.Name != "nettest" || d.Metadata.Timeout != 60 || d.Metadata.Version != "4.1.0" {
		t.Errorf("metadata = %+v", d.Metadata)
	}
	ping, conn := d.Actions["ping"], d.Actions["connect"]
	if len(d.Actions) != 2 || ping == nil || conn == nil {
		t.Fatalf("actions = %v", d.Actions)
	}
	if in := ping.Input["fqdn"]; in.Type != "string" || in.MaxLength != 80 || in.Optional || in.Validation != ":nettest_fqdn" {
		t.Errorf("ping fqdn = %+v", in)
	}
	if in := conn.Input["port"]; in.Type != "integer" || in.Optional {
		t.Errorf("connect port = %+v", in)
	}
	if len(ping.Output) != 1 || ping.Output["rtt"] == nil || len(conn.Output) != 3 {
		t.Errorf("outputs = %v %v", ping.Output, conn.Output)
	}
	if ag := ping.Aggregate; len(ag) != 1 || ag[0].Function != "nettest_mma" || ag[0].Output != "rtt" || ag[0].Args["format"] != "Min: %.3fms  Max: %.3fms  Average: %.3fms" {
		t.Errorf("ping aggregate = %+v", ag)
	}
	if ag := conn.Aggregate; len(ag) != 1 || ag[0].Function != "summary" || ag[0].Output != "connect_status" {
		t.Errorf("connect aggregate = %+v", ag)
	}
}

func TestOptionsFromConfig(t *testing.T) {
	o, err := OptionsFromConfig(&config.Config{Plugin: map[string]string{}})
	def := DefaultOptions()
	if err != nil || o.PingCommand != def.PingCommand || o.PingTimeout != def.PingTimeout || o.ConnectTimeout != def.ConnectTimeout {
		t.Errorf("OptionsFromConfig(empty) = %+v, %v; want the defaults", o, err)
	}
	o, err = OptionsFromConfig(&config.Config{Plugin: map[string]string{
		"nettest.ping_command": "/bin/ping", "nettest.ping_timeout": "3", "nettest.connect_timeout": "0.5",
	}})
	if err != nil || o.PingCommand != "/bin/ping" || o.PingTimeout != 3*time.Second || o.ConnectTimeout != 500*time.Millisecond {
		t.Errorf("OptionsFromConfig = %+v, %v", o, err)
	}
	for _, bad := range []map[string]string{{"nettest.ping_timeout": "soon"}, {"nettest.connect_timeout": "0"}} {
		if _, err := OptionsFromConfig(&config.Config{Plugin: bad}); err == nil {
			t.Errorf("OptionsFromConfig(%v) accepted it", bad)
		}
	}
}

func TestConnectPortOutOfRange(t *testing.T) {
	dial := func(context.Context, string, string) (net.Conn, error) {
		t.Error("dialed a port out of range")
		return nil, errors.New("no")
	}
	a := newAgent(t, Options{Dial: dial})
	for _, p := range []any{int64(70000), int64(-1), new(big.Int).Lsh(big.NewInt(1), 70)} {
		rep := call(t, a, "connect", map[string]any{"fqdn": "10.0.0.1", "port": p})
		if rep.Status != message.OK || rep.Data["connect_status"] != StatusRefused || rep.Data["connect"] != false {
			t.Errorf("port %v: reply = %v %q %v, want refused", p, rep.Status, rep.Message, rep.Data)
		}
	}
}
