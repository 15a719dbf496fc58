package discovery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/mcorun/mcorun/runtime/match"
	"github.com/mcorun/mcorun/runtime/message"
)

// PuppetDBSettings say where the puppetdb method asks and with which certificates.
type PuppetDBSettings struct {
	Host string // plugin.choria.puppetdb_host; default "puppet", as Choria falls back to
	Port int    // plugin.choria.puppetdb_port; default 8081
	// Cert and Key are the client's certificate and key, CA the file of CAs that signed
	// PuppetDB's certificate (the system's when empty).
	Cert, Key, CA string
}

// URL is PuppetDB's query endpoint.
func (s PuppetDBSettings) URL() string {
	host, port := s.Host, s.Port
	if host == "" {
		host = "puppet"
	}
	if port == 0 {
		port = 8081
	}
	return "https://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/pdb/query/v4"
}

// maxPuppetDBReply bounds a PuppetDB answer.
const maxPuppetDBReply = 64 << 20

// puppetDB asks PuppetDB with PQL built from the filter (--dm puppetdb).
type puppetDB struct{ s PuppetDBSettings }

func (p puppetDB) Discover(ctx context.Context, r Request) ([]string, error) {
	if err := Check(PuppetDB, r.Filter, r.CallAgent); err != nil {
		return nil, err
	}
	if err := knownOptions(PuppetDB, r.Options); err != nil {
		return nil, err
	}
	query, err := PQL(r.Filter, r.Collective)
	if err != nil {
		return nil, err
	}
	client, err := p.httpClient()
	if err != nil {
		return nil, sourceErr(PuppetDB, err)
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	u := p.s.URL()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"?"+url.Values{"query": {query}}.Encode(), nil)
	if err != nil {
		return nil, sourceErr(PuppetDB, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, sourceErr(PuppetDB, fmt.Errorf("%s did not answer within %s; check that PuppetDB runs, or raise --discovery-timeout", u, r.timeout()))
		}
		return nil, sourceErr(PuppetDB, fmt.Errorf("cannot query %s: %w; check plugin.%s, plugin.%s and the certificates", u, err, KeyPuppetDBHost, KeyPuppetDBPort))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPuppetDBReply+1))
	if err != nil {
		return nil, sourceErr(PuppetDB, fmt.Errorf("reading the answer of %s: %w", u, err))
	}
	if len(body) > maxPuppetDBReply {
		return nil, sourceErr(PuppetDB, fmt.Errorf("the answer of %s is larger than %d bytes", u, maxPuppetDBReply))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, sourceErr(PuppetDB, fmt.Errorf("%s refused the query %s: %s: %s", u, query, resp.Status, excerpt(body)))
	}
	return ParsePuppetDBNodes(body)
}

// ParsePuppetDBNodes reads the certnames of a PuppetDB nodes query's answer, leaving out
// deactivated nodes.
func ParsePuppetDBNodes(body []byte) ([]string, error) {
	var rows []struct {
		Certname    *string `json:"certname"`
		Deactivated any     `json:"deactivated"`
	}
	if err := json.Unmarshal(body, &rows); err != nil {
		return nil, sourceErr(PuppetDB, fmt.Errorf("the answer is not a JSON list of nodes: %w", err))
	}
	nodes := make([]string, 0, len(rows))
	for i, row := range rows {
		if row.Certname == nil {
			return nil, sourceErr(PuppetDB, fmt.Errorf("row %d has no certname: a pql: query must select nodes[certname]", i+1))
		}
		if row.Deactivated != nil {
			continue
		}
		if err := checkIdentity(*row.Certname); err != nil {
			return nil, sourceErr(PuppetDB, fmt.Errorf("row %d: %w", i+1, err))
		}
		nodes = append(nodes, *row.Certname)
	}
	return nodes, nil
}

