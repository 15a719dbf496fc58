package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/discovery"
	"github.com/mcorun/mcorun/runtime/filter"
	"github.com/mcorun/mcorun/runtime/listing"
	"github.com/mcorun/mcorun/runtime/message"
)

// commonFlags are mco's flags, shared by every verb.
type commonFlags struct {
	configFile string

	facts      []string
	classes    []string
	identities []string
	agents     []string
	with       []string
	selectExpr string
	collective string

	discoveryTimeout seconds
	timeout          seconds
	batch            string
	batchSleep       seconds
	limit            string
	limitSeed        int64
	one              bool
	nodesFile        string
	dm               string
	do               []string

	// method and methodOpts are the discovery method and its options chosen from --dm,
	// --do and the config (chooseMethod).
	method     string
	methodOpts map[string]string
	// callAgent is the agent a verb added to the agent filter itself (rpc adds its agent, as
	// mco does); a source that knows no agents ignores that entry.
	callAgent string

	json       bool
	format     string // --format, on the verbs that print a list; "" until parsed
	wide       bool   // --wide: tables are not cut to the terminal's width
	verbose    bool
	noProgress bool
}

// seconds is a flag value in seconds, as mco takes them ("5", "1.5"); a Go duration
// ("500ms") is accepted too. Zero means unset.
type seconds time.Duration

func (s *seconds) String() string {
	if *s == 0 {
		return ""
	}
	return time.Duration(*s).String()
}

func (s *seconds) Set(v string) error {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 {
			return errors.New("must not be negative")
		}
		*s = seconds(time.Duration(f * float64(time.Second)))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return fmt.Errorf("%q is not a number of seconds", v)
	}
	*s = seconds(d)
	return nil
}

func (s *seconds) Type() string { return "seconds" }

// flagAliases maps mco's alternative long names to the canonical flag names.
var flagAliases = map[string]string{
	"with-fact":         "wf",
	"with-class":        "wc",
	"with-identity":     "wi",
	"with-agent":        "wa",
	"discovery-timeout": "dt",
	"ln":                "limit-nodes",
	"limit":             "limit-nodes",
	"no-progress":       "np",
	"discovery-method":  "dm",
	"discovery-option":  "do",
}

// newFlagSet returns a flag set for verb with the common flags registered into c.
func newFlagSet(verb string, c *commonFlags) *pflag.FlagSet {
	fs := pflag.NewFlagSet("mcorun "+verb, pflag.ContinueOnError)
	fs.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if n, ok := flagAliases[name]; ok {
			name = n
		}
		return pflag.NormalizedName(name)
	})
	fs.SortFlags = false
	fs.StringVar(&c.configFile, "config", "", "client config file (default ~/.mcollective, else /etc/mcollective/client.cfg)")
	fs.StringArrayVarP(&c.facts, "wf", "F", nil, "fact filter, e.g. role=web, 'uptime>1000', 'os=/deb/' (--with-fact)")
	fs.StringArrayVarP(&c.classes, "wc", "C", nil, "class filter, or /regex/ (--with-class)")
	fs.StringArrayVarP(&c.identities, "wi", "I", nil, "identity filter, or /regex/ (--with-identity)")
	fs.StringArrayVarP(&c.agents, "wa", "A", nil, "agent filter, or /regex/ (--with-agent)")
	fs.StringArrayVarP(&c.with, "with", "W", nil, "combined class and fact filter, e.g. 'apache role=web'")
	fs.StringVarP(&c.selectExpr, "select", "S", "", "compound filter, e.g. 'role=web and !environment=dev'")
	fs.StringVarP(&c.collective, "target", "T", "", "collective to send to (default the main collective)")
	fs.Var(&c.discoveryTimeout, "dt", "discovery timeout in seconds, an upper bound (--discovery-timeout)")
	fs.VarP(&c.timeout, "timeout", "t", "reply timeout in seconds (default the agent's DDL timeout)")
	fs.StringVar(&c.batch, "batch", "", "send to N (or N%) nodes at a time")
	fs.Var(&c.batchSleep, "batch-sleep", "seconds to sleep between batches (default 1)")
	fs.StringVar(&c.limit, "limit-nodes", "", "send to only N (or N%) of the discovered nodes (--ln, --limit)")
	fs.Int64Var(&c.limitSeed, "limit-seed", 0, "seed for a random but repeatable --limit-nodes choice")
	fs.BoolVarP(&c.one, "one", "1", false, "send to only one discovered node")
	fs.StringVar(&c.nodesFile, "nodes", "", "file of identities to use instead of discovery: one a line, a JSON or YAML list, or an rpc --json document ('-' for stdin)")
	fs.StringVar(&c.dm, "dm", "", "discovery method: mc, flatfile, inventory, external or puppetdb (--discovery-method; default the config's default_discovery_method, else mc)")
	fs.StringArrayVar(&c.do, "do", nil, "discovery method option KEY=VALUE, e.g. file=inventory.yaml (--discovery-option)")
	fs.BoolVarP(&c.json, "json", "j", false, "print one JSON document")
	fs.BoolVar(&c.wide, "wide", false, "do not cut tables to the terminal's width")
	fs.BoolVarP(&c.verbose, "verbose", "v", false, "more detail")
	fs.BoolVar(&c.noProgress, "np", false, "no progress bar (--no-progress)")
	return fs
}

