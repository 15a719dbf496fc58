package playbook

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/starlib"
)

// TestReportNotSent: a step whose request never went out to some nodes lists them under
// not_sent, not missing; lost replies carry their reason.
func TestReportNotSent(t *testing.T) {
	r := &recorder{rep: &Report{}}
	r.step(time.Unix(0, 0), starlib.Event{Kind: "rpc", Agent: "rpcutil", Action: "ping", Targets: []string{"a", "b", "c"},
		Missing: []string{"b"}, MissingReasons: map[string]string{"b": "broker connection lost"}, NotSent: []string{"c"},
		Err: "rpc: rpcutil.ping: publish: connector: disconnected"})
	b, err := json.Marshal(r.rep.Steps[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"missing":["b"]`, `"missing_reasons":{"b":"broker connection lost"}`, `"not_sent":["c"]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("step %s, want %s", b, want)
		}
	}
	// A step that sent to every target has no not_sent key at all.
	r.step(time.Unix(0, 0), starlib.Event{Kind: "rpc", Targets: []string{"a"}, OK: []string{"a"}})
	if b, _ := json.Marshal(r.rep.Steps[1]); strings.Contains(string(b), "not_sent") {
		t.Errorf("step %s has not_sent", b)
	}
}
