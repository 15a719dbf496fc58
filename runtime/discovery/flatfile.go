package discovery

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mcorun/mcorun/runtime/match"
	"github.com/mcorun/mcorun/runtime/message"
)

// MaxFileSize bounds a flatfile or inventory file, so a wrong path (a disk image, a log)
// fails clearly instead of filling memory.
const MaxFileSize = 256 << 20

// flatfile reads node lists (--dm flatfile --do file=F [--do format=F]).
type flatfile struct{}

func (flatfile) Discover(ctx context.Context, r Request) ([]string, error) {
	if err := Check(Flatfile, r.Filter, r.CallAgent); err != nil {
		return nil, err
	}
	if err := knownOptions(Flatfile, r.Options, "file", "format"); err != nil {
		return nil, err
	}
	file := r.Options["file"]
	if file == "" {
		return nil, sourceErr(Flatfile, fmt.Errorf("no file: pass --do file=FILE (or --nodes FILE)"))
	}
	b, err := readFile(file)
	if err != nil {
		return nil, sourceErr(Flatfile, err)
	}
	nodes, err := ParseNodeList(b, file, r.Options["format"])
	if err != nil {
		return nil, sourceErr(Flatfile, err)
	}
	return filterIdentities(ctx, nodes, r.Filter.Identity)
}

// readFile reads a source file of at most MaxFileSize bytes.
func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a file", name)
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s: %d bytes is more than the %d a discovery file may hold", name, st.Size(), MaxFileSize)
	}
	return os.ReadFile(name)
}

// knownOptions refuses options the method does not read, so a misspelt one is not ignored.
func knownOptions(method string, opts map[string]string, known ...string) error {
	for k := range opts {
		found := false
		for _, n := range known {
			found = found || k == n
		}
		if !found {
			return tagged(ErrSource, "%s: unknown option %q: the %s method takes %s", method, k, method, strings.Join(known, ", "))
		}
	}
	return nil
}

// ParseNodeList reads a list of node identities in one of the formats Choria's flatfile
// discovery reads: text (one identity a line; blank lines and # comments skipped), a JSON or
// YAML list of identities, or a document of replies: mco's and Choria's rpc --json (a list of
// objects with "sender", or an object whose "replies" are), mcorun's rpc --json, and
// mcorun find --json ({"nodes": [...]}). format is "text", "json", "yaml" or "" to decide by
// name's extension, else by the content. Every identity must be a plain name.
func ParseNodeList(b []byte, name, format string) ([]string, error) {
	if format == "" {
		switch strings.ToLower(filepath.Ext(name)) {
		case ".json":
			format = "json"
		case ".yaml", ".yml":
			format = "yaml"
		default:
			if t := bytes.TrimSpace(b); len(t) > 0 && (t[0] == '[' || t[0] == '{') {
				format = "json"
			} else {
				format = "text"
			}
		}
	}
	var (
		nodes []string
		err   error
	)
	switch strings.ToLower(format) {
	case "text", "txt":
		nodes, err = textNodes(b)
	case "json", "choriarpc", "results", "rpc", "response":
		var doc any
		if err = json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: not valid JSON: %w", name, err)
		}
		nodes, err = docNodes(doc)
	case "yaml", "yml":
		var doc any
		if err = yaml.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: not valid YAML: %w", name, err)
		}
		nodes, err = docNodes(doc)
	default:
		return nil, fmt.Errorf("%s: unknown format %q: use text, json or yaml", name, format)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("%s: no identities in the file", name)
	}
	return nodes, nil
}

func textNodes(b []byte) ([]string, error) {
	var nodes []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if err := checkIdentity(s); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		nodes = append(nodes, s)
	}
	return nodes, sc.Err()
}

// docNodes takes the identities out of a decoded JSON or YAML document.
func docNodes(doc any) ([]string, error) {
	switch d := doc.(type) {
	case []any:
		nodes := make([]string, 0, len(d))
		for i, e := range d {
			var id any = e
			if m, ok := e.(map[string]any); ok {
				id = m["sender"]
			}
			s, ok := id.(string)
			if !ok {
				return nil, fmt.Errorf("entry %d: want an identity or a reply with a \"sender\", got %s", i+1, describe(e))
			}
			if err := checkIdentity(s); err != nil {
				return nil, fmt.Errorf("entry %d: %w", i+1, err)
			}
			nodes = append(nodes, s)
		}
		return nodes, nil
	case map[string]any:
		for _, key := range []string{"replies", "nodes"} {
			if v, ok := d[key]; ok {
				if _, ok := v.([]any); !ok {
					return nil, fmt.Errorf("%q: want a list, got %s", key, describe(v))
				}
				return docNodes(v)
			}
		}
		return nil, fmt.Errorf("an object without \"replies\" or \"nodes\": want a list of identities or a reply document")
	default:
		return nil, fmt.Errorf("want a list of identities or a reply document, got %s", describe(doc))
	}
}

// describe names a decoded value's kind for an error message.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// checkIdentity refuses what cannot be a node identity.
func checkIdentity(s string) error {
	if s == "" {
		return fmt.Errorf("empty identity")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("identity %q holds white space or a control character", s)
	}
	return nil
}

// idNode is a node known by its identity alone.
type idNode string

func (n idNode) Identity() string      { return string(n) }
func (idNode) Fact(string) (any, bool) { return nil, false }
func (idNode) Classes() []string       { return nil }
func (idNode) HasAgent(string) bool    { return false }
func (idNode) Agents() []string        { return nil }
func (idNode) Data(context.Context, string, any) (map[string]any, error) {
	return nil, fmt.Errorf("no data plugins in a node list")
}

// filterIdentities keeps the nodes that -I entries select, with the nodes' own matcher.
func filterIdentities(ctx context.Context, nodes, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nodes, nil
	}
	f := message.Filter{Identity: ids}
	out := nodes[:0:0]
	m := match.Matcher{Regexps: match.NewRegexps()} // every node is matched with the same regexes
	for _, n := range nodes {
		ok, err := m.Match(ctx, f, idNode(n))
		if err != nil {
			return nil, tagged(ErrUnsupportedFilter, "%w", err)
		}
		if ok {
			out = append(out, n)
		}
	}
	return out, nil
}
