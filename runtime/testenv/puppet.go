package testenv

import (
	"os/exec"
	"testing"
)

// RequirePuppet returns the path of the puppet command (Debian's puppet-agent), or skips
// (under CI, fails) the test when it is not installed.
func RequirePuppet(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("puppet")
	if err != nil {
		SkipOrFail(t, "puppet not installed: run .ci/setup-services (apt-get install puppet-agent)")
		return ""
	}
	return p
}
