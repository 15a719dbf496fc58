package config

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// errHidden replaces a parse error whose message would show a secret value.
var errHidden = errors.New("invalid value (not shown)")

// secret reports whether a plugin key's value must never appear in messages.
func secret(key string) bool {
	k := strings.ToLower(key)
	return k == "psk" || strings.Contains(k, "password") || strings.Contains(k, "passcode") ||
		strings.Contains(k, "secret") || strings.Contains(k, "token")
}

// pluginErr wraps err with where key was set.
func (c *Config) pluginErr(key string, err error) error {
	if secret(key) {
		err = errHidden
	}
	loc := c.pluginSrc[key]
	if loc == "" {
		loc = c.ConfigFile
	}
	return fmt.Errorf("config: %s: key %q: %w", loc, "plugin."+key, err)
}

// PluginString returns the plugin setting key (without "plugin."), or def when unset.
func (c *Config) PluginString(key, def string) string {
	if v, ok := c.Plugin[key]; ok {
		return v
	}
	return def
}

// PluginInt returns the plugin setting key parsed as Ruby's Integer(), or def when unset.
func (c *Config) PluginInt(key string, def int) (int, error) {
	v, ok := c.Plugin[key]
	if !ok {
		return def, nil
	}
	n, err := ParseInt(v)
	if err != nil {
		return 0, c.pluginErr(key, err)
	}
	return n, nil
}

// PluginChoice returns the plugin setting key, which must be one of allowed, or allowed[0]
// (the default) when unset.
func (c *Config) PluginChoice(key string, allowed ...string) (string, error) {
	v, ok := c.Plugin[key]
	if !ok {
		return allowed[0], nil
	}
	if slices.Contains(allowed, v) {
		return v, nil
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = strconv.Quote(a)
	}
	return "", c.pluginErr(key, fmt.Errorf("want one of %s (the first is the default), got %q", strings.Join(quoted, ", "), v))
}

// PluginBool returns the plugin setting key parsed as MCollective's Util.str_to_bool, or def
// when unset.
func (c *Config) PluginBool(key string, def bool) (bool, error) {
	v, ok := c.Plugin[key]
	if !ok {
		return def, nil
	}
	b, err := ParseBool(v)
	if err != nil {
		return false, c.pluginErr(key, err)
	}
	return b, nil
}

// PluginFloat returns the plugin setting key parsed as Ruby's Float(), or def when unset.
func (c *Config) PluginFloat(key string, def float64) (float64, error) {
	v, ok := c.Plugin[key]
	if !ok {
		return def, nil
	}
	f, err := ParseFloat(v)
	if err != nil {
		return 0, c.pluginErr(key, err)
	}
	return f, nil
}

// PluginSeconds returns the plugin setting key as a non-negative number of seconds (a
// fraction allowed), or def seconds when unset.
func (c *Config) PluginSeconds(key string, def float64) (time.Duration, error) {
	f, err := c.PluginFloat(key, def)
	if err != nil {
		return 0, err
	}
	if f < 0 || f > float64(1<<62)/float64(time.Second) {
		return 0, c.pluginErr(key, fmt.Errorf("want a non-negative number of seconds, got %v", f))
	}
	return time.Duration(f * float64(time.Second)), nil
}

// Broker is one member of the RabbitMQ pool (plugin.rabbitmq.pool.N.*).
type Broker struct {
	Host     string
	Port     int    // 61613 by default
	User     string // STOMP_USER overrides pool.N.user
	Password string // STOMP_PASSWORD overrides pool.N.password
	SSL      bool   // pool.N.ssl; then SSLCA, SSLCert and SSLKey are all set
	SSLCA    string // pool.N.ssl.ca: CA file(s), comma-separated
	SSLCert  string // MCOLLECTIVE_RABBITMQ_POOLN_SSL_CERT overrides pool.N.ssl.cert
	SSLKey   string // MCOLLECTIVE_RABBITMQ_POOLN_SSL_KEY overrides pool.N.ssl.key
}

// String describes the broker without its password.
func (b Broker) String() string {
	scheme := "stomp"
	if b.SSL {
		scheme = "stomp+ssl"
	}
	return fmt.Sprintf("%s://%s@%s", scheme, b.User, net.JoinHostPort(b.Host, strconv.Itoa(b.Port)))
}

// Rabbit is the rabbitmq connector's settings (connector/rabbitmq.rb), with its defaults.
type Rabbit struct {
	VHost string   // plugin.rabbitmq.vhost, sent as the CONNECT host header ("/")
	Pool  []Broker // plugin.rabbitmq.pool.1 .. pool.size
	// HeartbeatInterval is zero (no STOMP 1.1 heartbeats) or at least 30s, as rabbitmq.rb forces.
	HeartbeatInterval time.Duration
	// Stomp10Fallback offers STOMP 1.0 as well as 1.1 when heartbeats are on (true).
	Stomp10Fallback bool
	// UseReplyExchange sends replies through the mcollective_reply exchange (false).
	UseReplyExchange bool
	// AgentsMultiplex subscribes to one broadcast destination per collective (false).
	AgentsMultiplex       bool
	InitialReconnectDelay time.Duration // 10ms
	BackOffMultiplier     float64       // 2
	MaxReconnectDelay     time.Duration // 30s
	// MaxReconnectAttempts is the retry limit; 0 means retry forever, as in the STOMP gem.
	MaxReconnectAttempts int
	ConnectTimeout       time.Duration // 30s
	// Base64 encodes whole payloads in Base64 (false); both sides must agree.
	Base64 bool
	// MaxBody is the largest message body, in bytes, handed to the node or client
	// (plugin.rabbitmq.max_body, not an MCollective key); larger ones are dropped and logged.
	// 0 means the connector's default (8 MiB).
	MaxBody int
}

