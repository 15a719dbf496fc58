package ddl

import "testing"

func TestNettestFQDN(t *testing.T) {
	for _, ok := range []string{"a", "localhost", "example.com", "web-01.dc1.example.com", "10.1.2.3", "10.1.2.0/24"} {
		if err := validateWith(ok, ":nettest_fqdn"); err != nil {
			t.Errorf("nettest_fqdn(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-a.com", "a-.com", "a..com", "1host.com", "example.com.", "a b", "a;b", "::1", "x\nexample.com"} {
		if err := validateWith(bad, ":nettest_fqdn"); err == nil || err.Error() != "value should be a valid fqdn" {
			t.Errorf("nettest_fqdn(%q) = %v, want refused", bad, err)
		}
	}
	if !IsNettestHostname("example.com") || IsNettestHostname("10.1.2.3") {
		t.Error("IsNettestHostname does not tell names from addresses")
	}
}
