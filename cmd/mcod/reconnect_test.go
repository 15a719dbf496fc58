package main

import (
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/testenv"
)

// TestReconnectAfterBrokerOutage takes the broker away from a running mcod for a few
// seconds, brings it back, and checks that stock mco gets the node's ping reply again
// without anyone touching mcod.
func TestReconnectAfterBrokerOutage(t *testing.T) {
	f := newFleet(t)
	o := testenv.NewOutage(t, f.addr)
	host, port, _ := strings.Cut(o.Addr(), ":")
	f.start(nodeSpec{identity: "phoenix", facts: "role: web\n", classes: []string{"base"}, extra: "plugin.rabbitmq.pool.1.host = " + host + "\nplugin.rabbitmq.pool.1.port = " + port + "\nplugin.rabbitmq.max_reconnect_delay = 2\n"})
	if out := f.mco(t, "find"); !strings.Contains(out, "phoenix") {
		t.Fatalf("before the outage: mco find = %q", out)
	}

	o.Down()
	f.waitLog(t, "phoenix", "connection lost, reconnecting", 15*time.Second)
	time.Sleep(3 * time.Second) // connects are refused for a while, as during a restart
	if err := o.Up(); err != nil {
		t.Fatalf("broker back on %s: %v", o.Addr(), err)
	}
	f.waitLog(t, "phoenix", "connector: reconnected", 30*time.Second)

	if out := f.mco(t, "ping"); !strings.Contains(out, "phoenix") {
		t.Fatalf("after the outage: mco ping =\n%s", out)
	}
}
