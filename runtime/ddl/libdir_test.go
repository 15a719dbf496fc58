package ddl

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFromLibDirsBrokenFileIsAWarning(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	agentDir := filepath.Join(first, "mcollective", "agent")
	if err := os.MkdirAll(agentDir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(dir, name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(agentDir, "good.json", `{"metadata":{"name":"good","timeout":5},"actions":{"a":{"description":"d"}}}`)
	write(agentDir, "widget.json", `{"$schema":"x","metadata":{"name":"widget","provider":"ruby"},"actions":[{"action":"b"}]}`)
	write(agentDir, "broken.json", `{"metadata":{"name":"broken"},"actions":{"a":`)
	// A later libdir's good file for the broken agent does not hide the broken one.
	write(second, "broken.json", `{"metadata":{"name":"broken"},"actions":{"a":{"description":"d"}}}`)
	// A broken file that shadows a built-in agent fails too, instead of using the built-in.
	write(agentDir, "rpcutil.json", `{"metadata":{"name":"rpcutil"},"unknown":1}`)

	find, warnings := FromLibDirs([]string{first, second})
	if len(warnings) != 2 {
		t.Fatalf("warnings = %v, want two (broken.json and rpcutil.json)", warnings)
	}
	joined := errors.Join(warnings...).Error()
	for _, f := range []string{filepath.Join(agentDir, "broken.json"), filepath.Join(agentDir, "rpcutil.json")} {
		if !strings.Contains(joined, f) {
			t.Errorf("warnings %q do not name %s", joined, f)
		}
	}
	for _, name := range []string{"good", "widget"} {
		if a, err := find(name); err != nil || a.Metadata.Name != name {
			t.Errorf("find(%s) = %v, %v", name, a, err)
		}
	}
	if _, err := find("broken"); err == nil || !strings.Contains(err.Error(), filepath.Join(agentDir, "broken.json")) || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Errorf("find(broken) = %v, want an error naming the file and the parse error", err)
	}
	if _, err := find("rpcutil"); err == nil || !strings.Contains(err.Error(), "rpcutil.json") {
		t.Errorf("find(rpcutil) = %v, want the broken file's error", err)
	}
	if a, err := find("discovery"); err != nil || a.Metadata.Name != "discovery" {
		t.Errorf("find(discovery) = %v, %v, want the built-in", a, err)
	}
	if _, err := find("missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("find(missing) = %v, want ErrNotFound", err)
	}
}
