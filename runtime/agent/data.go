package agent

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/ddl"
)

// ErrUnknownData is wrapped by the error a DataRegistry returns for a plugin it does not hold.
var ErrUnknownData = errors.New("unknown data plugin")

// ErrDataTimeout is wrapped by the error a lookup returns when a plugin outlives its DDL
// timeout.
var ErrDataTimeout = errors.New("data plugin timed out")

// DataPlugin is one data plugin (fact, fstat, puppet, ...): its DDL and the function that
// answers a query. Data plugins answer the data function calls of compound filters
// (fstat("/etc/motd").size > 0) and rpcutil's get_data action, as MCollective's Data plugins
// do. Query returns only the outputs it sets; Lookup adds the DDL defaults for the rest.
type DataPlugin struct {
	DDL *ddl.Data
	// Query answers one query. It must end soon after ctx does: Lookup waits for it, so
	// that the work never outlives the worker slot that runs it.
	Query func(ctx context.Context, query any) (map[string]any, error)
}

// Name is the plugin's name, e.g. "fstat".
func (p *DataPlugin) Name() string { return p.DDL.Metadata.Name }

// Lookup runs a query as MCollective's Data::Base#lookup does: it validates the query against
// the DDL (a *ddl.ValidationError on failure), runs Query under the DDL timeout (one second
// when the DDL has none; an error wrapping ErrDataTimeout once it has passed), and returns
// every DDL output, defaults first, overlaid with the plugin's results. A string query for a
// boolean or numeric input is converted first, as rpcutil get_data does.
func (p *DataPlugin) Lookup(ctx context.Context, query any) (map[string]any, error) {
	if s, ok := query.(string); ok && p.DDL.Query != nil && p.DDL.Query.Type != "string" {
		if v, err := p.DDL.Query.Convert(s); err == nil {
			query = v
		}
	}
	if err := p.DDL.ValidateQuery(query); err != nil {
		return nil, err
	}
	timeout := time.Duration(p.DDL.Metadata.Timeout) * time.Second
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Query runs here, not on a goroutine of its own: the caller's worker slot stays taken
	// until the work has ended, so a plugin that overruns its timeout cannot make the node run
	// more work at once than its bound. Plugins must therefore end soon after ctx does.
	m, err := p.Query(ctx, query)
	if ctx.Err() != nil {
		return nil, &kindError{msg: fmt.Sprintf("Data plugin %s_data timed out on query '%v'", p.Name(), query), kind: ErrDataTimeout}
	}
	if err != nil {
		return nil, err
	}
	out := p.DDL.Defaults()
	for k, v := range m {
		out[k] = v
	}
	return out, nil
}

// DataRegistry holds the data plugins a node offers, by name ("fstat").
type DataRegistry map[string]*DataPlugin

// NewDataRegistry returns a registry of the given plugins.
func NewDataRegistry(plugins ...*DataPlugin) DataRegistry {
	r := DataRegistry{}
	for _, p := range plugins {
		r[p.Name()] = p
	}
	return r
}

// Names lists the plugins as MCollective's PluginManager names them ("fstat_data"), sorted:
// the data_plugins of rpcutil inventory.
func (r DataRegistry) Names() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n+"_data")
	}
	sort.Strings(names)
	return names
}

// Get returns the plugin called name; name may carry the "_data" suffix.
func (r DataRegistry) Get(name string) (*DataPlugin, bool) {
	p, ok := r[strings.TrimSuffix(strings.ToLower(name), "_data")]
	return p, ok
}

// Query looks name up and runs query through it with Lookup. An unknown plugin gives an error
// wrapping ErrUnknownData whose text is MCollective's.
func (r DataRegistry) Query(ctx context.Context, name string, query any) (map[string]any, error) {
	p, ok := r.Get(name)
	if !ok {
		full := strings.TrimSuffix(strings.ToLower(name), "_data") + "_data"
		return nil, &kindError{msg: fmt.Sprintf("Can't find DDL for data plugin '%s'", full), kind: ErrUnknownData}
	}
	return p.Lookup(ctx, query)
}

// kindError carries MCollective's message verbatim and matches its sentinel with errors.Is.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }
