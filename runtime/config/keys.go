package config

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// setter stores one top-level key's value. A non-empty note means the key is known but not
// acted on, and becomes a warning.
type setter func(c *Config, val string) (note string, err error)

// notSupported is the note for keys MCollective knows and this implementation ignores.
const notSupported = "not supported"

// keys lists every top-level key of config.rb.
var keys = map[string]setter{
	"identity":        func(c *Config, v string) (string, error) { c.Identity = v; return "", nil },
	"main_collective": func(c *Config, v string) (string, error) { c.MainCollective = v; return "", nil },
	"collectives": func(c *Config, v string) (string, error) {
		cs, err := parseCollectives(v)
		c.Collectives = cs
		return "", err
	},
	"libdir": func(c *Config, v string) (string, error) {
		for _, p := range strings.Split(v, ":") {
			if !filepath.IsAbs(p) {
				return "", fmt.Errorf("path %q is not absolute", p)
			}
			c.LibDir = append(c.LibDir, p)
		}
		return "", nil
	},
	"logfile": func(c *Config, v string) (string, error) { c.LogFile = v; return "", nil },
	"loglevel": func(c *Config, v string) (string, error) {
		return "", oneOf(&c.LogLevel, v, "debug", "info", "warn", "error", "fatal")
	},
	"logger_type": func(c *Config, v string) (string, error) {
		return "", oneOf(&c.LoggerType, v, "file", "console", "syslog")
	},
	"securityprovider": func(c *Config, v string) (string, error) { c.SecurityProvider = strings.ToLower(v); return "", nil },
	"connector":        func(c *Config, v string) (string, error) { c.Connector = strings.ToLower(v); return "", nil },
	"factsource":       func(c *Config, v string) (string, error) { c.FactSource = strings.ToLower(v); return "", nil },
	"classesfile":      func(c *Config, v string) (string, error) { c.ClassesFile = v; return "", nil },
	"ttl": func(c *Config, v string) (string, error) {
		err := intVal(&c.TTL, v, 1)
		return "", err
	},
	"direct_addressing": func(c *Config, v string) (string, error) { return "", boolVal(&c.DirectAddressing, v) },
	"direct_addressing_threshold": func(c *Config, v string) (string, error) {
		return "", intVal(&c.DirectAddressingThreshold, v, 0)
	},
	"discovery_timeout":  func(c *Config, v string) (string, error) { return "", intVal(&c.DiscoveryTimeout, v, 0) },
	"publish_timeout":    func(c *Config, v string) (string, error) { return "", intVal(&c.PublishTimeout, v, 0) },
	"rpclimitmethod":     func(c *Config, v string) (string, error) { return "", oneOf(&c.RPCLimitMethod, v, "first", "random") },
	"default_batch_size": func(c *Config, v string) (string, error) { return "", intVal(&c.DefaultBatchSize, v, 0) },
	"default_batch_sleep_time": func(c *Config, v string) (string, error) {
		return "", floatVal(&c.DefaultBatchSleepTime, v)
	},
	"default_discovery_method": func(c *Config, v string) (string, error) { c.DefaultDiscoveryMethod = v; return "", nil },
	"default_discovery_options": func(c *Config, v string) (string, error) {
		c.DefaultDiscoveryOptions = v
		return "", nil
	},
	"daemonize": func(c *Config, v string) (string, error) { return "", boolVal(&c.Daemonize, v) },
	"color":     func(c *Config, v string) (string, error) { return "", boolVal(&c.Color, v) },

	// mcod checks the providers when it starts (runtime/authz, runtime/audit) and refuses to
	// serve with one it does not implement.
	"rpcaudit":         func(c *Config, v string) (string, error) { return "", boolVal(&c.RPCAudit, v) },
	"rpcauditprovider": func(c *Config, v string) (string, error) { c.RPCAuditProvider = strings.ToLower(v); return "", nil },
	"rpcauthorization": func(c *Config, v string) (string, error) { return "", boolVal(&c.RPCAuthorization, v) },
	"rpcauthprovider":  func(c *Config, v string) (string, error) { c.RPCAuthProvider = strings.ToLower(v); return "", nil },

	// Known, parsed, but only partly acted on: warn when the value asks for something missing.
	"registration": func(c *Config, v string) (string, error) {
		c.Registration = strings.ToLower(v)
		return "registration is not implemented", nil
	},
	"registerinterval": func(c *Config, v string) (string, error) {
		err := intVal(&c.RegisterInterval, v, 0)
		return noteIf(c.RegisterInterval > 0, "registration is not implemented"), err
	},

	// Known to MCollective, type-checked, and ignored here.
	"registration_collective": ignoreString,
	"registration_splay":      ignoreBool,
	"keeplogs":                ignoreInt,
	"max_log_size":            ignoreInt,
	"logfacility":             ignoreString,
	"fact_cache_time":         ignoreInt,
	"ssl_cipher":              ignoreString,
	"threaded":                ignoreBool,
	"soft_shutdown":           ignoreBool,
	"soft_shutdown_timeout":   ignoreInt,
	"activate_agents":         ignoreBool,
	"connection_timeout":      ignoreInt,

	// Deprecated: MCollective 2.12 itself ignores them with a warning.
	"topicprefix":     deprecated,
	"topicsep":        deprecated,
	"queueprefix":     deprecated,
	"rpchelptemplate": deprecated,
	"helptemplatedir": deprecated,
}

