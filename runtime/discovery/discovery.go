// Package discovery holds the client's discovery sources other than mc broadcast: flatfile,
// inventory, external and puppetdb, speaking the file formats and protocols Choria's
// discovery plugins speak, so that files and commands written for Choria work unchanged.
//
// A source answers a Request (the filter, the collective, its options) with the identities
// it knows that match. Each source evaluates only the filters it can: Check refuses the others
// with an error wrapping ErrUnsupportedFilter before anything is read or sent, so a filter is
// never silently dropped. mc broadcast discovery lives in runtime/client; client.NewPlan
// chooses between it and the sources here.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/message"
)

// The method names, as mco and Choria name them.
const (
	MC        = "mc"
	Flatfile  = "flatfile"
	Inventory = "inventory"
	External  = "external"
	PuppetDB  = "puppetdb"
)

// aliases are the other names Choria accepts for the methods.
var aliases = map[string]string{
	"broadcast": MC, "choria": PuppetDB, "file": Flatfile,
}

// Names lists the methods, mc first.
func Names() []string { return []string{MC, Flatfile, Inventory, External, PuppetDB} }

// Canonical returns the method's name with Choria's aliases resolved ("" is mc), or an error
// naming the known methods.
func Canonical(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" {
		return MC, nil
	}
	if a, ok := aliases[n]; ok {
		n = a
	}
	if !slices.Contains(Names(), n) {
		return "", fmt.Errorf("unknown discovery method %q: use one of %s", name, strings.Join(Names(), ", "))
	}
	return n, nil
}

// ErrUnsupportedFilter means the method cannot evaluate part of the filter; the error says
// which part and which method can. Nothing was read or sent.
var ErrUnsupportedFilter = errors.New("filter not supported by the discovery method")

// ErrSource means the source failed: a file that cannot be read or parsed, a command that
// failed or hung, a PuppetDB that is down or refused the query. Nothing was sent to the nodes.
var ErrSource = errors.New("discovery source failed")

// Request is one discovery.
type Request struct {
	// Filter is the filter to evaluate, the call's agent included.
	Filter message.Filter
	// CallAgent is the agent the call adds to Filter, "" for a plain discovery. Sources that
	// know nothing of agents (flatfile) ignore that one entry but refuse any other.
	CallAgent string
	// Collective limits the nodes to one collective where the source knows collectives.
	Collective string
	// Options are the method's options (--do K=V, discover(options=...)).
	Options map[string]string
	// Timeout bounds the source's work; 0 means the discovery timeout's default, 2 s.
	Timeout time.Duration
}

// timeout is r.Timeout or the default.
func (r Request) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return 2 * time.Second
}

// Method is a discovery source.
type Method interface {
	// Discover returns the identities matching r, in any order, possibly with duplicates.
	// Errors wrap ErrUnsupportedFilter or ErrSource.
	Discover(ctx context.Context, r Request) ([]string, error)
}

// Settings are a client's settings for the sources, from its config (FromConfig).
type Settings struct {
	// InventorySource is the default inventory file (plugin.choria.discovery.inventory.source).
	InventorySource string
	// ExternalCommand is the default external command (plugin.choria.discovery.external.command).
	ExternalCommand string
	// PuppetDB is where the puppetdb method asks.
	PuppetDB PuppetDBSettings
	// DefaultOptions are default_discovery_options: K=V pairs every method gets unless the
	// call sets the same key.
	DefaultOptions map[string]string
}

// The config keys the sources read; runtime/config lists them as known.
const (
	KeyInventorySource = "choria.discovery.inventory.source"
	KeyExternalCommand = "choria.discovery.external.command"
	KeyPuppetDBHost    = "choria.puppetdb_host"
	KeyPuppetDBPort    = "choria.puppetdb_port"
	KeyCertificate     = "security.file.certificate"
	KeyKey             = "security.file.key"
	KeyCA              = "security.file.ca"
)

// FromConfig reads the sources' settings from a client config: the plugin.choria.* keys named
// after Choria's, default_discovery_options, and for PuppetDB's TLS the
// plugin.security.file.{certificate,key,ca} files, else those of the first RabbitMQ broker
// (plugin.rabbitmq.pool.1.ssl.*): the client's own certificates.
func FromConfig(cfg *config.Config) (Settings, error) {
	s := Settings{
		InventorySource: cfg.PluginString(KeyInventorySource, ""),
		ExternalCommand: cfg.PluginString(KeyExternalCommand, ""),
	}
	port, err := cfg.PluginInt(KeyPuppetDBPort, 8081)
	if err != nil {
		return Settings{}, err
	}
	if port < 1 || port > 65535 {
		return Settings{}, fmt.Errorf("config: plugin.%s: want a TCP port, got %d", KeyPuppetDBPort, port)
	}
	s.PuppetDB = PuppetDBSettings{Host: cfg.PluginString(KeyPuppetDBHost, ""), Port: port,
		Cert: cfg.PluginString(KeyCertificate, ""), Key: cfg.PluginString(KeyKey, ""), CA: cfg.PluginString(KeyCA, "")}
	if s.PuppetDB.Cert == "" && s.PuppetDB.Key == "" && s.PuppetDB.CA == "" {
		if r, err := cfg.RabbitMQ(); err == nil && len(r.Pool) > 0 && r.Pool[0].SSL {
			s.PuppetDB.Cert, s.PuppetDB.Key, s.PuppetDB.CA = r.Pool[0].SSLCert, r.Pool[0].SSLKey, r.Pool[0].SSLCA
		}
	}
	if cfg.DefaultDiscoveryOptions != "" {
		s.DefaultOptions, err = ParseOptions(strings.Split(cfg.DefaultDiscoveryOptions, ","))
		if err != nil {
			return Settings{}, fmt.Errorf("config: default_discovery_options: %w", err)
		}
	}
	return s, nil
}