// addFormatFlag adds --format to the flag set of a verb that prints a list.
func addFormatFlag(fs *pflag.FlagSet, c *commonFlags) {
	fs.StringVarP(&c.format, "format", "o", "", "output format: "+listing.Names()+" (default table; --json is --format json)")
}

// listFormat resolves --format and its alias --json. A format other than table turns on
// machine output, as --json does (no progress bar, no color, nothing on stderr but errors).
func (c *commonFlags) listFormat() (listing.Format, error) {
	f, err := listing.Parse(c.format)
	if err != nil {
		return "", fmt.Errorf("--format: %w", err)
	}
	if c.json {
		if c.format != "" && f != listing.JSON {
			return "", fmt.Errorf("--json is --format json: it cannot go with --format %s", f)
		}
		f = listing.JSON
	}
	c.json = f.Machine()
	return f, nil
}

// parseFlags parses args for verb. It prints help and returns done when asked to, and
// returns an error message for a usage error.
func parseFlags(e *env, fs *pflag.FlagSet, usage string, args []string) (done bool, err error) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(e.stdout, usage)
			fmt.Fprintf(e.stdout, "\nFlags:\n%s", fs.FlagUsages())
			return true, nil
		}
		return false, err
	}
	return false, nil
}

// usageErr reports a usage error for verb and returns the usage exit code.
func usageErr(e *env, verb string, err error) int {
	fmt.Fprintf(e.stderr, "mcorun %s: %v\nRun 'mcorun %s --help' for usage.\n", verb, err, verb)
	return exitUsage
}

var limitRE = regexp.MustCompile(`^\d+%?$`)
var batchRE = regexp.MustCompile(`^(\d+)%?$`)

// check validates the flag values that pflag cannot.
func (c *commonFlags) check() error {
	if c.limit != "" && !limitRE.MatchString(c.limit) {
		return fmt.Errorf("invalid --limit-nodes %q: want a number or a percentage such as 10 or 25%%", c.limit)
	}
	if c.batch != "" {
		m := batchRE.FindStringSubmatch(c.batch)
		if m == nil || strings.Trim(m[1], "0") == "" {
			return fmt.Errorf("invalid --batch %q: want a positive number or percentage such as 10 or 25%%", c.batch)
		}
	}
	if c.one {
		c.limit = "1"
	}
	return nil
}

// buildFilter turns the filter flags into a message.Filter, checking the data plugin calls
// of -S against data (nil: unchecked). A bad expression is a usage error.
func (c *commonFlags) buildFilter(data ddl.DataFunc) (message.Filter, error) {
	f, err := filter.Build(filter.Options{
		Facts: c.facts, Classes: c.classes, Identities: c.identities,
		Agents: c.agents, With: c.with, Select: c.selectExpr, Data: data,
	})
	if err != nil {
		return message.Filter{}, fmt.Errorf("bad filter: %w", err)
	}
	return f, nil
}

// configPath picks the config file: --config, else ~/.mcollective, else the system file.
func configPath(e *env, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if e.home != "" {
		p := filepath.Join(e.home, ".mcollective")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return "/etc/mcollective/client.cfg"
}

// errConfig marks configuration errors, which map to the usage exit code.
var errConfig = errors.New("configuration error")

// loadConfig loads and checks the client config, so that a broken one fails before
// anything is sent.
func loadConfig(e *env, c *commonFlags) (*config.Config, error) {
	if e.sandboxConfig != nil {
		if c.collective != "" && !contains(e.sandboxConfig.Collectives, c.collective) {
			return nil, fmt.Errorf("%w: collective %q is not one of the sandbox's %s", errConfig, c.collective, strings.Join(e.sandboxConfig.Collectives, ", "))
		}
		return e.sandboxConfig, nil
	}
	path := configPath(e, c.configFile)
	cfg, err := config.Load(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: config file %s not found: pass --config FILE, or create ~/.mcollective or /etc/mcollective/client.cfg", errConfig, path)
		}
		return nil, fmt.Errorf("%w: %s: %w", errConfig, path, err)
	}
	cfg.LookupEnv = func(k string) (string, bool) {
		v := e.getenv(k)
		return v, v != ""
	}
	if cfg.Connector != "rabbitmq" {
		return nil, fmt.Errorf("%w: %s: connector = %q is not supported; set connector = rabbitmq", errConfig, path, cfg.Connector)
	}
	if _, err := cfg.RabbitMQ(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errConfig, path, err)
	}
	if c.collective != "" && !contains(cfg.Collectives, c.collective) {
		return nil, fmt.Errorf("%w: collective %q is not one of %s in %s", errConfig, c.collective, strings.Join(cfg.Collectives, ", "), path)
	}
	return cfg, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// chooseMethod settles the discovery method and its options: --dm, else the config's
