package ddl

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"unicode/utf8"
)

// The puppet agent's DDL names three validators of the puppet plugin's own: puppet_tags,
// puppet_variable and puppet_server_address. They live here, beside MCollective's named
// validators, so that clients and servers validate puppet inputs alike.

var (
	puppetOneLetterRE = regexp.MustCompile(`\A[a-zA-Z]\n?\z`)
	puppetVariableRE  = regexp.MustCompile(`\A[a-zA-Z0-9_]+\n?\z`)
)

// ValidPuppetName is the plugin's valid_name?: one letter, or letters, digits and underscores.
func ValidPuppetName(s string) bool {
	if utf8.RuneCountInString(s) == 1 {
		return puppetOneLetterRE.MatchString(s)
	}
	return puppetVariableRE.MatchString(s)
}

// puppetVariable is the puppet_variable validator (environment names).
func puppetVariable(s string) error {
	if err := shellsafe(s); err != nil {
		return err
	}
	if !ValidPuppetName(s) {
		return fmt.Errorf("Invalid variable name '%s' specified", s)
	}
	return nil
}

// puppetTags is the puppet_tags validator: a comma list of tags whose "::" parts are each a
// valid variable name.
func puppetTags(s string) error {
	if err := shellsafe(s); err != nil {
		return err
	}
	for _, tag := range RubySplit(s, ",") {
		for _, part := range RubySplit(tag, "::") {
			if err := puppetVariable(part); err != nil {
				return err
			}
		}
	}
	return nil
}

// RubySplit is Ruby's String#split with a string separator: trailing empty fields are
// dropped, and an empty string splits into nothing.
func RubySplit(s, sep string) []string {
	parts := strings.Split(s, sep)
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// puppetServerAddress is the puppet_server_address validator: a host name, IPv4 or IPv6 address,
// with an optional port ("host:8140", "[::1]:8140").
func puppetServerAddress(s string) error {
	if err := shellsafe(s); err != nil {
		return err
	}
	return CheckPuppetServer(s)
}

var (
	puppetHostNameRE = regexp.MustCompile(`\A(([a-zA-Z]|[a-zA-Z][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*([A-Za-z]|[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9])\n?\z`)
	puppetPortRE     = regexp.MustCompile(`\A\d+\n?\z`)
	puppetBracketRE  = regexp.MustCompile(`\A\[[a-fA-F0-9:.]*\](:\d*)?`)
	puppetIntRE      = regexp.MustCompile(`\A\d+\n?\z`)
)

// ParsePuppetServer splits a server address into its name and port as the plugin does; hasPort
// is false when no port was given.
func ParsePuppetServer(s string) (name, port string, hasPort bool) {
	switch {
	case isPuppetIP(s, true):
		return s, "", false
	case puppetBracketRE.MatchString(s):
		parts := RubySplit(s[1:], "]")
		if len(parts) == 0 {
			return "", "", false
		}
		if len(parts) > 1 && parts[1] != "" {
			return parts[0], parts[1][1:], true // the port follows "]:"
		}
		return parts[0], "", false
	case strings.Count(s, ":") == 1:
		parts := RubySplit(s, ":")
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

// isPuppetIP reports whether s is an IP address (only IPv6 when v6only), as Ruby's IPAddr parses
// it; a bare integer is not an address.
func isPuppetIP(s string, v6only bool) bool {
	if puppetIntRE.MatchString(s) {
		return false
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return false
	}
	return !v6only || ip.Is6()
}

// CheckPuppetServer is the plugin's validate_server.
func CheckPuppetServer(s string) error {
	name, port, hasPort := ParsePuppetServer(s)
	if !isPuppetIP(name, false) && !puppetHostNameRE.MatchString(name) {
		return fmt.Errorf("The hostname '%s' is not a valid hostname", name)
	}
	if hasPort && !puppetPortRE.MatchString(port) {
		return fmt.Errorf("The port '%s' is not a valid puppet master port", port)
	}
	return nil
}
