package pkgagent

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gofrs/flock"
	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/testenv"
)

// The real apt test owns dpkg: test packages in parallel take this lock around any change.
const (
	dpkgLock    = "/tmp/mcorun-dpkg.lock"
	testPkg     = "mcorun-testpkg"
	testSources = "/etc/apt/sources.list.d/mcorun-test.list"
)

func requireRealApt(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.SkipOrFail(t, "the real apt test installs packages: run it as root")
	}
	for _, bin := range []string{"dpkg-deb", "dpkg-query", "apt-get"} {
		if _, err := exec.LookPath(bin); err != nil {
			testenv.SkipOrFail(t, "the real apt test needs %s: run it on Debian or Ubuntu (%v)", bin, err)
		}
	}
}

// buildDeb builds version of the test package into repo and returns its Packages stanza.
func buildDeb(t *testing.T, repo, version string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "pkg")
	files := map[string]string{
		"DEBIAN/control":                       fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: mcorun tests <root@localhost>\nDescription: package agent test package\n", testPkg, version),
		"DEBIAN/conffiles":                     "/etc/" + testPkg + ".conf\n",
		"etc/" + testPkg + ".conf":             "version=" + version + "\n",
		"usr/share/doc/" + testPkg + "/README": "installed by the mcorun package agent test\n",
	}
	for p, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	deb := fmt.Sprintf("%s_%s_all.deb", testPkg, version)
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, filepath.Join(repo, deb)).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v: %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(repo, deb))
	if err != nil {
		t.Fatal(err)
	}
	m, s := md5.Sum(b), sha256.Sum256(b)
	control := strings.TrimSuffix(files["DEBIAN/control"], "\n")
	return fmt.Sprintf("%s\nFilename: ./%s\nSize: %d\nMD5sum: %s\nSHA256: %s\n", control, deb, len(b), hex.EncodeToString(m[:]), hex.EncodeToString(s[:]))
}

// dpkgState asks dpkg-query directly, apart from the agent: "<status> <version>" or "".
func dpkgState(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status} ${Version}", testPkg).Output()
	if err != nil {
		return ""
	}
	return string(out)
}

func TestRealApt(t *testing.T) {
	requireRealApt(t)
	lock := flock.New(dpkgLock)
	if err := lock.Lock(); err != nil {
		t.Fatalf("lock %s: %v", dpkgLock, err)
	}
	defer func() { _ = lock.Unlock() }()

	repo := t.TempDir()
	// apt reads the repository as its sandbox user, _apt.
	for _, d := range []string{filepath.Dir(repo), repo} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	index := buildDeb(t, repo, "1.0") + "\n" + buildDeb(t, repo, "2.0")
	if err := os.WriteFile(filepath.Join(repo, "Packages"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	cleanup := func() {
		_ = exec.Command("dpkg", "--purge", testPkg).Run()
		_ = os.Remove(testSources)
		lists, _ := filepath.Glob("/var/lib/apt/lists/" + strings.ReplaceAll(repo, "/", "_") + "*")
		for _, l := range lists {
			_ = os.Remove(l)
		}
	}
	cleanup()
	defer cleanup()
	if err := os.WriteFile(testSources, []byte("deb [trusted=yes] file:"+repo+" ./\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Only the test's source is fetched, so the test needs no network, and the other
	// sources' lists are kept.
	update := exec.Command("apt-get", "update", "-o", "Dir::Etc::sourcelist="+testSources, "-o", "Dir::Etc::sourceparts=-", "-o", "APT::Get::List-Cleanup=0")
	if out, err := update.CombinedOutput(); err != nil {
		t.Fatalf("apt-get update of the test source: %v: %s", err, out)
	}

	a, err := New(Options{Provider: "apt"})
	if err != nil {
		t.Fatal(err)
	}
	step := func(action string, data map[string]any, ensure, dpkg string) {
		t.Helper()
		rep := call(t, a, action, data)
		if rep.Status != message.OK || rep.Data["ensure"] != ensure || rep.Data["provider"] != "apt" || rep.Data["name"] != testPkg {
			t.Fatalf("%s %v = %v %q %v", action, data, rep.Status, rep.Message, rep.Data)
		}
		if got := dpkgState(t); got != dpkg {
			t.Fatalf("after %s dpkg-query says %q, want %q", action, got, dpkg)
		}
	}
	pkg := map[string]any{"package": testPkg}
	step("status", pkg, Purged, "")
	step("install", map[string]any{"package": testPkg, "version": "1.0"}, "1.0", "installed 1.0")
	rep := call(t, a, "status", pkg)
	if rep.Data["version"] != "1.0" || rep.Data["arch"] != "all" || rep.Data["epoch"] != "0" || rep.Data["release"] != "" {
		t.Errorf("status = %v", rep.Data)
	}
	rep = call(t, a, "install", pkg)
	if rep.Status != message.UnknownError || rep.Message != "Package is already installed" || rep.Data["ensure"] != "1.0" {
		t.Errorf("install of an installed package = %v %q %v", rep.Status, rep.Message, rep.Data)
	}
	rep = call(t, a, "apt_checkupdates", nil)
	found := false
	for _, u := range rep.Data["outdated_packages"].([]any) {
		u := u.(map[marshal.Symbol]any)
		found = found || (u["package"] == testPkg && u["version"] == "2.0")
	}
	if rep.Status != message.OK || !found {
		t.Errorf("apt_checkupdates did not offer %s 2.0: %v %q %v", testPkg, rep.Status, rep.Message, rep.Data["outdated_packages"])
	}
	step("update", pkg, "2.0", "installed 2.0")
	step("uninstall", pkg, Absent, "config-files 2.0")
	step("purge", pkg, Purged, "")
	if m, err := NewData(Options{Provider: "apt"}); err != nil {
		t.Fatal(err)
	} else if r, err := m.Lookup(context.Background(), testPkg); err != nil || r["installed"] != false {
		t.Errorf("package('%s') after purge = %v, %v", testPkg, r, err)
	}
}

// BenchmarkStatus measures the status action for an installed package (dpkg itself) over
// the real apt provider: one dpkg-query, no lock, no cache.
func BenchmarkStatus(b *testing.B) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		testenv.SkipOrFail(b, "BenchmarkStatus needs dpkg-query: run it on Debian or Ubuntu (%v)", err)
	}
	p := NewApt(ExecRunner)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		st, err := p.Status(ctx, "dpkg")
		if err != nil || !st.Installed() {
			b.Fatalf("status of dpkg = %+v, %v", st, err)
		}
	}
}