// default_discovery_method, else mc; --nodes is the flatfile method's given list. A filter the
// method cannot evaluate is refused here, before anything is sent.
func (c *commonFlags) chooseMethod(cfg *config.Config, f message.Filter, given bool) error {
	method := c.dm
	if method == "" {
		method = cfg.DefaultDiscoveryMethod
	}
	m, err := discovery.Canonical(method)
	if err != nil {
		if c.dm == "" {
			return fmt.Errorf("%w: %s: default_discovery_method: %w", errConfig, cfg.ConfigFile, err)
		}
		return fmt.Errorf("--dm: %w", err)
	}
	opts, err := discovery.ParseOptions(c.do)
	if err != nil {
		return fmt.Errorf("--do: %w", err)
	}
	if given {
		if c.dm != "" && m != discovery.Flatfile {
			return fmt.Errorf("--nodes gives the nodes, so --dm %s cannot: drop one of them", m)
		}
		if len(opts) > 0 {
			return fmt.Errorf("--do applies to a discovery method, not to --nodes; use --dm flatfile --do file=FILE instead")
		}
		c.method, c.methodOpts = discovery.Flatfile, nil
		return nil
	}
	if len(opts) == 0 {
		opts = nil
	}
	if m == discovery.MC && opts != nil {
		return fmt.Errorf("--do: the mc discovery method takes no options; choose a method with --dm")
	}
	if err := discovery.Check(m, f, c.callAgent); err != nil {
		return err
	}
	c.method, c.methodOpts = m, opts
	return nil
}

// readNodes reads --nodes: identities one a line, '#' comments and blank lines skipped, or
// any other list the flatfile discovery method reads (runtime/discovery.ParseNodeList).
func readNodes(e *env, name string) ([]string, error) {
	if name == "" {
		return nil, nil
	}
	var r io.Reader
	if name == "-" {
		r = e.stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("--nodes: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, discovery.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("--nodes %s: %w", name, err)
	}
	if len(b) > discovery.MaxFileSize {
		return nil, fmt.Errorf("--nodes %s: larger than %d bytes", name, discovery.MaxFileSize)
	}
	nodes, err := discovery.ParseNodeList(b, name, "")
	if err != nil {
		return nil, fmt.Errorf("--nodes: %w", err)
	}
	seen := make(map[string]bool, len(nodes))
	out := nodes[:0]
	for _, n := range nodes {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// discoverOptions builds the per-call discovery options.
func (c *commonFlags) discoverOptions(f message.Filter, nodes []string) client.DiscoverOptions {
	return client.DiscoverOptions{
		Filter:     f,
		Timeout:    time.Duration(c.discoveryTimeout),
		Nodes:      nodes,
		Collective: c.collective,
		Method:     c.method, MethodOptions: c.methodOpts,
	}
}

// callDiscoverOptions are the discovery options of a verb that goes on to call agent. A
// source other than mc is asked for the nodes with the agent, as the call's own plan asks:
// an inventory node, or a PuppetDB node, without it is not targeted.
func (c *commonFlags) callDiscoverOptions(f message.Filter, nodes []string, agent string) client.DiscoverOptions {
	o := c.discoverOptions(f, nodes)
	if c.method == "" || c.method == discovery.MC {
		return o
	}
	o.CallAgent = agent
	if !slices.Contains(f.Agent, agent) {
		o.Filter.Agent = append(slices.Clone(f.Agent), agent)
	}
	return o
}

// listOptions are the discovery options of the verbs whose output is the discovered list
// itself (find, ping): --limit-nodes and -1 apply to that list. The verbs that go on to call
// the nodes keep the whole discovery and apply the limit in the call's plan instead.
func (c *commonFlags) listOptions(f message.Filter, nodes []string) client.DiscoverOptions {
	o := c.discoverOptions(f, nodes)
	o.Limit, o.LimitSeed = c.limit, c.limitSeed
	return o
}

// callOptions builds the per-call RPC options for an already discovered node set. Nodes from
// --nodes are called directly; discovered ones are routed as mco routes them (directed up to the
// direct addressing threshold, else broadcast with the filter).
func (c *commonFlags) callOptions(f message.Filter, nodes []string, given bool) client.CallOptions {
	var direct, discovered []string
	if given {
		direct = nodes
	} else {
		discovered = nodes
	}
	return client.CallOptions{
		Filter:           f,
		Nodes:            direct,
		Discovered:       discovered,
		Method:           c.method,
		MethodOptions:    c.methodOpts,
		Timeout:          time.Duration(c.timeout),
		DiscoveryTimeout: time.Duration(c.discoveryTimeout),
		Collective:       c.collective,
		Batch:            c.batch,
		BatchSleep:       time.Duration(c.batchSleep),
		Limit:            c.limit,
		LimitSeed:        c.limitSeed,
	}
}
