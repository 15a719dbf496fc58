package ddl

import (
	"errors"
	"regexp"
)

// The nettest agent's DDL names a validator of its plugin's own, nettest_fqdn: an IPv4
// address or a host name made of dot-separated labels of letters, digits and hyphens, each
// starting with a letter and not ending with a hyphen.

var nettestHostnameRE = regexp.MustCompile(`\A(([a-zA-Z]|[a-zA-Z][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*([A-Za-z]|[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9])\z`)

// nettestFQDN is the nettest_fqdn validator.
func nettestFQDN(s string) error {
	if ipaddress(s, true) == nil || nettestHostnameRE.MatchString(s) {
		return nil
	}
	return errors.New("value should be a valid fqdn")
}

// IsNettestHostname reports whether s has the form of a host name by nettest's rule (as
// opposed to an address): the nettest agent resolves such names and uses anything else as
// it is.
func IsNettestHostname(s string) bool { return nettestHostnameRE.MatchString(s) }
