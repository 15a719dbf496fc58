package playbook

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/playbook/fleettest"
)

// runPlaybook runs one file of playbooks/ on a fleettest fleet.
func runPlaybook(t *testing.T, name string, fleet *fleettest.Fleet, o Options) run {
	t.Helper()
	o.File = filepath.Join("..", "..", "playbooks", name)
	if fleet == nil {
		fleet = newTestFleet(t)
	}
	o.Fleet = fleet
	if o.ReportFile == "" {
		o.ReportFile = filepath.Join(t.TempDir(), "report.json")
	}
	return runSource(t, context.Background(), "", o)
}

func wantLines(t *testing.T, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
}

func TestPlaybooksCheck(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "playbooks", "*.star"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no playbooks: %v", err)
	}
	fleet := newTestFleet(t)
	puppet, err := ddl.Builtin("puppet") // rolling_puppet.star calls the puppet agent
	if err != nil {
		t.Fatal(err)
	}
	fleet.DDLs["puppet"] = puppet
	for _, f := range files {
		if strings.HasSuffix(f, "_test.star") {
			continue // tests of playbooks run through mcorun test, not check
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(src), "# "+filepath.Base(f)+": ") {
			t.Errorf("%s: no header comment naming the file", f)
		}
		if d := Check(f, src, fleet.DDL, nil); len(d) != 0 {
			t.Errorf("%s: %v", f, d)
		}
	}
}

func TestInventoryReport(t *testing.T) {
	fleet := newTestFleet(t)
	fleet.Silence("app1")
	r := runPlaybook(t, "inventory_report.star", fleet, Options{})
	if r.ExitCode != ExitOK {
		t.Fatalf("exit %d: %s", r.ExitCode, r.stderr)
	}
	wantLines(t, r.stdout,
		"Inventory of 8 nodes (7 answered)\n",
		"Roles (role):\n  web  4\n  db   3\n",
		"Operating systems (operatingsystem):\n  Debian  6\n  RedHat  1\n",
		"Classes:\n  base          7\n  web::nginx    4\n  db::postgres  3\n",
		"No inventory from: app1\n")
	rep := readReport(t, r.report)
	if len(rep.Steps) != 2 || rep.Steps[1].Action != "inventory" || len(rep.Steps[1].Missing) != 1 {
		t.Errorf("steps %+v", rep.Steps)
	}

	r = runPlaybook(t, "inventory_report.star", fleet, Options{Args: map[string]string{"strict": "true", "filter": "base"}})
	if r.ExitCode != ExitOK {
		t.Errorf("strict, every base node answers: exit %d: %s", r.ExitCode, r.stderr)
	}
	r = runPlaybook(t, "inventory_report.star", fleet, Options{Args: map[string]string{"strict": "yes"}})
	if r.ExitCode != ExitFailed || !strings.Contains(r.stderr, "fail: 1 of 8 nodes gave no inventory") {
		t.Errorf("strict with a silent node: exit %d: %s", r.ExitCode, r.stderr)
	}
}

func TestFactOutliers(t *testing.T) {
	fleet := newTestFleet(t)
	fleet.Fail("web4")
	r := runPlaybook(t, "fact_outliers.star", fleet, Options{})
	if r.ExitCode != ExitOK {
		t.Fatalf("exit %d: %s", r.ExitCode, r.stderr)
	}
	wantLines(t, r.stdout, `operatingsystem: "Debian" on 6 of 8 nodes`, `outlier db3: operatingsystem="RedHat"`, "no answer: web4")
	wantLines(t, r.stderr, "fact outliers fact=operatingsystem majority=Debian outliers=1 silent=1")

	r = runPlaybook(t, "fact_outliers.star", nil, Options{Args: map[string]string{"fact": "role", "filter": "base", "strict": "true"}})
	if r.ExitCode != ExitFailed || !strings.Contains(r.stderr, `3 nodes differ from role="web": db1, db2, db3`) {
		t.Errorf("strict: exit %d: %s\n%s", r.ExitCode, r.stdout, r.stderr)
	}
}