func ignoreString(*Config, string) (string, error) { return notSupported, nil }

func ignoreBool(_ *Config, v string) (string, error) {
	var b bool
	return notSupported, boolVal(&b, v)
}

func ignoreInt(_ *Config, v string) (string, error) {
	var n int
	return notSupported, intVal(&n, v, math.MinInt)
}

func deprecated(*Config, string) (string, error) { return "deprecated", nil }

// noteIf returns note when cond holds.
func noteIf(cond bool, note string) string {
	if cond {
		return note
	}
	return ""
}

// setKey applies one top-level key.
func (c *Config) setKey(loc, key, val string) error {
	set, ok := keys[key]
	if !ok {
		c.warnf(loc, "unsupported key %q ignored", key)
		return nil
	}
	note, err := set(c, val)
	if err != nil {
		return fmt.Errorf("config: %s: key %q: %w", loc, key, err)
	}
	if note != "" {
		c.warnf(loc, "key %q is not supported (%s); ignored", key, note)
	}
	return nil
}

// parseCollectives splits a collectives value as config.rb does, rejecting empty names.
func parseCollectives(v string) ([]string, error) {
	parts := strings.Split(v, ",")
	for len(parts) > 0 && strings.Trim(parts[len(parts)-1], rubySpace) == "" {
		parts = parts[:len(parts)-1] // Ruby's split drops trailing empty fields
	}
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		p = strings.Trim(p, rubySpace)
		if p == "" {
			return nil, fmt.Errorf("empty collective name in %q", v)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("no collectives")
	}
	return out, nil
}

// oneOf stores v in dst if it is one of allowed.
func oneOf(dst *string, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			*dst = v
			return nil
		}
	}
	return fmt.Errorf("want one of %s, got %q", strings.Join(allowed, ", "), v)
}

// ParseInt parses s as Ruby's Integer() does: optional sign, 0x/0o/0b/0 prefixes, '_'
// between digits, surrounding whitespace allowed.
func ParseInt(s string) (int, error) {
	n, err := strconv.ParseInt(strings.Trim(s, rubySpace), 0, strconv.IntSize)
	if err != nil {
		return 0, fmt.Errorf("want an integer, got %q", s)
	}
	return int(n), nil
}

// ParseFloat parses s as Ruby's Float() does; NaN and infinities are rejected.
func ParseFloat(s string) (float64, error) {
	t := strings.Trim(s, rubySpace)
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(t, "iInN") {
		return 0, fmt.Errorf("want a number, got %q", s)
	}
	return f, nil
}

var (
	trueRE  = regexp.MustCompile(`^(?i:1|yes|true|y)$`)
	falseRE = regexp.MustCompile(`^(?i:0|no|false|n)$`)
)

// ParseBool is the one reading of a boolean setting: 1, y, yes and true are true and 0, n,
// no and false are false, in any case, with surrounding whitespace ignored; anything else
// is refused, so that a typo never flips a setting. (MCollective's Util.str_to_bool also
// takes t and f; mcorun refuses them as too easy to mistype.)
func ParseBool(s string) (bool, error) {
	t := strings.Trim(s, rubySpace)
	switch {
	case trueRE.MatchString(t):
		return true, nil
	case falseRE.MatchString(t):
		return false, nil
	}
	return false, fmt.Errorf("want a boolean (yes/no, true/false, 1/0 or y/n), got %q", s)
}

// intVal parses v into dst, requiring at least min.
func intVal(dst *int, v string, min int) error {
	n, err := ParseInt(v)
	if err != nil {
		return err
	}
	if n < min {
		return fmt.Errorf("want at least %d, got %d", min, n)
	}
	*dst = n
	return nil
}

func floatVal(dst *float64, v string) error {
	f, err := ParseFloat(v)
	if err != nil {
		return err
	}
	if f < 0 {
		return fmt.Errorf("want a non-negative number, got %q", v)
	}
	*dst = f
	return nil
}

func boolVal(dst *bool, v string) error {
	b, err := ParseBool(v)
	if err != nil {
		return err
	}
	*dst = b
	return nil
}

// rabbitPoolRE matches the per-broker rabbitmq keys after "rabbitmq.pool.N.".
var rabbitPoolRE = regexp.MustCompile(`^rabbitmq\.pool\.[0-9]+\.(.+)$`)

