package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func parseString(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse(strings.NewReader(src), "test.cfg")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func noEnv(string) (string, bool) { return "", false }

func TestDefaults(t *testing.T) {
	c := parseString(t, "# only a comment\n\n   \n")
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults("test.cfg")
	want.Identity = host
	want.pluginSrc = c.pluginSrc
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Collectives", c.Collectives, []string{"mcollective"}},
		{"MainCollective", c.MainCollective, "mcollective"},
		{"SecurityProvider", c.SecurityProvider, "psk"},
		{"LogLevel", c.LogLevel, "info"},
		{"FactSource", c.FactSource, "yaml"},
		{"ClassesFile", c.ClassesFile, "/var/lib/puppet/state/classes.txt"},
		{"TTL", c.TTL, 60},
		{"DirectAddressing", c.DirectAddressing, true},
		{"DirectAddressingThreshold", c.DirectAddressingThreshold, 10},
		{"DiscoveryTimeout", c.DiscoveryTimeout, 0},
		{"PublishTimeout", c.PublishTimeout, 2},
		{"RPCLimitMethod", c.RPCLimitMethod, "first"},
		{"DefaultBatchSize", c.DefaultBatchSize, 0},
		{"DefaultBatchSleepTime", c.DefaultBatchSleepTime, 1.0},
		{"Warnings", len(c.Warnings), 0},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestDebianFiles(t *testing.T) {
	for _, name := range []string{"server.cfg", "client.cfg"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name)
			c, err := Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.ConfigFile != path || c.Connector != "activemq" || c.SecurityProvider != "psk" ||
				c.Plugin["psk"] != "unset" || c.Plugin["yaml"] != "/etc/mcollective/facts.yaml" ||
				!reflect.DeepEqual(c.LibDir, []string{"/usr/share/mcollective/plugins"}) {
				t.Errorf("unexpected config: %+v", c)
			}
			if name == "server.cfg" && (!c.Daemonize || c.LogFile != "/var/log/mcollective.log" || c.LogLevel != "info") {
				t.Errorf("server fields: %+v", c)
			}
			if name == "client.cfg" && (c.LoggerType != "console" || c.LogLevel != "warn") {
				t.Errorf("client fields: %+v", c)
			}
			// The activemq connector is not implemented: each of its keys is named.
			if len(c.Warnings) != 5 {
				t.Errorf("want 5 warnings, got %q", c.Warnings)
			}
			for _, w := range c.Warnings {
				if !strings.Contains(w, `"plugin.activemq.pool.`) || !strings.HasPrefix(w, path+":") {
					t.Errorf("warning %q", w)
				}
				if strings.Contains(w, "marionette") {
					t.Errorf("warning shows a password: %q", w)
				}
			}
			if _, err := c.RabbitMQ(); err == nil || !strings.Contains(err.Error(), "plugin.rabbitmq.pool.size is required") {
				t.Errorf("RabbitMQ() error = %v", err)
			}
		})
	}
}

func TestSeedConfig(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "seed.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %q", c.Warnings)
	}
	if c.Identity != "client1.example" || !reflect.DeepEqual(c.Collectives, []string{"mcollective", "web"}) ||
		c.Connector != "rabbitmq" || c.SecurityProvider != "psk" || c.TTL != 30 ||
		c.DirectAddressingThreshold != 3 || c.DefaultBatchSleepTime != 2.5 || c.RPCLimitMethod != "random" ||
		len(c.LibDir) != 2 || c.Plugin["psk"] != "s3cr3t value" || c.Plugin["psk.callertype"] != "identity" ||
		c.PluginString("yaml", "") != "/etc/mcollective/facts.yaml:/etc/mcollective/more.yaml" {
		t.Errorf("unexpected config: %+v", c)
	}

	tests := []struct {
		name     string
		env      map[string]string
		wantUser string
		wantPass string
	}{
		{"from file", nil, "mcollective", "secret"},
		{"env wins", map[string]string{"STOMP_USER": "ops", "STOMP_PASSWORD": "pw"}, "ops", "pw"},
		{"empty env still wins", map[string]string{"STOMP_USER": ""}, "", "secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.LookupEnv = func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			r, err := c.RabbitMQ()
			if err != nil {
				t.Fatal(err)
			}
			want := Rabbit{
				VHost: "/mcollective",
				Pool: []Broker{
					{Host: "rabbit1.example", Port: 6163, User: tt.wantUser, Password: tt.wantPass},
					{Host: "rabbit2.example", Port: 61613, User: tt.wantUser, Password: tt.wantPass},
				},
				HeartbeatInterval:     30 * time.Second,
				Stomp10Fallback:       true,
				InitialReconnectDelay: 10 * time.Millisecond,
				BackOffMultiplier:     2,
				MaxReconnectDelay:     30 * time.Second,
				ConnectTimeout:        30 * time.Second,
			}
			if !reflect.DeepEqual(r, want) {
				t.Errorf("RabbitMQ():\n got %+v\nwant %+v", r, want)
			}
		})
	}
}

