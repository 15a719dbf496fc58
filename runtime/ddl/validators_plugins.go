package ddl

import (
	"fmt"
	"regexp"
)

// The service and package agents' DDLs name validators of their plugins' own:
// service_name and package_name. They live here, beside MCollective's named validators, so
// that clients and servers refuse a bad name alike, before anything runs.

var (
	serviceNameRE = regexp.MustCompile(`\A[a-zA-Z.\-_\d:@]+\z`)
	packageNameRE = regexp.MustCompile(`\A[a-zA-Z.\-_\d]+\z`)
)

// serviceName is the service_name validator: letters, digits and . - _ : @ only.
func serviceName(s string) error {
	if !serviceNameRE.MatchString(s) {
		return fmt.Errorf("%s is not a valid service name", s)
	}
	return nil
}

// packageName is the package_name validator: letters, digits and . - _ only.
func packageName(s string) error {
	if !packageNameRE.MatchString(s) {
		return fmt.Errorf("%s is not a valid package name", s)
	}
	return nil
}
