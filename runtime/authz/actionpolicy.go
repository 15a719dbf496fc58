package authz

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/match"
)

// DeniedMessage is the status message MCollective's actionpolicy plugin replies with when it
// denies a request, verbatim. The reply's status code is 1 (RPCAborted).
const DeniedMessage = "You are not authorized to call this agent or action."

// ErrDenied marks a request the policy does not allow. Errors wrapping it say why.
var ErrDenied = errors.New("authz: denied")

// ProviderName is the rpcauthprovider value that selects this package, as in MCollective.
const ProviderName = "action_policy"

// Options configures an ActionPolicy. The zero value denies every agent that has no policy
// file in the current directory's "policies"; use FromConfig for a node's settings.
type Options struct {
	// Dir holds <agent>.policy files and the optional groups file.
	Dir string
	// AllowUnconfigured allows requests to agents without a policy file, and is the verdict
	// of a file without a "policy default" line when no rule matches.
	AllowUnconfigured bool
	// EnableDefault uses <DefaultName>.policy for agents without a policy file of their own.
	// It takes precedence over AllowUnconfigured.
	EnableDefault bool
	// DefaultName names the default policy file without ".policy" ("default").
	DefaultName string
	// Regexps keeps the rules' regular expressions compiled; give it the one the node's
	// server uses. nil makes one for this ActionPolicy.
	Regexps *match.Regexps
}

// ActionPolicy authorizes requests with actionpolicy files. Files are read for every request,
// as the Ruby plugin does, so edits apply without a restart. It is safe for concurrent use.
type ActionPolicy struct {
	opts    Options
	matcher match.Matcher
}

// New returns an ActionPolicy for opts.
func New(opts Options) *ActionPolicy {
	if opts.DefaultName == "" {
		opts.DefaultName = "default"
	}
	if opts.Dir == "" {
		opts.Dir = "policies"
	}
	if opts.Regexps == nil {
		opts.Regexps = match.NewRegexps()
	}
	return &ActionPolicy{opts: opts, matcher: match.Matcher{Regexps: opts.Regexps}}
}

// FromConfig reads a node's plugin.actionpolicy.* settings:
//
//   - policy_dir: the policy directory; by default "policies" beside the config file, which is
//     where the Ruby plugin looks (<configdir>/policies, e.g. /etc/mcollective/policies);
//   - allow_unconfigured, enable_default: booleans read as every boolean setting is
//     (config.ParseBool: 1/0, y/n, yes/no, true/false in any case). Anything else is an error
//     naming the key: the Ruby plugin's /^1|y/ would read "deny" as true, and a typo in a
//     security setting must never open access;
//   - default_name: the default policy's name ("default").
//
// rx keeps the rules' regular expressions compiled, as Options.Regexps.
func FromConfig(cfg *config.Config, rx *match.Regexps) (*ActionPolicy, error) {
	allow, err := cfg.PluginBool("actionpolicy.allow_unconfigured", false)
	if err != nil {
		return nil, err
	}
	enable, err := cfg.PluginBool("actionpolicy.enable_default", false)
	if err != nil {
		return nil, err
	}
	dir := cfg.PluginString("actionpolicy.policy_dir", "")
	if dir == "" {
		dir = filepath.Join(filepath.Dir(cfg.ConfigFile), "policies")
	}
	return New(Options{
		Dir:               dir,
		AllowUnconfigured: allow,
		EnableDefault:     enable,
		DefaultName:       cfg.PluginString("actionpolicy.default_name", "default"),
		Regexps:           rx,
	}), nil
}

// Dir returns the policy directory.
func (a *ActionPolicy) Dir() string { return a.opts.Dir }

// nameRE is what an agent name must look like to be used in a file name.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_\-]*$`)

// Authorize decides whether req may run on node n. It returns nil when it may, and otherwise
// an error wrapping ErrDenied that says why: a rule, the default policy, no policy file, or a
// policy or groups file that cannot be read or parsed (which also wraps ErrPolicySyntax or the
// file error). Every failure denies.
func (a *ActionPolicy) Authorize(ctx context.Context, req Request, n match.Node) error {
	if !nameRE.MatchString(req.Agent) {
		return fmt.Errorf("%w: agent name %q cannot name a policy file", ErrDenied, req.Agent)
	}
	p, err := a.load(req.Agent)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDenied, err)
	}
	if p == nil {
		if a.opts.AllowUnconfigured {
			return nil
		}
		return fmt.Errorf("%w: no policy file for agent %q in %s and allow_unconfigured is off", ErrDenied, req.Agent, a.opts.Dir)
	}
	groups, err := a.groups()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDenied, err)
	}
	d, err := p.Eval(ctx, a.matcher, req, n, groups, a.opts.AllowUnconfigured)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrDenied, d.Reason, err)
	}
	if !d.Allow {
		return fmt.Errorf("%w: %s", ErrDenied, d.Reason)
	}
	return nil
}

// load reads the agent's policy file, or the default one when enabled; it returns nil, nil
// when neither exists.
func (a *ActionPolicy) load(agent string) (*Policy, error) {
	names := []string{agent}
	if a.opts.EnableDefault {
		names = append(names, a.opts.DefaultName)
	}
	for _, name := range names {
		path := filepath.Join(a.opts.Dir, name+".policy")
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("authz: policy file: %w", err)
		}
		p, err := Parse(f, path)
		f.Close()
		return p, err
	}
	return nil, nil
}

// groups reads the groups file; a missing file means no groups.
func (a *ActionPolicy) groups() (map[string][]string, error) {
	path := filepath.Join(a.opts.Dir, "groups")
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("authz: groups file: %w", err)
	}
	defer f.Close()
	return ParseGroups(f, path)
}