// RabbitMQ reads the plugin.rabbitmq.* settings. pool.size and every pool.N.host are required;
// STOMP_USER and STOMP_PASSWORD (read through c.Env) override every broker's user and password.
func (c *Config) RabbitMQ() (Rabbit, error) {
	r := Rabbit{VHost: c.PluginString("rabbitmq.vhost", "/")}
	var err error
	get := func(f func() error) {
		if err == nil {
			err = f()
		}
	}
	get(func() (e error) { r.Stomp10Fallback, e = c.PluginBool("rabbitmq.stomp_1_0_fallback", true); return })
	get(func() (e error) { r.UseReplyExchange, e = c.PluginBool("rabbitmq.use_reply_exchange", false); return })
	get(func() (e error) { r.AgentsMultiplex, e = c.PluginBool("rabbitmq.agents_multiplex", false); return })
	get(func() (e error) { r.Base64, e = c.PluginBool("rabbitmq.base64", false); return })
	get(func() (e error) { r.BackOffMultiplier, e = c.PluginFloat("rabbitmq.back_off_multiplier", 2); return })
	get(func() (e error) {
		r.InitialReconnectDelay, e = c.PluginSeconds("rabbitmq.initial_reconnect_delay", 0.01)
		return
	})
	get(func() (e error) { r.MaxReconnectDelay, e = c.PluginSeconds("rabbitmq.max_reconnect_delay", 30); return })
	get(func() (e error) { r.ConnectTimeout, e = c.PluginSeconds("rabbitmq.connect_timeout", 30); return })
	get(func() (e error) {
		r.MaxReconnectAttempts, e = c.PluginInt("rabbitmq.max_reconnect_attempts", 0)
		return
	})
	get(func() error {
		n, e := c.PluginInt("rabbitmq.max_body", 0)
		if e == nil && n != 0 && (n < 1024 || n > 1<<30) {
			e = c.pluginErr("rabbitmq.max_body", fmt.Errorf("want 1024 to %d bytes, got %d", 1<<30, n))
		}
		r.MaxBody = n
		return e
	})
	get(func() error {
		hb, e := c.PluginInt("rabbitmq.heartbeat_interval", 0)
		switch {
		case e != nil:
			return e
		case hb <= 0:
			hb = 0
		case hb < 30:
			hb = 30
		case hb > 1<<20:
			return c.pluginErr("rabbitmq.heartbeat_interval", fmt.Errorf("%d seconds is too long", hb))
		}
		r.HeartbeatInterval = time.Duration(hb) * time.Second
		return nil
	})
	if err != nil {
		return Rabbit{}, err
	}
	if r.BackOffMultiplier < 1 {
		return Rabbit{}, c.pluginErr("rabbitmq.back_off_multiplier", fmt.Errorf("want at least 1, got %v", r.BackOffMultiplier))
	}
	if _, ok := c.Plugin["rabbitmq.pool.size"]; !ok {
		return Rabbit{}, fmt.Errorf("config: %s: plugin.rabbitmq.pool.size is required", c.ConfigFile)
	}
	size, err := c.PluginInt("rabbitmq.pool.size", 0)
	if err != nil {
		return Rabbit{}, err
	}
	if size < 1 || size > 1000 {
		return Rabbit{}, c.pluginErr("rabbitmq.pool.size", fmt.Errorf("want 1 to 1000 brokers, got %d", size))
	}
	for n := 1; n <= size; n++ {
		b, err := c.broker(n)
		if err != nil {
			return Rabbit{}, err
		}
		r.Pool = append(r.Pool, b)
	}
	return r, nil
}

// broker reads plugin.rabbitmq.pool.<n>.*.
func (c *Config) broker(n int) (Broker, error) {
	p := fmt.Sprintf("rabbitmq.pool.%d.", n)
	b := Broker{Host: c.PluginString(p+"host", "")}
	if b.Host == "" {
		return Broker{}, fmt.Errorf("config: %s: plugin.%shost is required (pool.size is %s)",
			c.ConfigFile, p, c.Plugin["rabbitmq.pool.size"])
	}
	var err error
	if b.Port, err = c.PluginInt(p+"port", 61613); err != nil {
		return Broker{}, err
	}
	if b.Port < 1 || b.Port > 65535 {
		return Broker{}, c.pluginErr(p+"port", fmt.Errorf("want a port from 1 to 65535, got %d", b.Port))
	}
	b.User = c.envOr("STOMP_USER", p+"user")
	b.Password = c.envOr("STOMP_PASSWORD", p+"password")
	if b.SSL, err = c.PluginBool(p+"ssl", false); err != nil {
		return Broker{}, err
	}
	if b.SSL {
		b.SSLCA = c.PluginString(p+"ssl.ca", "")
		b.SSLCert = c.envOr(fmt.Sprintf("MCOLLECTIVE_RABBITMQ_POOL%d_SSL_CERT", n), p+"ssl.cert")
		b.SSLKey = c.envOr(fmt.Sprintf("MCOLLECTIVE_RABBITMQ_POOL%d_SSL_KEY", n), p+"ssl.key")
		if b.SSLCA == "" || b.SSLCert == "" || b.SSLKey == "" {
			return Broker{}, fmt.Errorf("config: %s: plugin.%sssl needs plugin.%[2]sssl.ca, plugin.%[2]sssl.cert and plugin.%[2]sssl.key",
				c.ConfigFile, p)
		}
	}
	return b, nil
}

// envOr returns the environment variable env if set, else the plugin setting key, else "".
func (c *Config) envOr(env, key string) string {
	if v, ok := c.Env(env); ok {
		return v
	}
	return c.Plugin[key]
}