// excerpt is the start of an error body, on one line.
func excerpt(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

func (p puppetDB) httpClient() (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if p.s.CA != "" {
		pool := x509.NewCertPool()
		for _, f := range strings.Split(p.s.CA, ",") {
			pem, err := os.ReadFile(strings.TrimSpace(f))
			if err != nil {
				return nil, fmt.Errorf("CA file: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("CA file %s holds no PEM certificate", f)
			}
		}
		cfg.RootCAs = pool
	}
	switch {
	case p.s.Cert != "" && p.s.Key != "":
		cert, err := tls.LoadX509KeyPair(p.s.Cert, p.s.Key)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case p.s.Cert != "" || p.s.Key != "":
		return nil, fmt.Errorf("a client certificate needs both plugin.%s and plugin.%s", KeyCertificate, KeyKey)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	tr.Proxy = nil
	return &http.Client{Transport: tr}, nil
}

var (
	reFactName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:-]*$`)
	rePQL      = regexp.MustCompile(`^pql:\s*(.+)$`)
)

// PQL is the PuppetDB query for f in collective, as Choria builds it: facts through
// inventory, classes as Class resources, agents as the File resources Choria's modules tag
// mcollective_agent_NAME_server (rpcutil and discovery, which every node serves, need none),
// the collective through the mcollective.server.collectives fact, and -I 'pql:QUERY' as
// certname in QUERY. Entries are ANDed, identities ORed.
func PQL(f message.Filter, collective string) (string, error) {
	if len(f.Compound) > 0 {
		return "", tagged(ErrUnsupportedFilter, "the puppetdb method cannot evaluate compound filters (-S)")
	}
	var parts []string
	add := func(s string) {
		if s != "" {
			parts = append(parts, "("+s+")")
		}
	}
	if collective != "" {
		add(`certname in inventory[certname] { facts.mcollective.server.collectives.match("\d+") = ` + pqlString(collective) + ` }`)
	}
	var ids []string
	for _, id := range f.Identity {
		switch {
		case rePQL.MatchString(id):
			ids = append(ids, "certname in "+rePQL.FindStringSubmatch(id)[1])
		case match.IsRegex(id):
			ids = append(ids, "certname ~ "+pqlString(regexSource(id)))
		default:
			ids = append(ids, "certname = "+pqlString(id))
		}
	}
	add(strings.Join(ids, " or "))
	for _, c := range f.CFClass {
		if match.IsRegex(c) {
			add(`resources {type = "Class" and title ~ ` + pqlString("(?i)"+regexSource(c)) + `}`)
		} else {
			add(`resources {type = "Class" and title = ` + pqlString(classTitle(c)) + `}`)
		}
	}
	for _, a := range f.Agent {
		switch {
		case a == "rpcutil" || a == "discovery" || a == "mcollective":
		case match.IsRegex(a):
			add(`resources {type = "File" and tag ~ ` + pqlString("mcollective_agent_.*"+regexSource(a)+".*_server") + `}`)
		default:
			add(`resources {type = "File" and tag = ` + pqlString("mcollective_agent_"+a+"_server") + `}`)
		}
	}
	for _, ff := range f.Fact {
		q, err := factPQL(ff)
		if err != nil {
			return "", err
		}
		add(q)
	}
	if len(parts) == 0 {
		return "nodes[certname, deactivated] {}", nil
	}
	return "nodes[certname, deactivated] { " + strings.Join(parts, " and ") + " }", nil
}

func factPQL(ff message.FactFilter) (string, error) {
	if !reFactName.MatchString(ff.Fact) {
		return "", tagged(ErrUnsupportedFilter, "the puppetdb method cannot query the fact name %q", ff.Fact)
	}
	fact := "facts." + ff.Fact
	literal := ff.Value == "true" || ff.Value == "false" || isNumber(ff.Value)
	eq := fact + " = " + pqlString(ff.Value)
	if literal {
		eq = fact + " = " + ff.Value + " or " + eq
	}
	switch ff.Operator {
	case "=~":
		return "inventory {" + fact + " ~ " + pqlString(regexSource(ff.Value)) + "}", nil
	case "==":
		return "inventory {" + eq + "}", nil
	case "!=":
		return "inventory {!(" + eq + ")}", nil
	case "<", ">", "<=", ">=":
		if !isNumber(ff.Value) {
			return "", tagged(ErrUnsupportedFilter, "the puppetdb method compares %s%s%s only with a number", ff.Fact, ff.Operator, ff.Value)
		}
		return "inventory {" + fact + " " + ff.Operator + " " + ff.Value + "}", nil
	}
	return "", tagged(ErrUnsupportedFilter, "the puppetdb method has no fact operator %q", ff.Operator)
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil && !strings.ContainsAny(s, "xXpPnN_") // decimal only: no hex, Inf, NaN
}

// regexSource is the source of a /re/ entry.
func regexSource(s string) string {
	if len(s) >= 2 && s[0] == '/' && s[len(s)-1] == '/' {
		return s[1 : len(s)-1]
	}
	return s
}

// classTitle writes a class name as Puppet titles Class resources: Web::Nginx.
func classTitle(c string) string {
	parts := strings.Split(c, "::")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "::")
}

// pqlString quotes s as a PQL string literal.
func pqlString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
