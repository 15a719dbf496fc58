package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/broker"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/testenv"
)

// The embedded-broker tests need no RabbitMQ: one mcod hosts the broker, a second mcod and
// stock mco connect to it.

var embeddedAddrRE = regexp.MustCompile(`embedded broker started"? addr=(\S+)`)

func TestMcoAgainstEmbeddedBroker(t *testing.T) {
	testenv.RequireMCO(t)
	f := &fleet{t: t, dir: t.TempDir(), collective: "mcollective", psk: "embpsk", logs: map[string]string{}}
	common := `securityprovider = psk
plugin.psk = embpsk
connector = rabbitmq
`
	// The first node hosts the broker on a free port and, with no pool configured, connects
	// to it as mcollective/secret.
	f.startProcess(t, nodeSpec{identity: "emb1", facts: "role: web\nrack: r1\n", classes: []string{"base", "web::nginx"}},
		common, "--embedded-broker", "--broker-listen", "127.0.0.1:0")
	b, err := os.ReadFile(f.logs["emb1"])
	if err != nil {
		t.Fatal(err)
	}
	m := embeddedAddrRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("emb1 never logged the broker address:\n%s", b)
	}
	host, port, _ := strings.Cut(string(m[1]), ":")
	pool := fmt.Sprintf(`plugin.rabbitmq.pool.size = 1
plugin.rabbitmq.pool.1.host = %s
plugin.rabbitmq.pool.1.port = %s
plugin.rabbitmq.pool.1.user = mcollective
plugin.rabbitmq.pool.1.password = secret
plugin.rabbitmq.heartbeat_interval = 30
plugin.rabbitmq.stomp_1_0_fallback = false
plugin.rabbitmq.use_reply_exchange = true
`, host, port)
	// The second node is an ordinary mcod whose pool is the first one's broker.
	f.startProcess(t, nodeSpec{identity: "emb2", facts: "role: db\nrack: r2\n", classes: []string{"base", "db::postgres"}},
		common+pool)
	write(t, filepath.Join(f.dir, "client.cfg"), common+pool+`identity = mco-embedded-client
libdir = /usr/share/mcollective/plugins
logger_type = console
loglevel = error
`)

	t.Run("ping", func(t *testing.T) {
		out := f.mco(t, "ping")
		for _, id := range []string{"emb1", "emb2"} {
			if !regexp.MustCompile(`(?m)^` + id + `\s+time=\d+\.\d+ ms`).MatchString(out) {
				t.Errorf("mco ping: no time line for %s:\n%s", id, out)
			}
		}
		if !strings.Contains(out, "2 replies max:") {
			t.Errorf("mco ping: want 2 replies:\n%s", out)
		}
	})
	t.Run("find", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want []string
		}{
			{nil, []string{"emb1", "emb2"}},
			{[]string{"-C", "db::postgres"}, []string{"emb2"}},
			{[]string{"-F", "role=web"}, []string{"emb1"}},
		} {
			got := lines(f.mco(t, append([]string{"find"}, tc.args...)...))
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("mco find %s = %v, want %v", strings.Join(tc.args, " "), got, tc.want)
			}
		}
	})
	t.Run("rpc get_fact", func(t *testing.T) {
		r := f.mcoRPC(t, "rpcutil", "get_fact", "fact=rack")
		if len(r) != 2 || r[0].Sender != "emb1" || r[0].Data["value"] != "r1" || r[1].Data["value"] != "r2" {
			t.Fatalf("get_fact rack: %+v", r)
		}
	})
	t.Run("wrong password is refused", func(t *testing.T) {
		bad := filepath.Join(f.dir, "bad.cfg")
		write(t, bad, strings.Replace(common+pool, "password = secret", "password = nope", 1)+"identity = bad\nlogger_type = console\nloglevel = error\nplugin.rabbitmq.max_reconnect_attempts = 1\n")
		cmd := exec.Command(testenv.RequireMCO(t), "ping", "--config", bad)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("mco ping with a wrong password succeeded:\n%s", out)
		}
	})
}

