package data

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

func testFacts() map[string]any {
	return map[string]any{
		"os":        map[string]any{"family": "Debian", "release": map[any]any{"major": "12"}},
		"cpus":      int64(4),
		"addresses": []any{"10.0.0.1", "10.0.0.2"},
		"mounts":    map[string]any{"list": []any{"/", "/boot"}},
		"html":      map[string]any{"a": "<b>"},
		"empty":     nil,
	}
}

func TestFact(t *testing.T) {
	p := Fact(testFacts)
	tests := []struct {
		path string
		want map[string]any
		err  string
	}{
		{"cpus", map[string]any{"exists": true, "value": int64(4), "value_encoding": "text/plain"}, ""},
		{"os.family", map[string]any{"exists": true, "value": "Debian", "value_encoding": "text/plain"}, ""},
		{"os.release.major", map[string]any{"exists": true, "value": "12", "value_encoding": "text/plain"}, ""},
		{"addresses.1", map[string]any{"exists": true, "value": "10.0.0.2", "value_encoding": "text/plain"}, ""},
		{"addresses.-1", map[string]any{"exists": true, "value": "10.0.0.2", "value_encoding": "text/plain"}, ""},
		{"addresses.2", map[string]any{"exists": false, "value": false, "value_encoding": false}, ""},
		{"mounts", map[string]any{"exists": true, "value": `{"list":["/","/boot"]}`, "value_encoding": "application/json"}, ""},
		{"html", map[string]any{"exists": true, "value": `{"a":"<b>"}`, "value_encoding": "application/json"}, ""},
		{"os.nosuch", map[string]any{"exists": false, "value": false, "value_encoding": false}, ""},
		{"cpus.x", map[string]any{"exists": false, "value": false, "value_encoding": false}, ""},
		{"addresses.x", nil, "invalid value for Integer()"},
		{"empty", nil, "NilClass"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := p.Lookup(context.Background(), tt.path)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Lookup err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Lookup = %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}

func TestAgentPlugin(t *testing.T) {
	rpcutil, err := ddl.Builtin("rpcutil")
	if err != nil {
		t.Fatal(err)
	}
	p := AgentPlugin(func(name string) (*ddl.Agent, bool) {
		if name == "rpcutil" {
			return rpcutil, true
		}
		return nil, false
	})
	got, err := p.Lookup(context.Background(), "rpcutil")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"agent": "rpcutil", "license": "Apache License, Version 2.0", "timeout": int64(10),
		"description": "General helpful actions that expose stats and internals to SimpleRPC clients",
		"url":         "https://docs.puppetlabs.com/mcollective/", "version": "1.0", "author": "R.I.Pienaar <rip@devco.net>",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("agent rpcutil = %#v", got)
	}
	if _, err := p.Lookup(context.Background(), "nosuch"); err == nil || err.Error() != "No agent called nosuch found" {
		t.Errorf("unknown agent err = %v", err)
	}
	var ve *ddl.ValidationError
	if _, err := p.Lookup(context.Background(), "bad-name"); !errors.As(err, &ve) || ve.Status != message.InvalidData {
		t.Errorf("invalid name err = %v", err)
	}
}

func TestCollective(t *testing.T) {
	p := Collective(func() []string { return []string{"mcollective", "eu"} })
	for q, want := range map[string]bool{"eu": true, "us": false} {
		got, err := p.Lookup(context.Background(), q)
		if err != nil || got["member"] != want {
			t.Errorf("collective %s = %v, %v", q, got, err)
		}
	}
}

func TestFstat(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.txt")
	if err := os.WriteFile(file, []byte("hello\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "gone"), dangling); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte("hello\n"))
	p := Fstat()
	ctx := context.Background()

	t.Run("file", func(t *testing.T) {
		got, err := p.Lookup(ctx, file)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(file)
		checks := map[string]any{
			"name": file, "output": "present", "present": int64(1), "size": int64(6),
			"mode": "100640", "md5": hex.EncodeToString(sum[:]), "type": "file",
			"uid": int64(os.Getuid()), "gid": int64(os.Getgid()),
			"mtime":         fi.ModTime().Local().Format("2006-01-02 15:04:05"),
			"mtime_seconds": fi.ModTime().Unix(),
		}
		for k, want := range checks {
			if got[k] != want {
				t.Errorf("%s = %#v, want %#v", k, got[k], want)
			}
		}
		if age, ok := got["mtime_age"].(int64); !ok || age < 0 || age > 60 {
			t.Errorf("mtime_age = %#v", got["mtime_age"])
		}
		for _, k := range []string{"ctime", "atime"} {
			if s, ok := got[k].(string); !ok || len(s) != 19 {
				t.Errorf("%s = %#v", k, got[k])
			}
		}
		if len(got) != 18 {
			t.Errorf("%d outputs, want 18", len(got))
		}
	})
	t.Run("directory", func(t *testing.T) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		got, err := p.Lookup(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		if got["type"] != "directory" || got["mode"] != "40755" || got["md5"] != int64(0) {
			t.Errorf("dir = %#v", got)
		}
	})
	t.Run("symlink", func(t *testing.T) {
		got, err := p.Lookup(ctx, link)
		if err != nil {
			t.Fatal(err)
		}
		if got["type"] != "symlink" || got["mode"] != "120777" || got["present"] != int64(1) || got["md5"] != int64(0) {
			t.Errorf("symlink = %#v", got)
		}
	})
	missing := map[string]any{
		"output": "not present", "type": "unknown", "mode": "0000", "present": int64(0), "size": int64(0),
		"mtime": int64(0), "ctime": int64(0), "atime": int64(0), "mtime_seconds": int64(0),
		"ctime_seconds": int64(0), "atime_seconds": int64(0), "md5": int64(0), "uid": int64(0), "gid": int64(0),
		"mtime_age": nil, "ctime_age": nil, "atime_age": nil,
	}
	for name, path := range map[string]string{"missing": filepath.Join(dir, "nope"), "dangling": dangling} {
		t.Run(name, func(t *testing.T) {
			got, err := p.Lookup(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"name": path}
			for k, v := range missing {
				want[k] = v
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s = %#v", name, got)
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	r := agent.NewDataRegistry(Fact(testFacts), AgentPlugin(func(string) (*ddl.Agent, bool) { return nil, false }),
		Fstat(), Collective(func() []string { return []string{"mcollective"} }))
	if got := strings.Join(r.Names(), ","); got != "agent_data,collective_data,fact_data,fstat_data" {
		t.Errorf("Names = %s", got)
	}
	ctx := context.Background()
	if got, err := r.Query(ctx, "fact_data", "os.family"); err != nil || got["value"] != "Debian" {
		t.Errorf("Query fact_data = %v, %v", got, err)
	}
	_, err := r.Query(ctx, "nosuch", "x")
	if !errors.Is(err, agent.ErrUnknownData) || err.Error() != "Can't find DDL for data plugin 'nosuch_data'" {
		t.Errorf("Query nosuch = %v", err)
	}
}
