package main

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// nodeLines are the "   sender: text" lines of a service or package listing.
var nodeLineRE = regexp.MustCompile(`(?m)^ +(\S+\.example\.net): (.*)$`)

func nodeLines(out string) map[string]string {
	m := map[string]string{}
	for _, x := range nodeLineRE.FindAllStringSubmatch(out, -1) {
		m[x[1]] = x[2]
	}
	return m
}

func TestServiceStatusSandbox(t *testing.T) {
	for _, order := range [][]string{{"service", "nginx", "status"}, {"service", "status", "nginx"}} {
		out, errOut, code := runSandbox(context.Background(), t, order...)
		if code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", order, code, out, errOut)
		}
		lines := nodeLines(out.String())
		if len(lines) != 4 || lines["web01.example.net"] != "running" {
			t.Errorf("%v: want every node with its status, got %v\n%s", order, lines, out)
		}
		if !strings.Contains(out.String(), "   web01.example.net: running\n") {
			t.Errorf("senders are not right-aligned to the longest plus 3:\n%s", out)
		}
		if !strings.Contains(out.String(), "Summary of Service Status:\n\n   running = 4\n") {
			t.Errorf("no status summary:\n%s", out)
		}
	}
}

func TestServiceRestartListsOnlyUnexpected(t *testing.T) {
	out, errOut, code := runSandbox(context.Background(), t, "service", "nginx", "restart", "--yes")
	if code != exitFailed {
		t.Fatalf("exit %d, want %d (web03 fails)\n%s%s", code, exitFailed, out, errOut)
	}
	lines := nodeLines(out.String())
	if len(lines) != 1 || !strings.Contains(lines["web03.example.net"], "bind() to 0.0.0.0:80 failed") {
		t.Errorf("want only the failed web03 with its message, got %v\n%s", lines, out)
	}
	if !strings.Contains(out.String(), "Summary of Service Status:") || !strings.Contains(out.String(), "running = 3") {
		t.Errorf("no summary of the three restarted nodes:\n%s", out)
	}

	out, _, code = runSandbox(context.Background(), t, "service", "restart", "nginx", "--yes", "-v")
	lines = nodeLines(out.String())
	if code != exitFailed || len(lines) != 4 || lines["web01.example.net"] != "running" {
		t.Errorf("-v: exit %d, want every node listed, got %v\n%s", code, lines, out)
	}

	out, _, code = runSandbox(context.Background(), t, "service", "nginx", "stop", "-F", "role=web")
	lines = nodeLines(out.String())
	if code != exitOK || len(lines) != 0 || !strings.Contains(out.String(), "stopped = 4") {
		t.Errorf("stop: exit %d, want no node listed (all stopped), got %v\n%s", code, lines, out)
	}
}

func TestServiceJSONSandbox(t *testing.T) {
	out, errOut, code := runSandbox(context.Background(), t, "service", "nginx", "restart", "--yes", "--json")
	if code != exitFailed {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	doc := decodeJSON(t, out.String())
	if doc["agent"] != "service" || doc["action"] != "restart" {
		t.Errorf("agent and action: %v %v", doc["agent"], doc["action"])
	}
	failed, _ := doc["failed"].([]any)
	if !slices.Equal(failed, []any{"web03.example.net"}) {
		t.Errorf("failed = %v, want web03", failed)
	}
	replies, _ := doc["replies"].([]any)
	if len(replies) != 4 {
		t.Fatalf("want 4 replies, got %v", doc["replies"])
	}
	r0 := replies[0].(map[string]any)
	data, _ := r0["data"].(map[string]any)
	if r0["sender"] != "web01.example.net" || r0["statuscode"] != float64(0) || r0["statusmsg"] != "OK" || data["status"] != "running" {
		t.Errorf("first reply: %v", r0)
	}
	r2 := replies[2].(map[string]any)
	if r2["statuscode"] == float64(0) || !strings.Contains(r2["statusmsg"].(string), "bind()") {
		t.Errorf("web03's reply: %v", r2)
	}
	sums, _ := doc["summaries"].([]any)
	if len(sums) != 1 || sums[0].(map[string]any)["display_as"] != "Service Status" {
		t.Errorf("summaries: %v", doc["summaries"])
	}
	if strings.Contains(out.String(), "Summary of") {
		t.Errorf("--json printed text too:\n%s", out)
	}
}
