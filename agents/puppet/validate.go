package puppet

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

// The plugin ships three validators of its own, which its DDL names: puppet_tags,
// puppet_variable and puppet_server_address. The DDL package knows only MCollective's
// validators, so Agent takes these out of the served DDL's inputs and runs them before the
// action, with the same "Cannot validate input" messages a Ruby server gives.
var validators = map[string]func(string) error{
	"puppet_tags":           validateTags,
	"puppet_variable":       validateVariable,
	"puppet_server_address": validateServer,
}

// inputCheck is one input checked by a plugin validator.
type inputCheck struct {
	input string
	check func(string) error
}

// pluginValidators moves the plugin validators out of d's inputs and returns them by action,
// in input name order.
func pluginValidators(d *ddl.Agent) map[string][]inputCheck {
	out := map[string][]inputCheck{}
	for action, act := range d.Actions {
		names := make([]string, 0, len(act.Input))
		for k := range act.Input {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			in := act.Input[k]
			if f, ok := validators[strings.TrimPrefix(in.Validation, ":")]; ok {
				out[action] = append(out[action], inputCheck{input: k, check: f})
				in.Validation = ""
			}
		}
	}
	return out
}

// withValidators runs the checks on the request's inputs before the action.
func withValidators(checks []inputCheck, act agent.Action) agent.Action {
	if len(checks) == 0 {
		return act
	}
	return func(ctx context.Context, req *agent.Request, rep *agent.Reply) {
		for _, c := range checks {
			v, ok := req.Data[c.input]
			if !ok {
				continue
			}
			s, ok := v.(string)
			if !ok {
				rep.Fail(message.InvalidData, fmt.Sprintf("Cannot validate input %s: value should be a string", c.input))
				return
			}
			if err := c.check(s); err != nil {
				rep.Fail(message.InvalidData, fmt.Sprintf("Cannot validate input %s: %s", c.input, err))
				return
			}
		}
		act(ctx, req, rep)
	}
}

// shellsafe is MCollective's shellsafe validator.
func shellsafe(s string) error {
	for _, chr := range []string{"`", "$", ";", "|", "&&", ">", "<"} {
		if strings.Contains(s, chr) {
			return fmt.Errorf("value should not have %s in it", chr)
		}
	}
	return nil
}

var (
	oneLetterRE = regexp.MustCompile(`\A[a-zA-Z]\n?\z`)
	variableRE  = regexp.MustCompile(`\A[a-zA-Z0-9_]+\n?\z`)
)

// validName is the plugin's valid_name?: one letter, or letters, digits and underscores.
func validName(s string) bool {
	if utf8.RuneCountInString(s) == 1 {
		return oneLetterRE.MatchString(s)
	}
	return variableRE.MatchString(s)
}

// validateVariable is the puppet_variable validator (environment names).
func validateVariable(s string) error {
	if err := shellsafe(s); err != nil {
		return err
	}
	if !validName(s) {
		return fmt.Errorf("Invalid variable name '%s' specified", s)
	}
	return nil
}

// validateTags is the puppet_tags validator: a comma list of tags whose "::" parts are each a
// valid variable name.
func validateTags(s string) error {
	if err := shellsafe(s); err != nil {
		return err
	}
	for _, tag := range rubySplit(s, ",") {
		for _, part := range rubySplit(tag, "::") {
			if err := validateVariable(part); err != nil {
				return err
			}
		}
	}
	return nil
}

// rubySplit is Ruby's String#split with a string separator: trailing empty fields are
// dropped, and an empty string splits into nothing.
func rubySplit(s, sep string) []string {
	parts := strings.Split(s, sep)
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// validateServer is the puppet_server_address validator: a host name, IPv4 or IPv6 address,
// with an optional port ("host:8140", "[::1]:8140").
func validateServer(s string) error {
	if err := shellsafe(s); err != nil {
		return err
	}
	return checkServer(s)
}

var (
	hostNameRE = regexp.MustCompile(`\A(([a-zA-Z]|[a-zA-Z][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*([A-Za-z]|[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9])\n?\z`)
	portRE     = regexp.MustCompile(`\A\d+\n?\z`)
	bracketRE  = regexp.MustCompile(`\A\[[a-fA-F0-9:.]*\](:\d*)?`)
	intRE      = regexp.MustCompile(`\A\d+\n?\z`)
)

// parseServer splits a server address into its name and port as the plugin does; hasPort
// is false when no port was given.
func parseServer(s string) (name, port string, hasPort bool) {
	switch {
	case isIP(s, true):
		return s, "", false
	case bracketRE.MatchString(s):
		parts := rubySplit(s[1:], "]")
		if len(parts) == 0 {
			return "", "", false
		}
		if len(parts) > 1 && parts[1] != "" {
			return parts[0], parts[1][1:], true // the port follows "]:"
		}
		return parts[0], "", false
	case strings.Count(s, ":") == 1:
		parts := rubySplit(s, ":")
		if len(parts) == 0 {
			return "", "", false
		}
		if len(parts) > 1 {
			return parts[0], parts[1], true
		}
		return parts[0], "", false
	}
	return s, "", false
}

// isIP reports whether s is an IP address (only IPv6 when v6only), as Ruby's IPAddr parses
// it; a bare integer is not an address.
func isIP(s string, v6only bool) bool {
	if intRE.MatchString(s) {
		return false
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return false
	}
	return !v6only || ip.Is6()
}

// checkServer is the plugin's validate_server.
func checkServer(s string) error {
	name, port, hasPort := parseServer(s)
	if !isIP(name, false) && !hostNameRE.MatchString(name) {
		return fmt.Errorf("The hostname '%s' is not a valid hostname", name)
	}
	if hasPort && !portRE.MatchString(port) {
		return fmt.Errorf("The port '%s' is not a valid puppet master port", port)
	}
	return nil
}
