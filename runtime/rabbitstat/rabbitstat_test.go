package rabbitstat

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/testenv"
)

func TestCountsFromAPI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, _ := r.BasicAuth(); u != "mc" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/api/overview":
			_, _ = w.Write([]byte(`{"object_totals":{"connections":3,"channels":4,"queues":21,"consumers":20,"exchanges":9}}`))
		case "/api/nodes":
			_, _ = w.Write([]byte(`[{"mem_used":1000000},{"mem_used":500000}]`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	c, err := Client{URL: strings.Replace(srv.URL, "http://", "http://mc:pw@", 1)}.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{Connections: 3, Channels: 4, Queues: 21, Consumers: 20, MemoryBytes: 1500000}
	if c != want {
		t.Fatalf("got %+v, want %+v", c, want)
	}
	if d := c.Sub(Counts{Connections: 1, Queues: 1, MemoryBytes: 500000}); d.Connections != 2 || d.Queues != 20 || d.MemoryBytes != 1000000 {
		t.Fatalf("Sub: %+v", d)
	}
	if _, err := (Client{URL: srv.URL}).Counts(context.Background()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("without a login: %v, want a 401 error", err)
	}
}

func TestCountsOnRabbitMQ(t *testing.T) {
	testenv.RequireRabbitMQ(t)
	c, err := Client{URL: "http://127.0.0.1:15672", User: "mcollective", Password: "secret"}.Counts(context.Background())
	if err != nil {
		testenv.SkipOrFail(t, "rabbitmq management API: %v (run .ci/setup-services)", err)
	}
	if c.Connections < 0 || c.Queues < 0 || c.MemoryBytes <= 0 {
		t.Fatalf("implausible counts: %+v", c)
	}
}
