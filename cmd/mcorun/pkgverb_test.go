package main

import (
	"context"
	"strings"
	"testing"
)

func TestPackageStatusSandbox(t *testing.T) {
	out, errOut, code := runSandbox(context.Background(), t, "package", "nginx", "status")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	lines := nodeLines(out.String())
	if len(lines) != 4 || lines["web02.example.net"] != "nginx-1.22.1-9.amd64" {
		t.Errorf("want name-ensure.arch per node, got %v\n%s", lines, out)
	}
	for _, want := range []string{"Summary of Ensure:\n\n   1.22.1-9 = 4\n", "Summary of Arch:\n\n   amd64 = 4\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
}

func TestPackageInstallUpdateSandbox(t *testing.T) {
	// install of a version, as an argument; quiet: only failures would be listed.
	out, errOut, code := runSandbox(context.Background(), t, "package", "install", "nginx", "1.22.1-9+deb12u1", "-F", "role=web")
	if code != exitOK || len(nodeLines(out.String())) != 0 || !strings.Contains(out.String(), "Summary of Ensure:\n\n   1.22.1-9+deb12u1 = 4\n") {
		t.Errorf("install: exit %d\n%s%s", code, out, errOut)
	}
	// update, -v: every node's ensure.
	out, errOut, code = runSandbox(context.Background(), t, "package", "nginx", "update", "--yes", "-v", "-I", "web01.example.net")
	if lines := nodeLines(out.String()); code != exitOK || lines["web01.example.net"] != "1.22.1-9+deb12u1" || len(lines) != 1 {
		t.Errorf("update -v: exit %d, lines %v\n%s%s", code, lines, out, errOut)
	}
	// checkupdates: the outdated packages per node.
	out, _, code = runSandbox(context.Background(), t, "package", "checkupdates")
	if lines := nodeLines(out.String()); code != exitOK || len(lines) != 4 || lines["web04.example.net"] != "nginx" {
		t.Errorf("checkupdates: exit %d, lines %v\n%s", code, lines, out)
	}
	out, _, _ = runSandbox(context.Background(), t, "package", "checkupdates", "-v", "-I", "web04.example.net")
	if lines := nodeLines(out.String()); lines["web04.example.net"] != "nginx-1.22.1-9+deb12u1" {
		t.Errorf("checkupdates -v: lines %v\n%s", lines, out)
	}
}

func TestPackageVersionFlagAndJSON(t *testing.T) {
	f := okFleet(map[string]any{"ensure": "2.0-1", "name": "nginx", "arch": "amd64"})
	e, out, errOut, cfg := testEnv(t, f, nil)
	code := run(context.Background(), e, []string{"package", "install", "nginx", "--version", "2.0-1", "--yes", "--json", "--config", cfg})
	if code != exitOK || f.lastArgs["version"] != "2.0-1" || f.lastArgs["package"] != "nginx" {
		t.Fatalf("exit %d, args %v\n%s", code, f.lastArgs, errOut)
	}
	doc := decodeJSON(t, out.String())
	if doc["action"] != "install" || len(doc["replies"].([]any)) != 2 || len(doc["summaries"].([]any)) != 1 {
		t.Errorf("--json: %v", doc)
	}
}
