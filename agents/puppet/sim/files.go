package sim

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// puppetVersion is the Puppet version the summaries report.
const puppetVersion = "7.23.0"

// resource is the catalog's resource number i (from 0): its type and title.
func resource(i int) (typ, title string) {
	switch i % 5 {
	case 2:
		return "package", fmt.Sprintf("sim-package-%02d", i)
	case 3:
		return "service", fmt.Sprintf("sim-service-%02d", i)
	case 4:
		return "exec", fmt.Sprintf("sim-exec-%02d", i)
	}
	return "file", fmt.Sprintf("/etc/sim/%02d.conf", i)
}

// writeResources writes the resource file (resourcefile): one "type[title]" line per
// resource of the catalog, as Puppet lists the resources it manages.
func (s *Puppet) writeResources() error {
	var b strings.Builder
	for i := range s.opts.Resources {
		typ, title := resource(i)
		fmt.Fprintf(&b, "%s[%s]\n", typ, title)
	}
	return writeAtomic(s.paths.ResourceFile, []byte(b.String()))
}

// writeRun writes the run's report and then its summary.
func (s *Puppet) writeRun(r run) error {
	if err := s.writeReport(r); err != nil {
		return err
	}
	return writeAtomic(s.paths.LastRunFile, summaryYAML(r, s.opts.Resources))
}

// summaryYAML renders last_run_summary.yaml as Puppet 7 writes it, with its sections and
// keys in Puppet's order: version, application, resources, time, changes, events.
func summaryYAML(r run, total int) []byte {
	secs := r.end.Sub(r.start).Seconds()
	changed, outOfSync := r.changed, r.changed+r.failed
	success, noop := r.changed, 0
	if r.noop {
		changed, success, noop = 0, 0, r.changed
	}
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("---")
	w("version:")
	w("  config: %d", r.start.Unix())
	w("  puppet: %s", puppetVersion)
	w("application:")
	w("  run_mode: agent")
	w("  initial_environment: production")
	w("  converged_environment: production")
	w("resources:")
	w("  changed: %d", changed)
	w("  corrective_change: 0")
	w("  failed: %d", r.failed)
	w("  failed_to_restart: 0")
	w("  out_of_sync: %d", outOfSync)
	w("  restarted: 0")
	w("  scheduled: 0")
	w("  skipped: 0")
	w("  total: %d", total)
	w("time:")
	w("  catalog_application: %v", secs*0.62)
	w("  config_retrieval: %v", secs*0.3)
	w("  exec: %v", secs*0.2)
	w("  file: %v", secs*0.1)
	w("  filebucket: %v", secs*0.001)
	w("  package: %v", secs*0.15)
	w("  schedule: %v", secs*0.002)
	w("  service: %v", secs*0.12)
	w("  total: %v", secs)
	w("  transaction_evaluation: %v", secs*0.6)
	w("  last_run: %d", r.end.Unix())
	w("changes:")
	w("  total: %d", changed)
	w("events:")
	w("  failure: %d", r.failed)
	if noop > 0 {
		w("  noop: %d", noop)
	}
	w("  success: %d", success)
	w("  total: %d", r.failed+success+noop)
	return []byte(b.String())
}

// reportLog is a log line of last_run_report.yaml.
type reportLog struct {
	Level   string `yaml:"level"`
	Message string `yaml:"message"`
	Source  string `yaml:"source"`
	Time    string `yaml:"time"`
}

// writeReport writes last_run_report.yaml with the run's log lines: the catalog version, a
// line per changed and per failed resource, and the closing "Applied catalog" line.
func (s *Puppet) writeReport(r run) error {
	at := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	logs := []reportLog{{Level: "info", Source: "Puppet", Time: at(r.start),
		Message: fmt.Sprintf("Applying configuration version '%d'", r.start.Unix())}}
	for i := range r.changed {
		typ, title := resource(i * 5) // files
		msg := "content: content changed '{sha256}0000' to '{sha256}1111'"
		if r.noop {
			msg = "content: current_value '{sha256}0000', should be '{sha256}1111' (noop)"
		}
		logs = append(logs, reportLog{Level: "notice", Time: at(r.end), Message: msg,
			Source: fmt.Sprintf("/Stage[main]/Main/%s[%s]/content", capital(typ), title)})
	}
	for i := range r.failed {
		_, title := resource(i*5 + 4) // execs
		logs = append(logs, reportLog{Level: "err", Time: at(r.end),
			Source:  fmt.Sprintf("/Stage[main]/Main/Exec[%s]/returns", title),
			Message: "change from 'notrun' to ['0'] failed: '/bin/false' returned 1 instead of one of [0]"})
	}
	logs = append(logs, reportLog{Level: "notice", Source: "Puppet", Time: at(r.end),
		Message: fmt.Sprintf("Applied catalog in %.2f seconds", r.end.Sub(r.start).Seconds())})
	status := "unchanged"
	switch {
	case r.failed > 0:
		status = "failed"
	case r.changed > 0 && !r.noop:
		status = "changed"
	}
	b, err := yaml.Marshal(map[string]any{
		"host": "localhost", "time": at(r.start), "configuration_version": r.start.Unix(),
		"puppet_version": puppetVersion, "kind": "apply", "status": status, "noop": r.noop,
		"environment": "production", "logs": logs,
	})
	if err != nil {
		return fmt.Errorf("sim: report: %w", err)
	}
	return writeAtomic(s.paths.LastRunReport, append([]byte("---\n"), b...))
}

func capital(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