func TestEmbeddedBrokerBadListenAddress(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "server.cfg")
	write(t, cfg, `identity = x
securityprovider = psk
plugin.psk = k
connector = rabbitmq
logger_type = console
`)
	var stderr bytes.Buffer
	code := run([]string{"--config", cfg, "--embedded-broker", "--broker-listen", "127.0.0.1:notaport"}, &stderr)
	if code != exitFailure || !strings.Contains(stderr.String(), "embedded broker") {
		t.Fatalf("bad listen address: exit %d, stderr:\n%s", code, stderr.String())
	}
}

// A non-loopback embedded broker needs configured, non-empty logins: mcod refuses to start
// without them and says which keys to set, instead of admitting mcollective/secret (no pool)
// or an empty login (a pool entry without .user and .password).
func TestEmbeddedBrokerOpenListenerNeedsLogins(t *testing.T) {
	base := `identity = x
securityprovider = psk
plugin.psk = k
connector = rabbitmq
logger_type = console
`
	for _, tc := range []struct{ name, cfg string }{
		{"no pool", ""},
		{"pool without logins", "plugin.rabbitmq.pool.size = 1\nplugin.rabbitmq.pool.1.host = 127.0.0.1\n"},
		{"pool with an empty password", "plugin.rabbitmq.pool.size = 1\nplugin.rabbitmq.pool.1.host = 127.0.0.1\nplugin.rabbitmq.pool.1.user = u\nplugin.rabbitmq.pool.1.password =\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "server.cfg")
			write(t, cfg, base+tc.cfg)
			var stderr syncBuffer
			done := make(chan int, 1)
			go func() {
				done <- run([]string{"--config", cfg, "--embedded-broker", "--broker-listen", "0.0.0.0:0"}, &stderr)
			}()
			select {
			case code := <-done:
				if code != exitUsage || !strings.Contains(stderr.String(), "plugin.rabbitmq.pool.1.user") ||
					!strings.Contains(stderr.String(), "not a loopback address") {
					t.Fatalf("exit %d, want %d with a message naming the keys to set; stderr:\n%s", code, exitUsage, stderr.String())
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("mcod started an embedded broker on 0.0.0.0 without configured logins; stderr:\n%s", stderr.String())
			}
		})
	}
}

func TestConnectionLimitFitsTheOpenFileLimit(t *testing.T) {
	for _, tc := range []struct {
		limit, fds, want int
		lowered          bool
	}{
		{0, 0, broker.DefaultMaxConnections, false},
		{0, 1 << 20, broker.DefaultMaxConnections, false},
		{0, 1024, 1024 - broker.LoopbackReserve - fdHeadroom, true},
		{900, 1024, 1024 - broker.LoopbackReserve - fdHeadroom, true},
		{500, 1024, 500, false},
		{100, 1024, 100, false},
		{100, 64, 1, true},
	} {
		got, lowered := connectionLimit(tc.limit, tc.fds)
		if got != tc.want || lowered != tc.lowered {
			t.Errorf("connectionLimit(%d, %d) = %d, %v; want %d, %v", tc.limit, tc.fds, got, lowered, tc.want, tc.lowered)
		}
	}
}

func TestBrokerLimitSettings(t *testing.T) {
	cfg, err := config.Parse(strings.NewReader(`plugin.mcod.broker.max_connections = 20000
plugin.mcod.broker.max_frame_bytes = 1048576
plugin.mcod.broker.outbox_bytes = 8388608
plugin.mcod.broker.connect_timeout = 2.5
`), "server.cfg")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("warnings for the broker's keys: %q", cfg.Warnings)
	}
	o, err := brokerLimits(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if o.MaxConnections != 20000 || o.MaxFrameBytes != 1<<20 || o.OutboxBytes != 8<<20 || o.ConnectTimeout != 2500*time.Millisecond {
		t.Errorf("limits %+v", o)
	}
	for _, bad := range []string{
		"plugin.mcod.broker.max_connections = 0",
		"plugin.mcod.broker.max_connections = many",
		"plugin.mcod.broker.max_frame_bytes = 100",
		"plugin.mcod.broker.outbox_bytes = 1",
		"plugin.mcod.broker.connect_timeout = 0",
	} {
		cfg, err := config.Parse(strings.NewReader(bad+"\n"), "server.cfg")
		if err != nil {
			t.Fatal(err)
		}
		key, _, _ := strings.Cut(bad, " ")
		if _, err := brokerLimits(cfg); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: err %v, want one naming %s", bad, err, key)
		}
	}
}
