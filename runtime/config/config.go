// Package config reads MCollective 2.12's client.cfg and server.cfg files.
//
// The format is that of config.rb: one "key = value" per line, lines starting with "#" and blank
// lines skipped, trailing whitespace removed and whitespace around the first "=" dropped. Keys of
// the form "plugin.X.Y" go to Config.Plugin without their "plugin." prefix, and plugin.d/*.cfg
// files next to the main file add "<file name>.<key>" entries, as MCollective does.
//
// Unlike MCollective, an unknown key is not fatal: it becomes a line in Config.Warnings, as does a
// known key this implementation does not act on. A line without "=" or a value of the wrong type
// is an error that names the file, the line and the key. Warnings and errors never carry the
// values of secret keys.
package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Config is a parsed MCollective configuration. A Config from Load or Parse has MCollective's
// defaults (config.rb set_config_defaults) in every field the file did not set.
type Config struct {
	// ConfigFile is the path or name the configuration was read from.
	ConfigFile string

	// Identity is this node's or client's name; the default is the host name.
	Identity string
	// Collectives are the collectives to subscribe to; the default is ["mcollective"].
	Collectives []string
	// MainCollective is the collective requests go to by default ("mcollective"). As in
	// MCollective, setting collectives does not change it.
	MainCollective string
	// SecurityProvider names the security plugin, lowercased ("psk").
	SecurityProvider string
	// Connector names the middleware plugin, lowercased. MCollective's default is "activemq".
	Connector string
	// LibDir holds the absolute paths of every libdir line, split on ':'.
	LibDir []string
	// LogFile is the log file path; empty when unset.
	LogFile string
	// LogLevel is one of debug, info, warn, error, fatal ("info").
	LogLevel string
	// LoggerType is one of file, console, syslog ("file").
	LoggerType string
	// FactSource names the facts plugin, lowercased ("yaml"). The YAML facts path(s) are
	// Plugin["yaml"], ':'-separated.
	FactSource string
	// ClassesFile is the file listing the node's configuration-management classes.
	ClassesFile string
	// TTL is the request time-to-live in seconds (60).
	TTL int
	// DirectAddressing lets a server subscribe to directed requests (true).
	DirectAddressing bool
	// DirectAddressingThreshold is the largest discovered node count sent as directed requests (10).
	DirectAddressingThreshold int
	// DiscoveryTimeout is the discovery timeout in seconds; 0 means unset.
	DiscoveryTimeout int
	// PublishTimeout is the publish timeout in seconds (2).
	PublishTimeout int
	// RPCLimitMethod is "first" or "random" ("first").
	RPCLimitMethod string
	// DefaultBatchSize is the default batch size; 0 means no batching.
	DefaultBatchSize int
	// DefaultBatchSleepTime is the default pause between batches in seconds (1.0).
	DefaultBatchSleepTime float64
	// DefaultDiscoveryMethod is the default discovery method ("mc").
	DefaultDiscoveryMethod string
	// DefaultDiscoveryOptions are the discovery methods' default options, comma-separated
	// KEY=VALUE pairs (default_discovery_options, as Choria reads it); empty when unset.
	DefaultDiscoveryOptions string
	// Daemonize asks the server to detach; mcod always runs in the foreground.
	Daemonize bool
	// Color enables colored client output (true).
	Color bool
	// RPCAudit enables request auditing with RPCAuditProvider (mcod: runtime/audit).
	RPCAudit bool
	// RPCAuditProvider names the audit plugin, lowercased.
	RPCAuditProvider string
	// RPCAuthorization enables request authorization with RPCAuthProvider (mcod:
	// runtime/authz). A server must refuse to start with a provider it does not implement
	// rather than run without the authorization asked for.
	RPCAuthorization bool
	// RPCAuthProvider names the authorization plugin, lowercased.
	RPCAuthProvider string
	// Registration names the registration plugin, lowercased ("agentlist").
	Registration string
	// RegisterInterval is the registration interval in seconds; 0 disables registration.
	RegisterInterval int

	// Plugin holds every plugin.* setting without the "plugin." prefix, e.g. Plugin["psk"]
	// and Plugin["rabbitmq.pool.size"], including those from plugin.d.
	Plugin map[string]string

	// Warnings lists, in file order, the keys that were ignored and why, each as
	// "file:line: ...". Callers should log them.
	Warnings []string

	// LookupEnv reads environment overrides (STOMP_USER, STOMP_PASSWORD, MCOLLECTIVE_PSK, ...).
	// Nil means os.LookupEnv; tests set it to avoid touching the process environment.
	LookupEnv func(key string) (string, bool)

	pluginSrc map[string]string // plugin key -> "file:line", for error messages
}

// Defaults returns a Config holding MCollective's defaults, with ConfigFile set to name and
// Identity left empty (Parse fills in the host name).
func Defaults(name string) *Config {
	return &Config{
		ConfigFile:                name,
		Collectives:               []string{"mcollective"},
		MainCollective:            "mcollective",
		SecurityProvider:          "psk",
		Connector:                 "activemq",
		LogLevel:                  "info",
		LoggerType:                "file",
		FactSource:                "yaml",
		ClassesFile:               "/var/lib/puppet/state/classes.txt",
		TTL:                       60,
		DirectAddressing:          true,
		DirectAddressingThreshold: 10,
		PublishTimeout:            2,
		RPCLimitMethod:            "first",
		DefaultBatchSleepTime:     1.0,
		DefaultDiscoveryMethod:    "mc",
		Color:                     true,
		Registration:              "agentlist",
		Plugin:                    map[string]string{},
		pluginSrc:                 map[string]string{},
	}
}

