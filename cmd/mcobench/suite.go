package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/broker"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/floor"
	"github.com/mcorun/mcorun/runtime/rabbitstat"
	"github.com/mcorun/mcorun/runtime/sandbox"
)

type suite struct {
	o       options
	dir     string
	log     io.Writer
	out     io.Writer
	results []*result
	// tsvFailed is set when the TSV could not be written.
	tsvFailed bool
}

// report prints a result and rewrites the TSV with it, so that a run stopped later keeps
// what it measured.
func (s *suite) report(r *result) {
	r.print(s.out)
	s.results = append(s.results, r)
	if s.o.tsv != "" {
		if err := writeTSV(s.o.tsv, s.results); err != nil {
			fmt.Fprintf(s.log, "mcobench: %v\n", err)
			s.tsvFailed = true
		}
	}
}

// result is everything measured at one broker and fleet size.
type result struct {
	broker       string
	nodes, conns int
	started      time.Duration // until every node answered
	floor        time.Duration // the median of one floor round
	rssPerNode   float64       // bytes of this process's RSS per simulated node
	brokerCost   *rabbitstat.Counts
	rows         []row
}

// row is one client command's median run.
type row struct {
	tool, op          string
	wall, cpu         time.Duration
	discovery, agent  time.Duration // mcorun --json's phases
	replies, expected int
	repliesPerRun     int // the replies the client processed in one run (discovery's too)
	err               string
}

func (r *result) lost() bool {
	for _, w := range r.rows {
		if w.tool == "mcorun" && (w.replies != w.expected || w.err != "") {
			return true
		}
	}
	return false
}