func TestSetenvOverride(t *testing.T) {
	t.Setenv("STOMP_USER", "envuser")
	c := parseString(t, "plugin.rabbitmq.pool.size = 1\nplugin.rabbitmq.pool.1.host = h\nplugin.rabbitmq.pool.1.user = u\n")
	r, err := c.RabbitMQ()
	if err != nil {
		t.Fatal(err)
	}
	if r.Pool[0].User != "envuser" {
		t.Errorf("user = %q, want envuser", r.Pool[0].User)
	}
}

func TestPluginDir(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "plugin.d-dir", "server.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"psk":                  "fromfile",
		"psk.callertype":       "gid",
		"rabbitmq.vhost":       "/fromdir",
		"rabbitmq.pool.size":   "1",
		"rabbitmq.pool.1.host": "localhost",
	}
	if !reflect.DeepEqual(c.Plugin, want) {
		t.Errorf("Plugin = %v, want %v", c.Plugin, want)
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		src   string
		check func(c *Config) bool
	}{
		{"ttl = 0x10", func(c *Config) bool { return c.TTL == 16 }},
		{"ttl=1_000", func(c *Config) bool { return c.TTL == 1000 }},
		{"  identity   =   a-b.c_d  \t", func(c *Config) bool { return c.Identity == "a-b.c_d" }},
		{"logfile = /tmp/x # not a comment", func(c *Config) bool { return c.LogFile == "/tmp/x # not a comment" }},
		{"plugin.x = a = b", func(c *Config) bool { return c.Plugin["x"] == "a = b" }},
		{"direct_addressing = NO", func(c *Config) bool { return !c.DirectAddressing }},
		{"daemonize = y", func(c *Config) bool { return c.Daemonize }},
		{"collectives = a, b ,c,", func(c *Config) bool { return reflect.DeepEqual(c.Collectives, []string{"a", "b", "c"}) }},
		{"collectives = a\nmain_collective = a", func(c *Config) bool { return c.MainCollective == "a" }},
		{"collectives = a", func(c *Config) bool { return c.MainCollective == "mcollective" }},
		{"libdir = /a:/b\nlibdir = /c", func(c *Config) bool { return reflect.DeepEqual(c.LibDir, []string{"/a", "/b", "/c"}) }},
		{"factsource = Facter\nconnector = RabbitMQ", func(c *Config) bool { return c.FactSource == "facter" && c.Connector == "rabbitmq" }},
		{"discovery_timeout = 5", func(c *Config) bool { return c.DiscoveryTimeout == 5 }},
		{"default_batch_size = 4\npublish_timeout = 3", func(c *Config) bool { return c.DefaultBatchSize == 4 && c.PublishTimeout == 3 }},
		{"line one = x\r\nttl = 5\r\n", func(c *Config) bool { return c.TTL == 5 }},
		{"  # indented comment", func(c *Config) bool { return len(c.Warnings) == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			c := parseString(t, tt.src)
			if !tt.check(c) {
				t.Errorf("unexpected result: %+v", c)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		src  string
		want []string // substrings of the error
	}{
		{"# c\nttl = abc", []string{"config: bad.cfg:2:", `"ttl"`, `want an integer, got "abc"`}},
		{"ttl = 0", []string{"bad.cfg:1:", `"ttl"`, "at least 1"}},
		{"ttl = 08", []string{"bad.cfg:1:", `"ttl"`}},
		{"\n\njust words", []string{"bad.cfg:3:", "want key = value"}},
		{" = x", []string{"bad.cfg:1:", "empty key"}},
		{"daemonize = maybe", []string{"bad.cfg:1:", `"daemonize"`, "boolean"}},
		{"default_batch_sleep_time = NaN", []string{`"default_batch_sleep_time"`, "number"}},
		{"libdir = /a:relative", []string{`"libdir"`, `"relative"`}},
		{"collectives = a,,b", []string{`"collectives"`, "empty collective"}},
		{"loglevel = verbose", []string{`"loglevel"`, "one of"}},
		{"rpclimitmethod = last", []string{`"rpclimitmethod"`}},
		{"identity = bad/name", []string{"identity", `"bad/name"`}},
		{"keeplogs = many", []string{"bad.cfg:1:", `"keeplogs"`}},
		{"ttl = " + strings.Repeat("9", 2<<20), []string{"bad.cfg:1:", "too long"}},
	}
	for _, tt := range tests {
		name := tt.src
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.src), "bad.cfg")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		src  string
		want []string // one substring per expected warning, in order
	}{
		{"foo.bar = 1", []string{`w.cfg:1: unsupported key "foo.bar" ignored`}},
		{"ttl = 5\nregisterinterval = 300", []string{`w.cfg:2: key "registerinterval" is not supported`}},
		{"registerinterval = 0", nil},
		{"rpcauthorization = 1\nrpcauthprovider = action_policy", nil},
		{"rpcaudit = 1\nrpcauditprovider = logfile\nplugin.rpcaudit.logfile = /f\nplugin.rpcaudit.format = json", nil},
		{"plugin.actionpolicy.allow_unconfigured = 1\nplugin.actionpolicy.policy_dir = /p", nil},
		{"plugin.actionpolicy.nosuch = 1", []string{`unsupported key "plugin.actionpolicy.nosuch"`}},
		{"registration = Meta", []string{`"registration"`}},
		{"topicprefix = /topic/", []string{`"topicprefix" is not supported (deprecated)`}},
		{"keeplogs = 5\nssl_cipher = aes", []string{`"keeplogs"`, `"ssl_cipher"`}},
		{"ttl =", []string{`w.cfg:1: key "ttl" has no value`}},
		{"plugin.stomp.pool.1.password = hunter2", []string{`unsupported key "plugin.stomp.pool.1.password"`}},
		{"plugin.rabbitmq.pool.1.hots = x", []string{`"plugin.rabbitmq.pool.1.hots"`}},
		{"plugin.rabbitmq.pool.1.ssl.fallback = 1", []string{`"plugin.rabbitmq.pool.1.ssl.fallback" is not supported (TLS is always verified)`}},
		{"plugin.rabbitmq.randomize = 1", []string{`"plugin.rabbitmq.randomize"`}},
		{"plugin.psk = x\nplugin.psk.callertype = uid\nplugin.yaml = /f\nplugin.puppet.splay = 1\nplugin.ssl_serializer = yaml", nil},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tt.src), "w.cfg")
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Warnings) != len(tt.want) {
				t.Fatalf("warnings = %q, want %d", c.Warnings, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(c.Warnings[i], w) {
					t.Errorf("warning %q does not contain %q", c.Warnings[i], w)
				}
				if strings.Contains(c.Warnings[i], "hunter2") {
					t.Errorf("warning shows a secret: %q", c.Warnings[i])
				}
			}
		})
	}
}

func TestAgentKeysKnown(t *testing.T) {
	for _, k := range []string{"mcod.state_dir", "shell.enabled", "shell.state_path", "service.provider", "package.provider", "nettest.ping_timeout"} {
		if _, known := pluginKeyStatus(k); !known {
			t.Errorf("plugin.%s is not known", k)
		}
	}
	// a misspelt security setting is warned about, never read as something else
	for _, k := range []string{"shell.enable", "shell.enabled.", "shells.enabled"} {
		if _, known := pluginKeyStatus(k); known {
			t.Errorf("plugin.%s is known", k)
		}
	}
}