// Env looks key up with c.LookupEnv, or os.LookupEnv when that is nil.
func (c *Config) Env(key string) (string, bool) {
	if c.LookupEnv != nil {
		return c.LookupEnv(key)
	}
	return os.LookupEnv(key)
}

// Load reads the configuration file at path and then every plugin.d/*.cfg file beside it.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	c := Defaults(path)
	if err := c.parse(f, path); err != nil {
		return nil, err
	}
	if err := c.readPluginDir(filepath.Join(filepath.Dir(path), "plugin.d")); err != nil {
		return nil, err
	}
	if err := c.finish(); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse reads a configuration from r; name is used as ConfigFile and in messages. It does not
// read plugin.d, since r has no directory.
func Parse(r io.Reader, name string) (*Config, error) {
	c := Defaults(name)
	if err := c.parse(r, name); err != nil {
		return nil, err
	}
	if err := c.finish(); err != nil {
		return nil, err
	}
	return c, nil
}

// identityRE is config.rb's identity check.
var identityRE = regexp.MustCompile(`^[A-Za-z0-9_.\-]+$`)

// finish applies the defaults that depend on the environment and checks the result.
func (c *Config) finish() error {
	if c.Identity == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("config: identity not set and host name unknown: %w", err)
		}
		c.Identity = h
	}
	if !identityRE.MatchString(c.Identity) {
		return fmt.Errorf("config: %s: identity %q may only contain letters, digits, '_', '.' and '-'", c.ConfigFile, c.Identity)
	}
	return nil
}

// rubySpace is the set Ruby's \s and String#strip remove (ASCII whitespace only).
const rubySpace = " \t\n\v\f\r"

// maxLine bounds a single configuration line.
const maxLine = 1 << 20

// splitLine splits one "key = value" line; ok is false for comments and blank lines.
func splitLine(raw string) (key, val string, ok bool, err error) {
	s := strings.TrimRight(raw, rubySpace)
	t := strings.TrimLeft(s, rubySpace)
	if t == "" || strings.HasPrefix(t, "#") {
		return "", "", false, nil
	}
	// config.rb matches /(.+?)\s*=\s*(.+)/: the key is everything before the first '='
	// after the first character.
	i := strings.IndexByte(s[1:], '=')
	if i < 0 {
		return "", "", false, errors.New("want key = value")
	}
	i++
	key = strings.Trim(s[:i], rubySpace)
	val = strings.TrimLeft(s[i+1:], rubySpace)
	if key == "" {
		return "", "", false, errors.New("empty key")
	}
	return key, val, true, nil
}

// scanLines calls fn for every key = value line of r.
func scanLines(r io.Reader, name string, fn func(loc, key, val string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	n := 0
	for sc.Scan() {
		n++
		loc := fmt.Sprintf("%s:%d", name, n)
		key, val, ok, err := splitLine(sc.Text())
		if err != nil {
			return fmt.Errorf("config: %s: %w", loc, err)
		}
		if !ok {
			continue
		}
		if err := fn(loc, key, val); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("config: %s:%d: %w", name, n+1, err)
	}
	return nil
}

// parse reads the main file's lines into c.
func (c *Config) parse(r io.Reader, name string) error {
	return scanLines(r, name, func(loc, key, val string) error {
		if val == "" {
			// config.rb skips a line whose value is empty, leaving the default.
			c.warnf(loc, "key %q has no value; ignored", key)
			return nil
		}
		if p, ok := strings.CutPrefix(key, "plugin."); ok && p != "" {
			c.setPlugin(loc, p, val)
			return nil
		}
		return c.setKey(loc, key, val)
	})
}

// pluginFileRE matches the plugin.d file names config.rb reads.
var pluginFileRE = regexp.MustCompile(`^([A-Za-z0-9_]+)\.cfg$`)

// readPluginDir reads dir/*.cfg as config.rb's read_plugin_config_dir does; a missing directory
// is not an error.
func (c *Config) readPluginDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("config: plugin.d: %w", err)
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	for _, e := range ents {
		m := pluginFileRE.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			continue
		}
		if err := c.readPluginFile(filepath.Join(dir, e.Name()), m[1]); err != nil {
			return err
		}
	}
	return nil
}

// readPluginFile reads one plugin.d file whose keys belong to plugin.
func (c *Config) readPluginFile(path, plugin string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config: plugin.d: %w", err)
	}
	defer f.Close()
	return scanLines(f, path, func(loc, key, val string) error {
		if val == "" {
			c.warnf(loc, "key %q has no value; ignored", key)
			return nil
		}
		c.setPlugin(loc, plugin+"."+key, val)
		return nil
	})
}

// warnf appends a warning prefixed with loc.
func (c *Config) warnf(loc, format string, args ...any) {
	c.Warnings = append(c.Warnings, loc+": "+fmt.Sprintf(format, args...))
}

// setPlugin records a plugin setting, warning when no part of this project reads it.
func (c *Config) setPlugin(loc, key, val string) {
	c.Plugin[key] = val
	c.pluginSrc[key] = loc
	switch why, known := pluginKeyStatus(key); {
	case !known:
		c.warnf(loc, "unsupported key %q ignored", "plugin."+key)
	case why != "":
		c.warnf(loc, "key %q is not supported (%s); ignored", "plugin."+key, why)
	}
}
