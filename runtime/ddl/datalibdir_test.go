package ddl

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDataFromLibDirs(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "mcollective", "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	custom := `{"metadata": {"name": "uptime"}, "description": "d", "output": {"days": {"description": "d", "display_as": "Days"}}}`
	if err := os.WriteFile(filepath.Join(data, "uptime_data.json"), []byte(custom), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "broken_data.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	find := DataFromLibDirs([]string{dir})
	if d, err := find("uptime"); err != nil || d.Output["days"] == nil {
		t.Errorf("uptime: %v, %v", d, err)
	}
	if d, err := find("fstat_data"); err != nil || d.Output["size"] == nil {
		t.Errorf("fstat: %v, %v", d, err)
	}
	if _, err := find("broken"); err == nil || !strings.Contains(err.Error(), "broken_data.json") {
		t.Errorf("broken: %v", err)
	}
	_, err := find("nosuch")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `unknown data plugin "nosuch" (data plugins: agent, collective, fact, fstat`) ||
		!strings.Contains(err.Error(), "nosuch_data.json in mcollective/data under a libdir ("+dir+")") {
		t.Errorf("nosuch: %v", err)
	}
}
