package pkgagent

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

func TestSplitVersion(t *testing.T) {
	for in, want := range map[string][3]string{
		"1.0":                {"0", "1.0", ""},
		"2.36-9+deb12u4":     {"0", "2.36", "9+deb12u4"},
		"1:9.2p1-2+deb12u3":  {"1", "9.2p1", "2+deb12u3"},
		"2:8.2.4-1-1ubuntu1": {"2", "8.2.4-1", "1ubuntu1"},
		"1:2.3.0-0.el8":      {"1", "2.3.0", "0.el8"},
		"7.88.1-10+deb12u5":  {"0", "7.88.1", "10+deb12u5"},
	} {
		e, v, r := splitVersion(in)
		if [3]string{e, v, r} != want {
			t.Errorf("splitVersion(%q) = %q %q %q, want %v", in, e, v, r, want)
		}
	}
}

func TestAptCommandsAndParsing(t *testing.T) {
	f := &fakeRunner{answers: map[string]fakeAnswer{
		"dpkg-query -W -f=" + dpkgFormat + " -- openssh-server":                                      {stdout: "install ok installed\t1:9.2p1-2+deb12u3\tamd64\topenssh-server\n"},
		"dpkg-query -W -f=" + dpkgFormat + " -- libc6":                                               {stdout: "install ok installed\t2.36-9\ti386\tlibc6\ninstall ok installed\t2.36-9\tamd64\tlibc6\n"},
		"dpkg-query -W -f=" + dpkgFormat + " -- gone":                                                {stdout: "deinstall ok config-files\t1.0-1\tamd64\tgone\n"},
		"dpkg-query -W -f=" + dpkgFormat + " -- nosuch":                                              {stderr: "dpkg-query: no packages found matching nosuch\n", exit: 1},
		"apt-get -q -y -o DPkg::Options::=--force-confold --allow-downgrades install -- vim=2:9.0-1": {stdout: "Setting up vim\n"},
		"apt-get -q -y -o DPkg::Options::=--force-confold install -- vim":                            {stdout: "E: Unable to locate package vim\n", exit: 100},
		"apt-get -q -y -o DPkg::Options::=--force-confold install --only-upgrade -- vim":             {},
		"apt-get -q -y -o DPkg::Options::=--force-confold remove -- vim":                             {},
		"apt-get -q -y -o DPkg::Options::=--force-confold purge -- vim":                              {},
		"apt-cache madison -- vim": {stdout: "       vim | 2:9.0.1378-2 | http://deb.debian.org/debian bookworm/main amd64 Packages\n" +
			"       vim | 2:9.0.1378-2 | http://deb.debian.org/debian bookworm/main Sources\n"},
		"dpkg --list": {stdout: "Desired=Unknown/Install/Remove/Purge/Hold\n||/ Name Version\n+++-====\nii  adduser 3.134 all add users\nrc  gone 1.0-1 amd64 old\nii  bash 5.2 amd64 shell\n"},
		"apt-get --simulate dist-upgrade": {stdout: "Reading package lists...\nThe following packages will be upgraded:\n  curl libcurl4\n" +
			"Inst curl [7.88.1-10+deb12u4] (7.88.1-10+deb12u5 Debian-Security:12/stable-security [amd64]) []\n" +
			"Inst libcurl4 [7.88.1-10+deb12u4] (7.88.1-10+deb12u5 Debian-Security:12/stable-security [amd64])\n" +
			"Inst newdep (1.0-1 Debian:12.5/stable [amd64])\n" +
			"Conf curl (7.88.1-10+deb12u5 Debian-Security:12/stable-security [amd64])\n"},
		"apt-get update": {stdout: "Hit:1 http://deb.debian.org/debian bookworm InRelease\n"},
	}}
	ctx := context.Background()
	p := NewApt(f.run)
	for name, want := range map[string]Status{
		"openssh-server": {Name: "openssh-server", Ensure: "1:9.2p1-2+deb12u3", Epoch: "1", Version: "9.2p1", Release: "2+deb12u3", Arch: "amd64", Provider: "apt",
			Dpkg: DpkgState{Desired: "install", Error: "ok", Status: "installed", Mark: "none"}},
		"libc6": {Name: "libc6", Ensure: "2.36-9", Epoch: "0", Version: "2.36", Release: "9", Arch: "i386", Provider: "apt",
			Dpkg: DpkgState{Desired: "install", Error: "ok", Status: "installed", Mark: "none"}},
		"gone":   {Name: "gone", Ensure: Absent, Provider: "apt", Dpkg: DpkgState{Desired: "deinstall", Error: "ok", Status: "config-files", Mark: "none"}},
		"nosuch": {Name: "nosuch", Ensure: Purged, Provider: "apt"},
	} {
		if got, err := p.Status(ctx, name); err != nil || got != want {
			t.Errorf("Status(%s) = %+v, %v; want %+v", name, got, err, want)
		}
	}
	if out, err := p.Install(ctx, "vim", "2:9.0-1"); err != nil || out != "Setting up vim\n" {
		t.Errorf("pinned install = %q, %v", out, err)
	}
	_, err := p.Install(ctx, "vim", "")
	var ee *ExecError
	if !errors.As(err, &ee) || ee.Exit != 100 || err.Error() != "Execution of 'apt-get -q -y -o DPkg::Options::=--force-confold install -- vim' returned 100: E: Unable to locate package vim" {
		t.Errorf("failed install = %v", err)
	}
	for _, f := range []func(context.Context, string) (string, error){p.Update, p.Uninstall, p.Purge} {
		if _, err := f(ctx, "vim"); err != nil {
			t.Error(err)
		}
	}
	found, err := p.Search(ctx, "vim")
	if err != nil || len(found) != 1 || found[0].Arch != "amd64" || found[0].Epoch != "2" || found[0].Version != "9.0.1378" {
		t.Errorf("search = %+v, %v", found, err)
	}
	inv, err := p.Inventory(ctx)
	if err != nil || inv.Count != 2 || inv.MD5 != "06061ee2b89576f3cd76984758576515" {
		t.Errorf("inventory = %+v, %v", inv, err)
	}
	// The repository keeps the architecture, as the Ruby agent's pattern does.
	u, err := p.Refresh(ctx)
	if err != nil || len(u.Outdated) != 2 || u.Outdated[0] != (Update{"curl", "7.88.1-10+deb12u5", "Debian-Security:12/stable-security [amd64]"}) || u.Outdated[1].Package != "libcurl4" {
		t.Errorf("refresh = %+v, %v", u.Outdated, err)
	}
	if _, err := p.Clean(ctx, "all"); err == nil || err.Error() != "Cannot find yum at /usr/bin/yum" {
		t.Errorf("apt clean = %v", err)
	}
	f.answers["apt-get update"] = fakeAnswer{exit: 100}
	if _, err := p.Refresh(ctx); err == nil || err.Error() != "apt-get update failed, exit code was 100" {
		t.Errorf("failed apt-get update = %v", err)
	}
}

