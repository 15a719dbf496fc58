package puppet

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// reportLog is one log line of last_run_report.yaml.
type reportLog struct {
	Level   string `yaml:"level"`
	Message string `yaml:"message"`
	Source  string `yaml:"source"`
	Time    string `yaml:"time"`
}

// lastRunLogs reads the log lines of the last run's report as the plugin's last_run_logs
// does: an array of {"time_utc", "time", "level", "source", "msg"} hashes, empty when there
// is no report.
func (m *manager) lastRunLogs() ([]any, error) {
	b, err := os.ReadFile(m.paths.LastRunReport)
	if errors.Is(err, os.ErrNotExist) {
		return []any{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", m.paths.LastRunReport, err)
	}
	var report struct {
		Logs []reportLog `yaml:"logs"`
	}
	if err := yaml.Unmarshal(b, &report); err != nil {
		return nil, fmt.Errorf("parse %s: %w", m.paths.LastRunReport, err)
	}
	out := make([]any, 0, len(report.Logs))
	for _, l := range report.Logs {
		var epoch int64
		if t, err := time.Parse(time.RFC3339Nano, l.Time); err == nil {
			epoch = t.Unix()
		}
		out = append(out, map[string]any{
			"time_utc": epoch,
			"time":     epoch,
			"level":    l.Level,
			"source":   l.Source,
			"msg":      strings.TrimRight(l.Message, "\r\n"),
		})
	}
	return out, nil
}
