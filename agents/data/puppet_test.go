package data

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/agent"
)

func TestPuppet(t *testing.T) {
	status := map[string]any{"applying": false, "enabled": true, "daemon_present": false, "idling": false,
		"lastrun": int64(1700000000), "since_lastrun": int64(12), "status": "stopped", "disable_message": "",
		"message": "Currently stopped; last completed run 12 seconds ago"}
	p := Puppet(func(context.Context) (map[string]any, error) { return status, nil })
	got, err := p.Lookup(context.Background(), nil)
	want := map[string]any{}
	for k, v := range status {
		if k != "message" {
			want[k] = v
		}
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Lookup = %v, %v; want %v", got, err, want)
	}
	if _, err := p.Lookup(context.Background(), "x"); err == nil || !strings.Contains(err.Error(), "No data plugin argument was declared") {
		t.Errorf("Lookup with an argument: %v", err)
	}
	broken := Puppet(func(context.Context) (map[string]any, error) { return nil, errors.New("no summary") })
	if _, err := broken.Lookup(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "no summary") {
		t.Errorf("Lookup of a failing status: %v", err)
	}
	if r := agent.NewDataRegistry(p); !reflect.DeepEqual(r.Names(), []string{"puppet_data"}) {
		t.Errorf("Names = %v", r.Names())
	}
}