func (r *result) print(w io.Writer) {
	two := 2 * r.floor
	fmt.Fprintf(w, "\n%s, %d nodes over %d connections: every node answered %.1f s after start; %.1f MB of RSS per node (in-process nodes)\n",
		r.broker, r.nodes, r.conns, r.started.Seconds(), r.rssPerNode/1e6)
	fmt.Fprintf(w, "  %-18s %9s  %s\n", "floor, one round", ms(r.floor), "p50 of the rounds; two rounds "+ms(two))
	for _, x := range r.rows {
		ratio := "-"
		if two > 0 {
			ratio = fmt.Sprintf("%.2fx", float64(x.wall)/float64(two))
		}
		detail := fmt.Sprintf("%d/%d replies", x.replies, x.expected)
		if x.discovery > 0 {
			detail += fmt.Sprintf(", discovery %s, rpc %s", ms(x.discovery), ms(x.agent))
		}
		if x.repliesPerRun > 0 {
			detail += fmt.Sprintf(", client CPU %s (%.0f µs per reply)", ms(x.cpu), float64(x.cpu.Microseconds())/float64(x.repliesPerRun))
		}
		if x.err != "" {
			detail += "; " + x.err
		}
		fmt.Fprintf(w, "  %-18s %9s  %6s of two floor rounds; %s\n", x.tool+" "+x.op, ms(x.wall), ratio, detail)
	}
	if c := r.brokerCost; c != nil {
		fmt.Fprintf(w, "  broker cost: %s; per node %.2f queues, %.1f kB\n", c, float64(c.Queues)/float64(r.nodes), float64(c.MemoryBytes)/float64(r.nodes)/1e3)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

func writeTSV(path string, rs []*result) error {
	var b strings.Builder
	b.WriteString("broker\tnodes\tconnections\ttool\top\twall_ms\tfloor2_ms\tratio\tcpu_us_per_reply\treplies\texpected\n")
	for _, r := range rs {
		two := float64(2*r.floor) / 1e6
		fmt.Fprintf(&b, "%s\t%d\t%d\tfloor\ttwo-rounds\t%.1f\t%.1f\t1\t0\t%d\t%d\n", r.broker, r.nodes, r.conns, two, two, r.nodes, r.nodes)
		for _, x := range r.rows {
			cpu := 0.0
			if x.repliesPerRun > 0 {
				cpu = float64(x.cpu.Microseconds()) / float64(x.repliesPerRun)
			}
			wall := float64(x.wall) / 1e6
			fmt.Fprintf(&b, "%s\t%d\t%d\t%s\t%s\t%.1f\t%.1f\t%.2f\t%.0f\t%d\t%d\n", r.broker, r.nodes, r.conns, x.tool, x.op, wall, two, wall/two, cpu, x.replies, x.expected)
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// measure runs everything at one broker and fleet size.
func (s *suite) measure(ctx context.Context, brokerName string, n int) (*result, error) {
	conns := min(s.o.connections, n)
	res := &result{broker: brokerName, nodes: n, conns: conns}
	copts := connector.Options{VHost: "/"}
	coll := "mcollective"
	var stat *rabbitstat.Client
	if brokerName == "embedded" {
		br, err := broker.Start(ctx, broker.Options{Addr: "127.0.0.1:0"})
		if err != nil {
			return nil, err
		}
		defer br.Close()
		host, port, _ := splitAddr(br.Addr())
		copts.Pool = []connector.Broker{{Host: host, Port: port, User: "bench", Password: "bench"}}
	} else {
		host, port, err := splitAddr(s.o.rabbit)
		if err != nil {
			return nil, err
		}
		copts.VHost = s.o.vhost
		copts.Pool = []connector.Broker{{Host: host, Port: port, User: s.o.user, Password: s.o.pass}}
		if coll, err = s.declareCollective(); err != nil {
			return nil, err
		}
		defer s.deleteCollective(coll)
		stat = &rabbitstat.Client{URL: s.o.mgmt, User: s.o.user, Password: s.o.pass}
	}
	b := copts.Pool[0]
	fmt.Fprintf(s.log, "mcobench: %s, %d nodes: the floor\n", brokerName, n)
	fl, err := floor.Start(ctx, floor.Options{Addr: b.Addr(), VHost: copts.VHost, User: b.User, Password: b.Password,
		Collective: coll, Nodes: n, Connections: conns})
	if err != nil {
		return nil, err
	}
	var rounds []time.Duration
	for range s.o.rounds + 2 {
		d, got, err := fl.Round(ctx, time.Minute)
		if err == nil && got != n {
			err = fmt.Errorf("floor: %d of %d replies", got, n)
		}
		if err != nil {
			_ = fl.Close()
			return nil, err
		}
		rounds = append(rounds, d)
	}
	_ = fl.Close()
	res.floor = median(rounds)

	var before rabbitstat.Counts
	if stat != nil {
		time.Sleep(6 * time.Second) // the management API's totals refresh every 5 s
		if before, err = stat.Counts(ctx); err != nil {
			fmt.Fprintf(s.log, "mcobench: no broker cost: %v\n", err)
			stat = nil
		}
	}
	runtime.GC()
	debug.FreeOSMemory()
	rss0 := rssBytes()
	fmt.Fprintf(s.log, "mcobench: %s, %d nodes: starting the simulated fleet\n", brokerName, n)
	start := time.Now()
	sb, err := sandbox.Start(ctx, sandbox.Options{Nodes: n, Broker: &copts, Collective: coll, Connections: conns,
		Plugins: sandbox.SimulatedPuppet})
	if err != nil {
		return nil, err
	}
	defer sb.Close()
	res.started = time.Since(start)
	runtime.GC()
	res.rssPerNode = float64(rssBytes()-rss0) / float64(n)
	if stat != nil {
		time.Sleep(6 * time.Second)
		if after, err := stat.Counts(ctx); err == nil {
			d := after.Sub(before)
			res.brokerCost = &d
		}
	}
	cfg := filepath.Join(s.dir, "client.cfg")
	// The sandbox's client keeps no discovery cache and ends a first discovery by the quiet
	// window (its broker is new every run); the benchmark measures mcorun as it runs against
	// a fleet, with its defaults: the cache, and a first discovery that waits --dt.
	text := sb.ClientConfigText() + "plugin.mcorun.discovery_cache = true\nplugin.mcorun.discovery_first = timeout\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		return nil, err
	}
	mcoCfg := filepath.Join(s.dir, "mco.cfg")
	mcoText := text + "libdir = /usr/share/mcollective/plugins\nloglevel = error\ncolor = 0\n" +
		"plugin.rabbitmq.heartbeat_interval = 30\nplugin.rabbitmq.stomp_1_0_fallback = false\n"
	if err := os.WriteFile(mcoCfg, []byte(mcoText), 0o600); err != nil {
		return nil, err
	}
	fmt.Fprintf(s.log, "mcobench: %s, %d nodes: mcorun\n", brokerName, n)
	res.rows = append(res.rows,
		s.repeat(func() row { return s.mcorunPing(ctx, cfg, n) }),
		s.repeat(func() row { return s.mcorunFind(ctx, cfg, n) }))
	if s.o.mco != "" && n <= s.o.mcoMax {
		fmt.Fprintf(s.log, "mcobench: %s, %d nodes: stock mco\n", brokerName, n)
		res.rows = append(res.rows,
			s.repeat(func() row { return s.mcoPing(ctx, mcoCfg, n) }),
			s.repeat(func() row { return s.mcoFind(ctx, mcoCfg, n) }))
	}
	s.report(res) // before the fleet closes, which takes a while at 10,000 nodes
	return res, nil
}

// repeat runs f --rounds times and returns the run of median wall time; any run that lost
// a reply or failed is returned instead, so that a loss is never hidden by the median.
func (s *suite) repeat(f func() row) row {
	var rows []row
	for range s.o.rounds {
		r := f()
		if r.err != "" || r.replies != r.expected {
			return r
		}
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b row) int { return int(a.wall - b.wall) })
	return rows[len(rows)/2]
}

func (s *suite) mcorunPing(ctx context.Context, cfg string, n int) row {
	r := row{tool: "mcorun", op: "rpc ping", expected: n, repliesPerRun: 2 * n}
	var out string
	var err error
	r.wall, r.cpu, out, err = timed(ctx, s.dir, s.o.mcorun, append([]string{"rpc", "rpcutil", "ping", "--config", cfg, "--json", "--np"}, s.timeouts(true)...)...)
	var doc struct {
		OK          []string `json:"ok"`
		Missing     []string `json:"missing"`
		DiscoveryMS float64  `json:"discovery_ms"`
		AgentMS     float64  `json:"agent_ms"`
	}
	if jerr := json.Unmarshal([]byte(out), &doc); jerr != nil && err == nil {
		err = fmt.Errorf("mcorun --json: %w", jerr)
	}
	r.replies = len(doc.OK)
	r.discovery = time.Duration(doc.DiscoveryMS * float64(time.Millisecond))
	r.agent = time.Duration(doc.AgentMS * float64(time.Millisecond))
	if err != nil {
		r.err = err.Error()
	}
	return r
}

func (s *suite) mcorunFind(ctx context.Context, cfg string, n int) row {
	r := row{tool: "mcorun", op: "find", expected: n, repliesPerRun: n}
	var out string
	var err error
	r.wall, r.cpu, out, err = timed(ctx, s.dir, s.o.mcorun, append([]string{"find", "--config", cfg, "--json"}, s.timeouts(false)...)...)
	var doc struct {
		Nodes []string `json:"nodes"`
	}
	if jerr := json.Unmarshal([]byte(out), &doc); jerr != nil && err == nil {
		err = fmt.Errorf("mcorun find --json: %w", jerr)
	}
	r.replies = len(doc.Nodes)
	if err != nil {
		r.err = err.Error()
	}
	return r
}

var mcoFinished = regexp.MustCompile(`Finished processing (\d+) / (\d+) hosts`)

func (s *suite) mcoPing(ctx context.Context, cfg string, n int) row {
	r := row{tool: "mco", op: "rpc ping", expected: n, repliesPerRun: 2 * n}
	var out string
	var err error
	r.wall, r.cpu, out, err = timed(ctx, s.dir, s.o.mco, append([]string{"rpc", "rpcutil", "ping", "--config", cfg}, s.timeouts(true)...)...)
	if m := mcoFinished.FindStringSubmatch(out); m != nil {
		r.replies, _ = strconv.Atoi(m[1])
	}
	if err != nil {
		r.err = err.Error()
	}
	return r
}

func (s *suite) mcoFind(ctx context.Context, cfg string, n int) row {
	r := row{tool: "mco", op: "find", expected: n, repliesPerRun: n}
	var out string
	var err error
	r.wall, r.cpu, out, err = timed(ctx, s.dir, s.o.mco, append([]string{"find", "--config", cfg}, s.timeouts(false)...)...)
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) != "" {
			r.replies++
		}
	}
	if err != nil {
		r.err = err.Error()
	}
	return r
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func splitAddr(addr string) (string, int, error) {
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return "", 0, fmt.Errorf("broker address: %w", err)
	}
	return a.IP.String(), a.Port, nil
}

// declareCollective declares a fresh collective's exchanges on RabbitMQ through the
// management API, so that runs never see other fleets' nodes.
func (s *suite) declareCollective() (string, error) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	c := "bench" + hex.EncodeToString(b)
	for _, x := range []struct{ name, typ string }{{c + "_broadcast", "topic"}, {c + "_directed", "direct"}, {"mcollective_reply", "direct"}} {
		if err := s.mgmt(http.MethodPut, x.name, `{"type":"`+x.typ+`","durable":true}`); err != nil {
			return "", err
		}
	}
	return c, nil
}

func (s *suite) deleteCollective(c string) {
	for _, x := range []string{c + "_broadcast", c + "_directed"} {
		_ = s.mgmt(http.MethodDelete, x, "")
	}
}

func (s *suite) mgmt(method, exchange, body string) error {
	u := strings.TrimSuffix(s.o.mgmt, "/") + "/api/exchanges/" + url.PathEscape(s.o.vhost) + "/" + exchange
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.SetBasicAuth(s.o.user, s.o.pass)
	req.Header.Set("content-type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("rabbitmq management API: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("rabbitmq management API: %s %s: %s", method, exchange, resp.Status)
	}
	return nil
}

// timeouts are the --dt and, for an rpc, --timeout arguments the options ask for.
func (s *suite) timeouts(rpc bool) []string {
	var args []string
	if s.o.dt > 0 {
		args = append(args, "--dt", strconv.Itoa(s.o.dt))
	}
	if rpc && s.o.timeout > 0 {
		args = append(args, "--timeout", strconv.Itoa(s.o.timeout))
	}
	return args
}