// rabbitKeys are the rabbitmq connector keys (rabbitmq.rb): "" means supported, otherwise why not.
var rabbitKeys = map[string]string{
	"vhost": "", "pool.size": "", "heartbeat_interval": "", "stomp_1_0_fallback": "",
	"use_reply_exchange": "", "agents_multiplex": "", "initial_reconnect_delay": "",
	"back_off_multiplier": "", "max_reconnect_delay": "", "max_reconnect_attempts": "",
	"connect_timeout": "", "base64": "", "max_body": "",
	"use_exponential_back_off": notSupported, "randomize": notSupported, "backup": notSupported,
	"timeout": notSupported, "max_hbrlck_fails": notSupported, "max_hbread_fails": notSupported,
	"prompt_user": notSupported, "prompt_password": notSupported,
}

// rabbitPoolKeys are the per-broker keys.
var rabbitPoolKeys = map[string]string{
	"host": "", "port": "", "user": "", "password": "", "ssl": "", "ssl.ca": "", "ssl.cert": "",
	"ssl.key": "", "ssl.ciphers": "Go's TLS cipher defaults are used",
	"ssl.fallback": "TLS is always verified",
}

// authPluginKeys are the actionpolicy and rpcaudit keys mcod reads (runtime/authz, runtime/audit).
var authPluginKeys = map[string]bool{
	"actionpolicy.allow_unconfigured": true, "actionpolicy.enable_default": true,
	"actionpolicy.default_name": true, "actionpolicy.policy_dir": true,
	"rpcaudit.logfile": true, "rpcaudit.format": true, "rpcaudit.redact": true,
}

// agentPluginKeys are the settings of mcod's state directory, of the fstat data plugin
// (docs/security.md), of external agents and of the agents that act on a node
// (docs/agents.md). They are exact keys, so that a misspelt one (plugin.shell.enable) is
// warned about by name rather than silently read as its default.
var agentPluginKeys = map[string]bool{
	"mcod.state_dir": true, "fstat.allowed_paths": true, "mcod.external.rescan": true,
	"shell.enabled": true, "shell.state_path": true, "shell.max_output": true, "shell.timeout": true,
	"shell.directory":  true,
	"service.provider": true, "service.sysv.servicecmd": true, "service.service.servicecmd": true,
	"package.provider": true, "package.yum_bin": true, "package.yum_clean_mode": true,
	"nettest.ping_command": true, "nettest.ping_timeout": true, "nettest.connect_timeout": true,
}

// brokerPluginKeys are the limits of mcod's embedded broker (cmd/mcod/embedded.go,
// docs/security.md).
var brokerPluginKeys = map[string]bool{
	"mcod.broker.max_connections": true, "mcod.broker.max_frame_bytes": true,
	"mcod.broker.outbox_bytes": true, "mcod.broker.connect_timeout": true,
}

// discoveryPluginKeys are the client's discovery sources' settings (runtime/discovery), named
// after Choria's.
var discoveryPluginKeys = map[string]bool{
	"choria.discovery.inventory.source": true, "choria.discovery.external.command": true,
	"choria.puppetdb_host": true, "choria.puppetdb_port": true,
	"security.file.certificate": true, "security.file.key": true, "security.file.ca": true,
}

// clientPluginKeys are mcorun's own settings: where run journals live and how many are kept
// (docs/journal.md), the reply queue's length (README, "A large fleet"), whether
// discovery keeps its results to know when to stop and how the first discovery of a filter
// ends (docs/discovery.md).
var clientPluginKeys = map[string]bool{
	"mcorun.journal.dir": true, "mcorun.journal.keep": true, "mcorun.journal.max_age_days": true,
	"mcorun.reply_queue": true, "mcorun.discovery_cache": true, "mcorun.discovery_first": true,
}

// pluginKeyStatus reports whether a plugin key (without "plugin.") is read by this project,
// and if it is known but ignored, why.
func pluginKeyStatus(key string) (why string, known bool) {
	switch {
	case key == "psk", key == "psk.callertype", key == "yaml":
		return "", true
	case strings.HasPrefix(key, "puppet."), strings.HasPrefix(key, "ssl_"):
		return "", true
	case key == "ssl.enforce_ttl", strings.HasPrefix(key, "ed25519."):
		return "", true
	case authPluginKeys[key], agentPluginKeys[key], brokerPluginKeys[key], discoveryPluginKeys[key],
		clientPluginKeys[key]:
		return "", true
	}
	if m := rabbitPoolRE.FindStringSubmatch(key); m != nil {
		why, known = rabbitPoolKeys[m[1]]
		return why, known
	}
	if k, ok := strings.CutPrefix(key, "rabbitmq."); ok {
		why, known = rabbitKeys[k]
		return why, known
	}
	return "", false
}
