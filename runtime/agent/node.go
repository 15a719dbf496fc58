package agent

import (
	"context"
	"time"

	"github.com/mcorun/mcorun/runtime/ddl"
)

// Node is what an agent or a data plugin may ask of the node serving it: its facts, classes,
// agents, collectives, configuration, counters and data plugins. The server provides one to
// the function that builds a node's plugins (server.Options.Plugins).
type Node interface {
	// Facts returns every fact, keyed by name.
	Facts() map[string]any
	// Fact returns one fact as MCollective's Facts[name] does; false when it is not set.
	Fact(name string) (any, bool)
	// Classes returns the configuration management classes (the classesfile lines).
	Classes() []string
	// Agents returns the DDLs of every agent the node serves, sorted by name.
	Agents() []*ddl.Agent
	// Collectives returns every collective the node belongs to.
	Collectives() []string
	// MainCollective returns the main collective.
	MainCollective() string
	// Stats returns the daemon's counters.
	Stats() Stats
	// Now is the node's time (its clock), e.g. rpcutil ping's pong.
	Now() time.Time
	// ConfigItem returns the active value of a configuration property, e.g. "ttl"; false
	// when the property does not exist.
	ConfigItem(name string) (any, bool)
	// DataPlugins returns the names of the data plugins served, e.g. "fstat_data".
	DataPlugins() []string
	// Data runs a data plugin query. A *ddl.ValidationError gives its own status in the
	// reply; any other error gives UnknownError.
	Data(ctx context.Context, source string, query any) (map[string]any, error)
}

// Stats are the daemon's counters and identity, as MCollective's RunnerStats keeps them.
type Stats struct {
	StartTime   time.Time
	Total       int64 // messages received
	Validated   int64 // messages that passed security validation
	Unvalidated int64 // messages that failed security validation
	Passed      int64 // messages that passed the filter
	Filtered    int64 // messages that did not pass the filter
	Replies     int64 // replies sent
	TTLExpired  int64 // messages dropped for an expired TTL
	ConfigFile  string
	Pid         int      // 0 means this process
	Threads     []string // descriptions of the daemon's workers
}
