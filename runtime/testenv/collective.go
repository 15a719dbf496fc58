package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// DefaultMgmtURL is where the integration tests expect RabbitMQ's management API, with the
// mcollective user's credentials (see .ci/setup-services).
const DefaultMgmtURL = "http://mcollective:secret@127.0.0.1:15672"

// MgmtURLEnv names the environment variable that overrides DefaultMgmtURL.
const MgmtURLEnv = "MCORUN_TEST_RABBITMQ_MGMT"

// VHost is the RabbitMQ vhost the integration tests use.
const VHost = "/mcollective"

// Collective declares a fresh collective on the test RabbitMQ, a topic exchange
// <c>_broadcast and a direct exchange <c>_directed in VHost, and returns its name. The
// exchanges are deleted when the test ends. Tests that each use their own collective never
// see each other's nodes, even when they run in parallel. It skips (under CI, fails) the
// test when the management API is not reachable.
func Collective(t testing.TB) string {
	t.Helper()
	c := freshCollective()
	for _, x := range collectiveExchanges(c) {
		path := "/api/exchanges/" + url.PathEscape(VHost) + "/" + x.name
		if code, err := mgmt(http.MethodPut, path, `{"type":"`+x.typ+`","durable":false}`); err != nil || code >= 300 {
			SkipOrFail(t, "rabbitmq management API: declare exchange %s: status %d: %v (run .ci/setup-services)", x.name, code, err)
			return ""
		}
		t.Cleanup(func() { _, _ = mgmt(http.MethodDelete, path, "") })
	}
	return c
}

// freshCollective returns a new random collective name.
func freshCollective() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "t" + hex.EncodeToString(b)
}

// exchange is a RabbitMQ exchange to declare.
type exchange struct{ name, typ string }

// collectiveExchanges are the exchanges of collective c.
func collectiveExchanges(c string) []exchange {
	return []exchange{{c + "_broadcast", "topic"}, {c + "_directed", "direct"}}
}

// RequireReplyExchange makes sure the mcollective_reply exchange, which clients with
// plugin.rabbitmq.use_reply_exchange receive replies through, exists in VHost. It declares
// it when missing and never deletes it, since other collectives share it.
func RequireReplyExchange(t testing.TB) {
	t.Helper()
	path := "/api/exchanges/" + url.PathEscape(VHost) + "/mcollective_reply"
	code, err := mgmt(http.MethodGet, path, "")
	if err == nil && code == http.StatusOK {
		return
	}
	if code, err = mgmt(http.MethodPut, path, `{"type":"direct","durable":true}`); err != nil || code >= 300 {
		SkipOrFail(t, "rabbitmq management API: declare exchange mcollective_reply: status %d: %v", code, err)
	}
}

// mgmt calls the management API and returns the HTTP status.
func mgmt(method, path, body string) (int, error) {
	base := os.Getenv(MgmtURLEnv)
	if base == "" {
		base = DefaultMgmtURL
	}
	return mgmtAt(base, method, path, body)
}

// mgmtAt calls the management API at base (with credentials) and returns the HTTP status.
func mgmtAt(base, method, path, body string) (int, error) {
	u, err := url.Parse(base)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", MgmtURLEnv, err)
	}
	user := u.User
	u.User = nil
	req, err := http.NewRequest(method, strings.TrimSuffix(u.String(), "/")+path, strings.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("management request: %w", err)
	}
	if user != nil {
		pw, _ := user.Password()
		req.SetBasicAuth(user.Username(), pw)
	}
	req.Header.Set("content-type", "application/json")
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("management request: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
