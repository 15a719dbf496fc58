package ddl

import "testing"

func TestPuppetServerAddress(t *testing.T) {
	tests := map[string]string{
		"puppet": "", "puppet.example.com:8140": "", "10.0.0.1": "", "10.0.0.1:8140": "", "::1": "",
		"[::1]:8140": "", "[::1]": "", "bad_host": "The hostname 'bad_host' is not a valid hostname",
		"host:port": "The port 'port' is not a valid puppet master port", ":8140": "The hostname '' is not a valid hostname",
	}
	for in, want := range tests {
		if err := validateWith(in, ":puppet_server_address"); (err == nil) != (want == "") {
			t.Errorf("validateWith(%q, :puppet_server_address) = %v", in, err)
		}
		err := puppetServerAddress(in)
		if (err == nil) != (want == "") || err != nil && err.Error() != want {
			t.Errorf("puppetServerAddress(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestPuppetTagsAndVariable(t *testing.T) {
	for _, tc := range []struct {
		in, validator string
		ok            bool
	}{
		{"web,base::ntp", ":puppet_tags", true},
		{"a::b::c", ":puppet_tags", true},
		{"bad tag", ":puppet_tags", false},
		{"x;rm", ":puppet_tags", false},
		{"production", ":puppet_variable", true},
		{"prod-env", ":puppet_variable", false},
	} {
		if err := validateWith(tc.in, tc.validator); (err == nil) != tc.ok {
			t.Errorf("validateWith(%q, %s) = %v, want ok=%v", tc.in, tc.validator, err, tc.ok)
		}
	}
}
