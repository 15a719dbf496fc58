package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// branching is a playbook that acts on what the fleet answers: it discovers the web nodes,
// asks them for a fact, and fails unless every one of them reports the expected value. It
// reads want from --arg, so one playbook both succeeds and fails against the same fleet.
const branching = `params(want = "prod", role = "web")

web = discover(filter("role=" + args.role))
if not web:
    fail("no %s nodes" % args.role)

rs = rpc("rpcutil", "get_fact", {"fact": "environment"}, nodes = web)
odd = sorted([r.sender for r in rs if r.data["value"] != args.want])
print("checked", len(rs), "nodes; off:", ",".join(odd) or "none")
if rs.missing:
    fail("no reply from %s" % ",".join(rs.missing.list()))
if odd:
    fail("environment is not %s on %s" % (args.want, ",".join(odd)))
`

// report is the part of the --report document the tests read.
type report struct {
	Steps []struct {
		Kind    string   `json:"kind"`
		Agent   string   `json:"agent"`
		Action  string   `json:"action"`
		Targets []string `json:"targets"`
		OK      []string `json:"ok"`
	} `json:"steps"`
	Outcome struct {
		ExitCode int    `json:"exit_code"`
		Status   string `json:"status"`
		Error    string `json:"error"`
	} `json:"outcome"`
}

func readReport(t *testing.T, path string) report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("report: %v\n%s", err, b)
	}
	return r
}

// TestPlaybookAgainstRealNodes runs a playbook with the mcorun binary against mcod nodes and
// against stock mcollectived nodes over RabbitMQ, and checks that it branches on their
// answers, its exit codes and its report.
func TestPlaybookAgainstRealNodes(t *testing.T) {
	fleets := map[string]func(t *testing.T) *testFleet{
		"mcod": startFleet,
		"mcollectived": func(t *testing.T) *testFleet {
			f := newEmptyFleet(t)
			f.startRuby(t, fleetNodes)
			waitFind(t, f.clientConfig(t), fleetIDs(fleetNodes))
			return f
		},
	}
	for name, start := range fleets {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := start(t)
			cfg := f.clientConfig(t)
			pb := filepath.Join(t.TempDir(), "envcheck.star")
			writeFile(t, pb, branching)

			// web1 is prod and web2 dev: the playbook finds web2 off and fails with exit 1.
			rep := filepath.Join(t.TempDir(), "fail.json")
			out, errOut, code := mcorun(t, pb, "--config", cfg, "--report", rep, "--no-lock")
			if code != 1 || !strings.Contains(out, "checked 2 nodes; off: web2") || !strings.Contains(errOut, "environment is not prod on web2") {
				t.Fatalf("want exit 1 naming web2: exit %d\n%s\n%s", code, out, errOut)
			}
			r := readReport(t, rep)
			if r.Outcome.ExitCode != 1 || r.Outcome.Status != "failed" || len(r.Steps) != 2 {
				t.Fatalf("failed run's report: %+v", r)
			}
			if s := r.Steps[1]; s.Agent != "rpcutil" || s.Action != "get_fact" || !slices.Equal(s.OK, []string{"web1", "web2"}) {
				t.Fatalf("rpc step: %+v", s)
			}

			// On the db nodes, all prod, the playbook branches the other way and succeeds.
			out, errOut, code = mcorun(t, "run", pb, "--config", cfg, "--arg", "role=db", "--no-lock")
			if code != 0 || !strings.Contains(out, "checked 1 nodes; off: none") {
				t.Fatalf("db1 is prod: exit %d\n%s\n%s", code, out, errOut)
			}

			// Nothing discovered: the playbook's own fail(), exit 1, and the report says so.
			rep = filepath.Join(t.TempDir(), "none.json")
			_, errOut, code = mcorun(t, pb, "--config", cfg, "--arg", "role=cache", "--report", rep, "--no-lock")
			if code != 1 || !strings.Contains(errOut, "no cache nodes") {
				t.Fatalf("no cache nodes: exit %d\n%s", code, errOut)
			}
			if r := readReport(t, rep); r.Outcome.Status != "failed" || !strings.Contains(r.Outcome.Error, "no cache nodes") {
				t.Fatalf("nothing-discovered report: %+v", r.Outcome)
			}

			// A bad --arg is a usage error and sends nothing.
			_, errOut, code = mcorun(t, pb, "--config", cfg, "--arg", "wnat=dev", "--no-lock")
			if code != 2 || !strings.Contains(errOut, "wnat") {
				t.Fatalf("unknown --arg: exit %d\n%s", code, errOut)
			}
		})
	}
}
