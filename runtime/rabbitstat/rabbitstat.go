// Package rabbitstat reads RabbitMQ's object counts and memory from its management API
// (/api/overview and /api/nodes): what a fleet costs the broker, for mcod --simulate and
// the scale benchmarks.
package rabbitstat

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultURL is the management API of a RabbitMQ on this machine.
const DefaultURL = "http://127.0.0.1:15672"

// Counts are broker-wide totals: every vhost's connections, channels, queues and consumers,
// and the memory in use on every cluster node.
type Counts struct {
	Connections int   `json:"connections"`
	Channels    int   `json:"channels"`
	Queues      int   `json:"queues"`
	Consumers   int   `json:"consumers"`
	MemoryBytes int64 `json:"memory_bytes"`
}

// Sub returns c - o, such as a fleet's share of the broker.
func (c Counts) Sub(o Counts) Counts {
	return Counts{c.Connections - o.Connections, c.Channels - o.Channels, c.Queues - o.Queues,
		c.Consumers - o.Consumers, c.MemoryBytes - o.MemoryBytes}
}

// String prints the counts on one line.
func (c Counts) String() string {
	return fmt.Sprintf("connections %d, channels %d, queues %d, consumers %d, memory %.1f MB",
		c.Connections, c.Channels, c.Queues, c.Consumers, float64(c.MemoryBytes)/1e6)
}

// Client asks one management API. The zero value asks DefaultURL with no login.
type Client struct {
	// URL is the API's base, such as "http://127.0.0.1:15672"; a user:password in it is
	// the login unless User is set.
	URL            string
	User, Password string
	// HTTP is the client used; nil means one with a 10 s timeout.
	HTTP *http.Client
}

// Counts reads the totals now. The management API refreshes its totals every few seconds
// (collect_statistics_interval), so a count may lag the broker by that much.
func (c Client) Counts(ctx context.Context) (Counts, error) {
	var ov struct {
		ObjectTotals struct {
			Connections int `json:"connections"`
			Channels    int `json:"channels"`
			Queues      int `json:"queues"`
			Consumers   int `json:"consumers"`
		} `json:"object_totals"`
	}
	if err := c.get(ctx, "/api/overview", &ov); err != nil {
		return Counts{}, err
	}
	var nodes []struct {
		MemUsed int64 `json:"mem_used"`
	}
	if err := c.get(ctx, "/api/nodes", &nodes); err != nil {
		return Counts{}, err
	}
	out := Counts{Connections: ov.ObjectTotals.Connections, Channels: ov.ObjectTotals.Channels,
		Queues: ov.ObjectTotals.Queues, Consumers: ov.ObjectTotals.Consumers}
	for _, n := range nodes {
		out.MemoryBytes += n.MemUsed
	}
	return out, nil
}

func (c Client) get(ctx context.Context, path string, v any) error {
	base := c.URL
	if base == "" {
		base = DefaultURL
	}
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("rabbitmq management URL %q: %w", base, err)
	}
	user, password := c.User, c.Password
	if user == "" && u.User != nil {
		user = u.User.Username()
		password, _ = u.User.Password()
	}
	u.User = nil
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(u.String(), "/")+path, nil)
	if err != nil {
		return fmt.Errorf("rabbitmq management API: %w", err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("rabbitmq management API: %w (is the rabbitmq_management plugin on?)", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("rabbitmq management API %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("rabbitmq management API %s: %s: check the URL and that the user has the monitoring or administrator tag", path, resp.Status)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("rabbitmq management API %s: %w", path, err)
	}
	return nil
}