func TestCanaryRollout(t *testing.T) {
	// a service restart rather than the playbook's default noop Puppet run
	args := map[string]string{"filter": "role=web", "agent": "service", "action": "restart", "input": "service=nginx", "window": "2", "canaries": "1",
		"health_fact": "operatingsystem", "health_value": "Debian"}
	r := runPlaybook(t, "canary_rollout.star", nil, Options{Args: args})
	if r.ExitCode != ExitOK {
		t.Fatalf("exit %d: %s\n%s", r.ExitCode, r.stdout, r.stderr)
	}
	wantLines(t, r.stdout, "canary 1: 1 node, 1 done, 0 failed, 0 missing, gate True",
		"batch 2: 2 nodes, 2 done", "batch 3: 1 node, 1 done",
		"RollingReport(ok; 4 done, 0 failed, 0 missing, 0 skipped in 3 batches)")
	var restarted []string
	for _, c := range r.fleet.Calls() {
		if c.Action == "restart" {
			restarted = append(restarted, strings.Join(c.Nodes, "+"))
			if c.Args["service"] != "nginx" {
				t.Errorf("restart args %v", c.Args)
			}
		}
	}
	if strings.Join(restarted, " ") != "web1 web2+web3 web4" {
		t.Errorf("restarts %v", restarted)
	}

	// a node that stops answering after its step fails the gate and stops the rollout
	fleet := newTestFleet(t)
	fleet.Fail("web3")
	r = runPlaybook(t, "canary_rollout.star", fleet, Options{Args: args})
	if r.ExitCode != ExitFailed || !strings.Contains(r.stderr, "fail: rollout stopped") {
		t.Fatalf("exit %d: %s\n%s", r.ExitCode, r.stdout, r.stderr)
	}
	wantLines(t, r.stdout, "skipped: web4")

	// a dry run pings for real and sends no restart
	r = runPlaybook(t, "canary_rollout.star", nil, Options{Args: args, DryRun: true})
	if r.ExitCode != ExitOK {
		t.Fatalf("dry run: exit %d: %s", r.ExitCode, r.stderr)
	}
	for _, c := range r.fleet.Calls() {
		if c.Action == "restart" {
			t.Errorf("dry run sent %v", c)
		}
	}
	wantLines(t, r.stderr, "dry run: would call service.restart on 1 node", "rpc rpcutil.ping  targets=2 ok=2")

	// a bad --arg is refused before anything is sent
	r = runPlaybook(t, "canary_rollout.star", nil, Options{Args: map[string]string{"window": "two"}})
	if r.ExitCode != ExitUsage || len(r.fleet.Calls()) != 0 {
		t.Errorf("bad window: exit %d, %d calls: %s", r.ExitCode, len(r.fleet.Calls()), r.stderr)
	}
}

// TestShippedPlaybooksTypedArgs requires the shipped playbooks to declare their durations
// and sizes typed, and an ill-typed --arg (a duration without a unit, a size that is not
// N or "N%") to be refused with exit code 2 by the run before anything is sent, and by check.
func TestShippedPlaybooksTypedArgs(t *testing.T) {
	wantType := map[string]string{
		"sleep": "duration", "timeout": "duration", "poll": "duration",
		"max_failures": `size (N or "N%")`, "batch": `size (N or "N%")`,
	}
	bad := map[string]string{"duration": "10", `size (N or "N%")`: "lots"}
	files, err := filepath.Glob(filepath.Join("..", "..", "playbooks", "*.star"))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.star") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := Describe(f, src)
		if err != nil {
			t.Fatal(err)
		}
		_, table, _ := strings.Cut(desc, "Args (--arg NAME=VALUE):\n")
		for _, line := range strings.Split(table, "\n") {
			fields := strings.Fields(line)
			if len(fields) < 3 || wantType[fields[0]] == "" || !strings.HasPrefix(line, "  ") {
				continue
			}
			name, want := fields[0], wantType[fields[0]]
			if !strings.HasSuffix(line, want) {
				t.Errorf("%s: arg %s is not declared as %s: %q", f, name, want, line)
				continue
			}
			checked++
			args := map[string]string{name: bad[want]}
			r := runPlaybook(t, filepath.Base(f), nil, Options{Args: args})
			if r.ExitCode != ExitUsage || !strings.Contains(r.stderr, `params: arg "`+name+`": `) {
				t.Errorf("%s --arg %s=%s: exit code %d, want %d; stderr:\n%s", f, name, bad[want], r.ExitCode, ExitUsage, r.stderr)
			}
			if n := len(r.fleet.Calls()); n != 0 {
				t.Errorf("%s --arg %s=%s: %d calls made, want none", f, name, bad[want], n)
			}
			if d := Check(f, src, r.fleet.DDL, args); len(d) != 1 || !strings.Contains(d[0].String(), `params: arg "`+name+`"`) {
				t.Errorf("%s: check with --arg %s=%s: %v", f, name, bad[want], d)
			}
		}
	}
	if checked < 8 {
		t.Errorf("only %d typed args checked in the shipped playbooks", checked)
	}
}