// ParseOptions parses K=V options (--do); a value may hold "=".
func ParseOptions(kvs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("discovery option %q: want KEY=VALUE, e.g. file=nodes.txt", kv)
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}

// New returns the source named method (a Canonical name other than mc) under s.
func New(method string, s Settings) (Method, error) {
	name, err := Canonical(method)
	if err != nil {
		return nil, err
	}
	var m Method
	switch name {
	case Flatfile:
		m = flatfile{}
	case Inventory:
		m = inventory{source: s.InventorySource}
	case External:
		m = external{command: s.ExternalCommand}
	case PuppetDB:
		m = puppetDB{s: s.PuppetDB}
	default:
		return nil, fmt.Errorf("discovery method %q is broadcast discovery, done by the client", name)
	}
	if len(s.DefaultOptions) > 0 {
		m = withDefaults{m: m, opts: s.DefaultOptions}
	}
	return m, nil
}

// withDefaults gives a method the default options under the call's own.
type withDefaults struct {
	m    Method
	opts map[string]string
}

func (w withDefaults) Discover(ctx context.Context, r Request) ([]string, error) {
	o := make(map[string]string, len(w.opts)+len(r.Options))
	for k, v := range w.opts {
		o[k] = v
	}
	for k, v := range r.Options {
		o[k] = v
	}
	r.Options = o
	return w.m.Discover(ctx, r)
}

// Check refuses, before anything runs, a filter that method cannot evaluate. callAgent is
// the agent a call adds to the filter ("" for none). mc and external take every filter (an
// external command gets it whole); inventory takes all but compound expressions calling data
// plugins, which only the nodes can run; puppetdb takes facts, classes, identities and agents;
// flatfile takes identities only.
func Check(method string, f message.Filter, callAgent string) error {
	name, err := Canonical(method)
	if err != nil {
		return err
	}
	refuse := func(what, use string) error {
		return tagged(ErrUnsupportedFilter, "the %s method cannot evaluate %s; %s", name, what, use)
	}
	userAgents := slices.DeleteFunc(slices.Clone(f.Agent), func(a string) bool { return a == callAgent })
	switch name {
	case Flatfile:
		switch {
		case len(f.Fact) > 0:
			return refuse("fact filters (-F)", "use --dm mc, inventory or puppetdb, or filter the list yourself")
		case len(f.CFClass) > 0:
			return refuse("class filters (-C)", "use --dm mc, inventory or puppetdb")
		case len(userAgents) > 0:
			return refuse("agent filters (-A)", "use --dm mc, inventory or puppetdb")
		case len(f.Compound) > 0:
			return refuse("compound filters (-S)", "use --dm mc or inventory")
		}
	case Inventory:
		if fn := dataCall(f); fn != "" {
			return refuse(fmt.Sprintf("the data plugin %s() in -S", fn), "data plugins run on the nodes: use --dm mc")
		}
	case PuppetDB:
		if len(f.Compound) > 0 {
			return refuse("compound filters (-S)", "use -F/-C/-I/-A, a raw query with -I 'pql:...', or --dm mc")
		}
	}
	return nil
}

// dataCall returns the name of the first data plugin a filter's compound expressions call.
func dataCall(f message.Filter) string {
	for _, expr := range f.Compound {
		for _, it := range expr {
			if it.Kind == message.FStatement && it.Func != nil {
				return it.Func.Name
			}
		}
	}
	return ""
}

// Diff compares two node lists: the nodes only in a, and only in b, both sorted.
func Diff(a, b []string) (onlyA, onlyB []string) {
	inA := make(map[string]bool, len(a))
	for _, n := range a {
		inA[n] = true
	}
	inB := make(map[string]bool, len(b))
	for _, n := range b {
		inB[n] = true
		if !inA[n] {
			onlyB = append(onlyB, n)
		}
	}
	for n := range inA {
		if !inB[n] {
			onlyA = append(onlyA, n)
		}
	}
	slices.Sort(onlyA)
	slices.Sort(onlyB)
	return slices.Compact(onlyA), slices.Compact(onlyB)
}

// sourceErr wraps err as a source failure of method.
func sourceErr(method string, err error) error {
	return tagged(ErrSource, "%s: %w", method, err)
}

// taggedError is an error that is also one of the package's sentinels, without the
// sentinel's text in its message.
type taggedError struct{ tag, err error }

func (e taggedError) Error() string   { return e.err.Error() }
func (e taggedError) Unwrap() []error { return []error{e.tag, e.err} }

// tagged is fmt.Errorf(format, args...) marked as tag.
func tagged(tag error, format string, args ...any) error {
	return taggedError{tag: tag, err: fmt.Errorf(format, args...)}
}
