package testenv

import (
	"os/exec"
	"testing"
)

// RequireMCO returns the path of Debian's stock mco client, or skips (under CI, fails) the
// test when it is not installed.
func RequireMCO(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("mco")
	if err != nil {
		SkipOrFail(t, "stock mco not installed: run .ci/setup-services (apt-get install mcollective-client ruby-stomp)")
		return ""
	}
	return p
}

// RequireMcollectived returns the path of Debian's stock mcollectived, or skips (under CI,
// fails) the test when it is not installed.
func RequireMcollectived(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("mcollectived")
	if err != nil {
		SkipOrFail(t, "stock mcollectived not installed: run .ci/setup-services (apt-get install mcollective)")
		return ""
	}
	return p
}
