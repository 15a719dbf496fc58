package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseBool(t *testing.T) {
	tests := []struct {
		in      string
		want    bool
		wantErr bool
	}{
		{"1", true, false}, {"y", true, false}, {"Yes", true, false}, {"TRUE", true, false}, {"t", false, true},
		{" true ", true, false},
		{"0", false, false}, {"n", false, false}, {"no", false, false}, {"False", false, false}, {"F", false, true},
		{"", false, true}, {"2", false, true}, {"on", false, true}, {"yess", false, true}, {"true\nfalse", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseBool(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseBool(%q) = %v, %v; want %v, err=%v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestPluginHelpers(t *testing.T) {
	c := parseString(t, `plugin.a.int = 42
plugin.a.hex = 0x20
plugin.a.bool = yes
plugin.a.float = 0.25
plugin.a.word = hello world
plugin.a.password = hunter2
`)
	tests := []struct {
		name    string
		get     func() (any, error)
		want    any
		wantErr string
	}{
		{"string", func() (any, error) { return c.PluginString("a.word", "d"), nil }, "hello world", ""},
		{"string default", func() (any, error) { return c.PluginString("a.none", "d"), nil }, "d", ""},
		{"int", func() (any, error) { return c.PluginInt("a.int", 1) }, 42, ""},
		{"int hex", func() (any, error) { return c.PluginInt("a.hex", 1) }, 32, ""},
		{"int default", func() (any, error) { return c.PluginInt("a.none", 7) }, 7, ""},
		{"int bad", func() (any, error) { return c.PluginInt("a.word", 1) }, 0, `test.cfg:5: key "plugin.a.word": want an integer, got "hello world"`},
		{"bool", func() (any, error) { return c.PluginBool("a.bool", false) }, true, ""},
		{"bool default", func() (any, error) { return c.PluginBool("a.none", true) }, true, ""},
		{"bool bad", func() (any, error) { return c.PluginBool("a.int", false) }, false, `test.cfg:1: key "plugin.a.int"`},
		{"float", func() (any, error) { return c.PluginFloat("a.float", 1) }, 0.25, ""},
		{"float int", func() (any, error) { return c.PluginFloat("a.int", 1) }, 42.0, ""},
		{"float default", func() (any, error) { return c.PluginFloat("a.none", 1.5) }, 1.5, ""},
		{"float bad", func() (any, error) { return c.PluginFloat("a.bool", 1) }, 0.0, `"plugin.a.bool"`},
		{"secret hidden", func() (any, error) { return c.PluginInt("a.password", 1) }, 0, `"plugin.a.password": invalid value (not shown)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.get()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error shows a secret: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestRabbitMQ(t *testing.T) {
	const pool1 = "plugin.rabbitmq.pool.size = 1\nplugin.rabbitmq.pool.1.host = h\n"
	tests := []struct {
		name    string
		src     string
		env     map[string]string
		check   func(r Rabbit) bool
		wantErr string
	}{
		{"defaults", pool1, nil, func(r Rabbit) bool {
			return r.VHost == "/" && r.HeartbeatInterval == 0 && r.Stomp10Fallback && !r.UseReplyExchange &&
				!r.AgentsMultiplex && !r.Base64 && r.MaxReconnectAttempts == 0 && r.ConnectTimeout == 30*time.Second &&
				len(r.Pool) == 1 && r.Pool[0] == Broker{Host: "h", Port: 61613}
		}, ""},
		{"heartbeat kept", pool1 + "plugin.rabbitmq.heartbeat_interval = 45", nil,
			func(r Rabbit) bool { return r.HeartbeatInterval == 45*time.Second }, ""},
		{"heartbeat negative off", pool1 + "plugin.rabbitmq.heartbeat_interval = -1", nil,
			func(r Rabbit) bool { return r.HeartbeatInterval == 0 }, ""},
		{"knobs", pool1 + `plugin.rabbitmq.stomp_1_0_fallback = 0
plugin.rabbitmq.use_reply_exchange = 1
plugin.rabbitmq.agents_multiplex = true
plugin.rabbitmq.base64 = yes
plugin.rabbitmq.initial_reconnect_delay = 0.5
plugin.rabbitmq.back_off_multiplier = 3
plugin.rabbitmq.max_reconnect_delay = 60
plugin.rabbitmq.max_reconnect_attempts = 5
plugin.rabbitmq.connect_timeout = 5`, nil, func(r Rabbit) bool {
			return !r.Stomp10Fallback && r.UseReplyExchange && r.AgentsMultiplex && r.Base64 &&
				r.InitialReconnectDelay == 500*time.Millisecond && r.BackOffMultiplier == 3 &&
				r.MaxReconnectDelay == time.Minute && r.MaxReconnectAttempts == 5 && r.ConnectTimeout == 5*time.Second
		}, ""},
		{"ssl", pool1 + `plugin.rabbitmq.pool.1.ssl = 1
plugin.rabbitmq.pool.1.ssl.ca = /ca.pem
plugin.rabbitmq.pool.1.ssl.cert = /cert.pem
plugin.rabbitmq.pool.1.ssl.key = /key.pem`, map[string]string{"MCOLLECTIVE_RABBITMQ_POOL1_SSL_KEY": "/env.key"},
			func(r Rabbit) bool {
				b := r.Pool[0]
				return b.SSL && b.SSLCA == "/ca.pem" && b.SSLCert == "/cert.pem" && b.SSLKey == "/env.key"
			}, ""},
		{"no pool size", "plugin.rabbitmq.vhost = /x", nil, nil, "test.cfg: plugin.rabbitmq.pool.size is required"},
		{"zero pool size", "plugin.rabbitmq.pool.size = 0", nil, nil, `test.cfg:1: key "plugin.rabbitmq.pool.size"`},
		{"bad pool size", "\nplugin.rabbitmq.pool.size = two", nil, nil, `test.cfg:2: key "plugin.rabbitmq.pool.size": want an integer`},
		{"missing host", "plugin.rabbitmq.pool.size = 2\nplugin.rabbitmq.pool.1.host = h", nil, nil, "plugin.rabbitmq.pool.2.host is required"},
		{"bad port", pool1 + "plugin.rabbitmq.pool.1.port = 70000", nil, nil, `test.cfg:3: key "plugin.rabbitmq.pool.1.port"`},
		{"ssl incomplete", pool1 + "plugin.rabbitmq.pool.1.ssl = 1\nplugin.rabbitmq.pool.1.ssl.ca = /ca", nil, nil,
			"plugin.rabbitmq.pool.1.ssl needs plugin.rabbitmq.pool.1.ssl.ca, plugin.rabbitmq.pool.1.ssl.cert"},
		{"bad bool", pool1 + "plugin.rabbitmq.base64 = maybe", nil, nil, `"plugin.rabbitmq.base64"`},
		{"bad delay", pool1 + "plugin.rabbitmq.max_reconnect_delay = -1", nil, nil, `"plugin.rabbitmq.max_reconnect_delay"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseString(t, tt.src)
			c.LookupEnv = func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			r, err := c.RabbitMQ()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(r) {
				t.Errorf("unexpected %+v", r)
			}
		})
	}
}

func TestBrokerStringHidesPassword(t *testing.T) {
	b := Broker{Host: "h", Port: 1, User: "u", Password: "hunter2"}
	if s := b.String(); strings.Contains(s, "hunter2") || s != "stomp://u@h:1" {
		t.Errorf("String() = %q", s)
	}
}

func TestRabbitMQMaxBody(t *testing.T) {
	const pool1 = "plugin.rabbitmq.pool.size = 1\nplugin.rabbitmq.pool.1.host = h\n"
	tests := []struct {
		src     string
		want    int
		wantErr string
	}{
		{"", 0, ""},
		{"plugin.rabbitmq.max_body = 65536\n", 65536, ""},
		{"plugin.rabbitmq.max_body = 100\n", 0, "want 1024"},
		{"plugin.rabbitmq.max_body = lots\n", 0, "integer"},
	}
	for _, tt := range tests {
		c, err := Parse(strings.NewReader(pool1+tt.src), "c.cfg")
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Warnings) != 0 {
			t.Errorf("%q: warnings %q", tt.src, c.Warnings)
		}
		r, err := c.RabbitMQ()
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err = %v, want %q", tt.src, err, tt.wantErr)
			}
		case err != nil || r.MaxBody != tt.want:
			t.Errorf("%q: MaxBody = %d, err %v; want %d", tt.src, r.MaxBody, err, tt.want)
		}
	}
}

func TestPluginChoice(t *testing.T) {
	c := &Config{Plugin: map[string]string{"a": "quiet", "b": "fast"}}
	if v, err := c.PluginChoice("a", "timeout", "quiet"); v != "quiet" || err != nil {
		t.Fatalf("a = %q, %v", v, err)
	}
	if v, err := c.PluginChoice("unset", "timeout", "quiet"); v != "timeout" || err != nil {
		t.Fatalf("unset = %q, %v", v, err)
	}
	if _, err := c.PluginChoice("b", "timeout", "quiet"); err == nil ||
		!strings.Contains(err.Error(), `"plugin.b"`) || !strings.Contains(err.Error(), `"quiet"`) {
		t.Fatalf("b: %v", err)
	}
}
