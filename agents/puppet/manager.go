package puppet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
)

// Paths are the Puppet agent files the agent reads and writes, as Puppet's settings of the
// same names give them (puppet config print --section agent).
type Paths struct {
	LastRunFile    string // lastrunfile: last_run_summary.yaml
	LastRunReport  string // lastrunreport: last_run_report.yaml, for the logs of a run
	DisabledLock   string // agent_disabled_lockfile: present while the agent is disabled
	CatalogRunLock string // agent_catalog_run_lockfile: holds the pid of a run applying a catalog
	PidFile        string // pidfile: the agent daemon's pid
	ResourceFile   string // resourcefile: the resources the last catalog managed
}

// settingKeys are the Puppet settings that locate Paths, in the order of its fields.
var settingKeys = []string{"lastrunfile", "lastrunreport", "agent_disabled_lockfile", "agent_catalog_run_lockfile", "pidfile", "resourcefile"}

// fromSettings builds Paths from Puppet settings by name; every key must be present.
func fromSettings(s map[string]string) (Paths, error) {
	for _, k := range settingKeys {
		if s[k] == "" {
			return Paths{}, fmt.Errorf("puppet setting %s is not known", k)
		}
	}
	return Paths{
		LastRunFile: s["lastrunfile"], LastRunReport: s["lastrunreport"],
		DisabledLock: s["agent_disabled_lockfile"], CatalogRunLock: s["agent_catalog_run_lockfile"],
		PidFile: s["pidfile"], ResourceFile: s["resourcefile"],
	}, nil
}

// ConfigPrinter returns a function that asks Puppet for settings as `puppet config print
// KEY... --section agent [--config FILE]` does, with bin as the puppet command.
func ConfigPrinter(bin, configFile string) func(ctx context.Context, keys []string) (map[string]string, error) {
	return func(ctx context.Context, keys []string) (map[string]string, error) {
		args := append([]string{"config", "print"}, keys...)
		args = append(args, "--section", "agent")
		if configFile != "" {
			args = append(args, "--config", configFile)
		}
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "PATH="+os.Getenv("PATH")+":/opt/puppetlabs/bin")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return parseConfigPrint(out, keys), nil
	}
}

// parseConfigPrint reads `puppet config print` output: "key = value" lines when several keys
// were asked for, the bare value when only one was.
func parseConfigPrint(out []byte, keys []string) map[string]string {
	m := map[string]string{}
	if len(keys) == 1 {
		m[keys[0]] = strings.TrimSpace(string(out))
		return m
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " = ")
		if ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// manager reads and changes the Puppet agent's state through its files, as the puppet
// plugin's PuppetAgentMgr (its v3 manager) does.
type manager struct {
	paths Paths
	now   func() time.Time
}

// pidAlive reports whether the file at path holds the pid of a live process. A process that
// exists but belongs to another user counts as alive.
func pidAlive(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// disabled reports whether the disable lock file exists.
func (m *manager) disabled() bool {
	_, err := os.Stat(m.paths.DisabledLock)
	return err == nil
}

// lockMessage is the disable lock's message, "" when enabled or when the lock holds none.
func (m *manager) lockMessage() string {
	b, err := os.ReadFile(m.paths.DisabledLock)
	if err != nil {
		return ""
	}
	var lock struct {
		Message string `json:"disabled_message"`
	}
	if json.Unmarshal(b, &lock) != nil {
		return ""
	}
	return lock.Message
}

// applying reports whether a catalog run holds the run lock: the lock file is not empty and
// names a live process.
func (m *manager) applying() bool {
	fi, err := os.Stat(m.paths.CatalogRunLock)
	if err != nil || fi.Size() == 0 {
		return false
	}
	return pidAlive(m.paths.CatalogRunLock)
}

// daemonPresent reports whether the agent daemon's pidfile names a live process.
func (m *manager) daemonPresent() bool { return pidAlive(m.paths.PidFile) }

// enable removes the disable lock; "Already enabled" when there is none.
func (m *manager) enable() error {
	if !m.disabled() {
		return errors.New("Already enabled")
	}
	return os.Remove(m.paths.DisabledLock)
}

// disable writes the disable lock with msg, atomically, as puppet agent --disable does;
// "Already disabled" when it exists.
func (m *manager) disable(msg string) error {
	if m.disabled() {
		return errors.New("Already disabled")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]string{"disabled_message": msg}); err != nil {
		return err
	}
	dir := filepath.Dir(m.paths.DisabledLock)
	if err := os.MkdirAll(dir, 0o755); err != nil { // puppet makes its statedir on first use
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(m.paths.DisabledLock))
	if err != nil {
		return err
	}
	_, werr := f.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), m.paths.DisabledLock); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return nil
}

