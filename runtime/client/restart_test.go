package client

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcorun/mcorun/agents"
	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/server"
	"github.com/mcorun/mcorun/runtime/testenv"
)

// napAgent is an agent whose only action takes a while, so a test can take the broker away
// while the replies are still to come.
func napAgent(d time.Duration) *agent.Agent {
	a := &ddl.Agent{
		Metadata: ddl.Metadata{Name: "napper", Timeout: 10},
		Actions:  map[string]*ddl.Action{"nap": {Output: map[string]*ddl.Output{}}},
	}
	return &agent.Agent{DDL: a, Actions: map[string]agent.Action{
		"nap": func(ctx context.Context, _ *agent.Request, _ *agent.Reply) {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		},
	}}
}

// withDDL makes a client know agent a's DDL besides the built-in ones.
func withDDL(a *ddl.Agent) func(*Options) {
	return func(o *Options) {
		o.DDLs = func(name string) (*ddl.Agent, error) {
			if name == a.Metadata.Name {
				return a, nil
			}
			return ddl.Builtin(name)
		}
	}
}

// TestCallDuringBrokerRestart drops the client's broker connection while the nodes are
// still working on a call, as a broker restart does. The call must end at once, the nodes
// whose replies were lost reported missing with the reason "broker connection lost" (not an
// error: the playbook decides what to do with them), never wait out its timeout or hang; the
// client must work again once the broker is back, and with the broker gone for good the next
// call fails within seconds, saying what to check.
func TestCallDuringBrokerRestart(t *testing.T) {
	addr := testenv.RequireRabbitMQ(t)
	collective := testenv.Collective(t)
	sec := testSecurity(t)
	nap := napAgent(500 * time.Millisecond)
	ids := []string{"r1", "r2"}
	for _, id := range ids {
		srv, err := server.New(server.Options{Identity: id, Collectives: []string{collective}, DirectAddressing: true, Security: sec, Plugins: agents.Standard})
		if err != nil {
			t.Fatal(err)
		}
		srv.Register(nap)
		if err := srv.Start(dial(t, addr, id)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		})
	}

	o := testenv.NewOutage(t, addr)
	host, port, _ := net.SplitHostPort(o.Addr())
	p, _ := strconv.Atoi(port)
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// MaxReconnectAttempts 0: reconnect forever, MCollective's default.
	conn, err := connector.Dial(dctx, connector.Options{
		Pool:  []connector.Broker{{Host: host, Port: p, User: "mcollective", Password: "secret"}},
		VHost: testenv.VHost, Identity: "testclient", MaxReconnectDelay: 200 * time.Millisecond,
		SendWait: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	f := &fleet{addr: addr, collective: collective, sec: sec}
	c := f.clientOn(t, conn, withDDL(nap.DDL))
	f.waitAll(t, c, ids)

	for _, tc := range []struct {
		name    string
		comesUp bool
	}{
		{"broker comes back", true},
		{"broker stays down", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upErr := make(chan error, 1)
			go func() {
				time.Sleep(200 * time.Millisecond) // the nodes are napping
				o.Down()
				if !tc.comesUp {
					upErr <- nil
					return
				}
				time.Sleep(500 * time.Millisecond)
				upErr <- o.Up()
			}()
			const timeout = 5 * time.Second
			start := time.Now()
			res, err := c.Call(context.Background(), "napper", "nap", nil, CallOptions{Nodes: ids, Timeout: timeout})
			took := time.Since(start)
			if err := <-upErr; err != nil {
				t.Fatalf("proxy back up: %v", err)
			}
			t.Logf("took %v, err %v", took, err)
			// The replies due after the drop are lost: waiting out the timeout only hides
			// the cause behind nodes reported missing.
			if err != nil {
				t.Errorf("call error = %v, want the lost nodes missing with a reason instead", err)
			}
			if took > 2*time.Second {
				t.Errorf("call took %v after the broker connection dropped (timeout %v)", took, timeout)
			}
			if res == nil || len(res.Missing)+len(res.OK)+len(res.Failed) != len(ids) || len(res.Missing) == 0 {
				t.Fatalf("results = %+v, want every node accounted for and those not heard from missing", res)
			}
			for _, n := range res.Missing {
				if why := res.Reason(n); why != ReasonConnectionLost {
					t.Errorf("%s missing because %q, want %q", n, why, ReasonConnectionLost)
				}
			}
			if !tc.comesUp {
				// With no broker at all, the next call fails within the connector's wait,
				// saying what to check, and the nodes it never reached are not sent.
				start := time.Now()
				res, err := c.Call(context.Background(), "rpcutil", "ping", nil, CallOptions{Nodes: ids, Timeout: time.Second})
				took := time.Since(start)
				t.Logf("next call: took %v, err %v", took, err)
				if !errors.Is(err, connector.ErrDisconnected) || !strings.Contains(err.Error(), "check") {
					t.Errorf("next call with no broker: %v, want ErrDisconnected saying what to check", err)
				}
				if took > 3*time.Second {
					t.Errorf("next call with no broker took %v", took)
				}
				if res == nil || len(res.NotSent()) != len(ids) {
					t.Errorf("next call with no broker: %+v, want every node not sent", res)
				}
				return
			}
			// Once the broker is back, calls work again on a fresh temp queue.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for {
				res, err := c.Call(ctx, "rpcutil", "ping", nil, CallOptions{Nodes: ids, Timeout: 2 * time.Second})
				if err == nil && len(res.OK) == len(ids) {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("after the broker came back: %+v, %v", res, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// TestPingMissingExchange pings a collective whose exchanges were never declared: RabbitMQ
// refuses the SEND and closes the connection. The error must name the missing exchange and
// the command that declares it, not only say that the connection dropped.
func TestPingMissingExchange(t *testing.T) {
	addr := testenv.RequireRabbitMQ(t)
	f := &fleet{addr: addr, collective: "nosuch" + strconv.FormatInt(time.Now().UnixNano(), 36), sec: testSecurity(t)}
	c := f.clientOn(t, dial(t, addr, "testclient"), nil)
	start := time.Now()
	_, err := c.Ping(context.Background(), DiscoverOptions{Timeout: 5 * time.Second})
	t.Logf("took %v: %v", time.Since(start), err)
	if err == nil {
		t.Fatal("ping of a collective without exchanges succeeded")
	}
	for _, want := range []string{f.collective + "_broadcast", "rabbitmqadmin --vhost=/mcollective declare exchange name=" + f.collective + "_broadcast type=topic"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ping error does not contain %q: %v", want, err)
		}
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("ping took %v, want the refusal reported at once", time.Since(start))
	}
}