func TestAptGetEnvironment(t *testing.T) {
	c := aptGet("install", "--", "x")
	if len(c.Env) != 1 || c.Env[0] != "DEBIAN_FRONTEND=noninteractive" || !strings.Contains(c.String(), "-y") {
		t.Errorf("apt-get command = %v %v", c, c.Env)
	}
}

func TestYumCommandsAndParsing(t *testing.T) {
	q := "rpm -q --queryformat " + rpmFormat + " "
	f := &fakeRunner{answers: map[string]fakeAnswer{
		q + "bash":                              {stdout: "bash\t(none)\t5.1.8\t9.el9\tx86_64\n"},
		q + "openssl":                           {stdout: "openssl\t1\t3.0.7\t27.el9\tx86_64\n"},
		q + "glibc":                             {stdout: "glibc\t(none)\t2.34\t100.el9\tx86_64\nglibc\t(none)\t2.34\t100.el9\ti686\n"},
		q + "nosuch":                            {stdout: "package nosuch is not installed\n", exit: 1},
		"dnf -y -q install nginx-1.20.1-14.el9": {},
		"dnf -y -q install nginx":               {stdout: "Error: Unable to find a match: nginx\n", exit: 1},
		"dnf -y -q update nginx":                {},
		"dnf -y -q remove nginx":                {},
		"dnf -q list --showduplicates nginx":    {stdout: "Available Packages\nnginx.x86_64   1:1.20.1-14.el9   appstream\nnginx.x86_64   1:1.22.1-2.el9   appstream\n"},
		"rpm -qa":                               {stdout: "bash-5.1.8-9.el9.x86_64\nopenssl-3.0.7-27.el9.x86_64\n"},
		"dnf -q check-update": {exit: 100, stdout: "\nkernel.x86_64    5.14.0-427.el9    baseos\ncurl.x86_64   7.76.1-29.el9   baseos\n" +
			"Obsoleting Packages\ngrub2-tools.x86_64  1:2.06-77.el9  baseos\n"},
		"dnf clean metadata": {stdout: "42 files removed\n"},
		"dnf clean all":      {exit: 1},
	}}
	ctx := context.Background()
	p := NewYum(f.run, "dnf")
	for name, want := range map[string]Status{
		"bash":    {Name: "bash", Ensure: "5.1.8-9.el9", Epoch: "0", Version: "5.1.8", Release: "9.el9", Arch: "x86_64", Provider: "yum"},
		"openssl": {Name: "openssl", Ensure: "1:3.0.7-27.el9", Epoch: "1", Version: "3.0.7", Release: "27.el9", Arch: "x86_64", Provider: "yum"},
		"glibc":   {Name: "glibc", Ensure: "2.34-100.el9", Epoch: "0", Version: "2.34", Release: "100.el9", Arch: "x86_64", Provider: "yum"},
		"nosuch":  {Name: "nosuch", Ensure: Absent, Provider: "yum"},
	} {
		if got, err := p.Status(ctx, name); err != nil || got != want {
			t.Errorf("Status(%s) = %+v, %v; want %+v", name, got, err, want)
		}
	}
	if _, err := p.Install(ctx, "nginx", "1.20.1-14.el9"); err != nil {
		t.Error(err)
	}
	if _, err := p.Install(ctx, "nginx", ""); err == nil || !strings.Contains(err.Error(), "returned 1: Error: Unable to find a match") {
		t.Errorf("failed install = %v", err)
	}
	for _, f := range []func(context.Context, string) (string, error){p.Update, p.Uninstall, p.Purge} {
		if _, err := f(ctx, "nginx"); err != nil {
			t.Error(err)
		}
	}
	found, err := p.Search(ctx, "nginx")
	if err != nil || len(found) != 2 || found[1] != (Status{Name: "nginx", Ensure: "1.22.1-2.el9", Epoch: "1", Version: "1.22.1", Release: "2.el9", Arch: "x86_64", Provider: "yum"}) {
		t.Errorf("search = %+v, %v", found, err)
	}
	if inv, err := p.Inventory(ctx); err != nil || inv.Count != 2 || len(inv.MD5) != 32 {
		t.Errorf("inventory = %+v, %v", inv, err)
	}
	u, err := p.Refresh(ctx)
	if err != nil || u.ExitCode != 100 || len(u.Outdated) != 2 || u.Outdated[0] != (Update{"kernel.x86_64", "5.14.0-427.el9", "baseos"}) {
		t.Errorf("refresh = %+v, %v", u, err)
	}
	if _, err := p.Clean(ctx, "all"); err == nil || err.Error() != "Yum clean failed, exit code was 1" {
		t.Errorf("failed clean = %v", err)
	}
	if _, err := p.Clean(ctx, "everything"); err == nil || err.Error() != "Unsupported yum clean mode: everything" {
		t.Errorf("bad clean mode = %v", err)
	}
}

func TestYumAgentActions(t *testing.T) {
	f := &fakeRunner{answers: map[string]fakeAnswer{
		"yum clean all":       {stdout: "Cleaning repos\n"},
		"yum -q check-update": {exit: 100, stdout: "curl.x86_64   7.76.1-29.el9   baseos\n"},
	}}
	a, err := New(Options{Provider: "yum", Run: f.run})
	if err != nil {
		t.Fatal(err)
	}
	if rep := call(t, a, "yum_clean", nil); rep.Status != message.OK || rep.Data["output"] != "Cleaning repos\n" {
		t.Errorf("yum_clean with the default mode = %v %q %v", rep.Status, rep.Message, rep.Data)
	}
	rep := call(t, a, "checkupdates", nil)
	list, _ := rep.Data["outdated_packages"].([]any)
	if rep.Status != message.OK || rep.Data["package_manager"] != "yum" || rep.Data["exitcode"] != int64(100) || len(list) != 1 ||
		list[0].(map[marshal.Symbol]any)["package"] != "curl.x86_64" {
		t.Errorf("checkupdates = %v %q %v", rep.Status, rep.Message, rep.Data)
	}
}