// loadSummary reads last_run_summary.yaml as the plugin's load_summary does: the sections
// changes, time, resources, version and events are always present, and resources always has
// failed, changed, corrective_change, total, restarted and out_of_sync. A missing file gives
// just those defaults.
func (m *manager) loadSummary() (map[string]any, error) {
	summary := map[string]any{"changes": map[string]any{}, "time": map[string]any{},
		"resources": map[string]any{}, "version": map[string]any{}, "events": map[string]any{}}
	b, err := os.ReadFile(m.paths.LastRunFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", m.paths.LastRunFile, err)
	default:
		var file map[string]any
		if err := yaml.Unmarshal(b, &file); err != nil {
			return nil, fmt.Errorf("parse %s: %w", m.paths.LastRunFile, err)
		}
		for k, v := range normalizeYAML(file).(map[string]any) {
			summary[k] = v
		}
	}
	res := map[string]any{"failed": int64(0), "changed": int64(0), "corrective_change": int64(0),
		"total": int64(0), "restarted": int64(0), "out_of_sync": int64(0)}
	if have, ok := summary["resources"].(map[string]any); ok {
		for k, v := range have {
			res[k] = v
		}
	}
	summary["resources"] = res
	for _, k := range []string{"changes", "time", "version", "events"} {
		if _, ok := summary[k].(map[string]any); !ok {
			summary[k] = map[string]any{}
		}
	}
	return summary, nil
}

// normalizeYAML turns decoded YAML into the values the wire carries: int becomes int64.
func normalizeYAML(v any) any {
	switch t := v.(type) {
	case int:
		return int64(t)
	case map[string]any:
		if t == nil {
			return map[string]any{}
		}
		for k, e := range t {
			t[k] = normalizeYAML(e)
		}
	case map[any]any:
		for k, e := range t {
			t[k] = normalizeYAML(e)
		}
	case []any:
		for i, e := range t {
			t[i] = normalizeYAML(e)
		}
	}
	return v
}

// toInt is Ruby's Integer() for the numbers and numeric strings a summary holds.
func toInt(v any) (int64, bool) {
	switch t := v.(type) {
	case int64:
		return t, true
	case int:
		return int64(t), true
	case float64:
		return int64(t), true
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// lastRun is the epoch of the last completed run (time.last_run of the summary), 0 when
// there is none or it does not parse.
func lastRun(summary map[string]any) int64 {
	t, _ := summary["time"].(map[string]any)
	v, ok := t["last_run"]
	if !ok {
		return 0
	}
	n, ok := toInt(v)
	if !ok {
		return 0
	}
	return n
}

// status is the agent's state with the fields of the status action, as the plugin's
// PuppetAgentMgr#status builds it.
func (m *manager) status() (map[string]any, error) {
	summary, err := m.loadSummary()
	if err != nil {
		return nil, err
	}
	last := lastRun(summary)
	applying := m.applying()
	enabled := !m.disabled()
	daemon := m.daemonPresent()
	idling := daemon && !applying
	since := m.now().Unix() - last
	var st string
	switch {
	case !enabled:
		st = "disabled"
	case applying:
		st = "applying a catalog"
	case idling:
		st = "idling"
	default:
		st = "stopped"
	}
	return map[string]any{
		"applying":        applying,
		"enabled":         enabled,
		"daemon_present":  daemon,
		"lastrun":         last,
		"idling":          idling,
		"disable_message": m.lockMessage(),
		"since_lastrun":   since,
		"status":          st,
		"message":         fmt.Sprintf("Currently %s; last completed run %s ago", st, secondsToHuman(since)),
	}, nil
}

// secondsToHuman formats a duration in seconds as the plugin does: "2 minutes 03 seconds",
// "1 day 2 hours 3 minutes 04 seconds". Division floors, as Ruby's does.
func secondsToHuman(seconds int64) string {
	days := floorDiv(seconds, 86400)
	seconds -= 86400 * days
	hours := floorDiv(seconds, 3600)
	seconds -= 3600 * hours
	minutes := floorDiv(seconds, 60)
	seconds -= 60 * minutes
	switch {
	case days > 1:
		return fmt.Sprintf("%d days %d hours %d minutes %02d seconds", days, hours, minutes, seconds)
	case days == 1:
		return fmt.Sprintf("%d day %d hours %d minutes %02d seconds", days, hours, minutes, seconds)
	case hours > 0:
		return fmt.Sprintf("%d hours %d minutes %02d seconds", hours, minutes, seconds)
	case minutes > 0:
		return fmt.Sprintf("%d minutes %02d seconds", minutes, seconds)
	}
	return fmt.Sprintf("%02d seconds", seconds)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// managedResources are the lines of the resource file, e.g. "file[/etc/motd]".
func (m *manager) managedResources() []string {
	b, err := os.ReadFile(m.paths.ResourceFile)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// typeDistribution counts the managed resources by type, with the type capitalized per
// namespace segment ("File", "Foo::Bar"), as managed_resource_type_distribution does.
func (m *manager) typeDistribution() map[string]any {
	dist := map[string]any{}
	for _, l := range m.managedResources() {
		typ, _, _ := strings.Cut(l, "[")
		parts := strings.Split(typ, "::")
		for i, p := range parts {
			parts[i] = capitalize(p)
		}
		k := strings.Join(parts, "::")
		n, _ := dist[k].(int64)
		dist[k] = n + 1
	}
	return dist
}

// capitalize is Ruby's String#capitalize for ASCII: first letter upper, the rest lower.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + strings.ToLower(s[1:])
}

// managing reports whether the last catalog managed resource, written "Type[title]".
func (m *manager) managing(resource string) bool {
	typ, rest, ok := strings.Cut(resource, "[")
	if !ok {
		return false
	}
	want := strings.ToLower(typ) + "[" + rest
	for _, l := range m.managedResources() {
		if l == want {
			return true
		}
	}
	return false
}
