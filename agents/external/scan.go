package external

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mcorun/mcorun/runtime/ddl"
)

// fileStamp identifies a version of a file without reading it: its inode (a new one when an
// installer renames a new file into place), size, and modification and change times.
func fileStamp(st os.FileInfo) string {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d:%d %d %d %d", sys.Dev, sys.Ino, st.Size(), st.ModTime().UnixNano(), time.Unix(sys.Ctim.Unix()).UnixNano())
	}
	return fmt.Sprintf("%d %d", st.Size(), st.ModTime().UnixNano())
}

// found is one external agent on disk: its DDL and its executable.
type found struct {
	name    string
	ddlPath string
	exe     string
	ddl     *ddl.Agent
	// stamp changes whenever the DDL or the executable changes: their paths, the DDL's
	// content and the executable's fileStamp.
	stamp string
	// newest is the later modification time of the two files.
	newest time.Time
}

// skipped is a file that looks like an external agent's and cannot be served.
type skipped struct {
	path, reason string
}

// reservedName reports whether name is refused to an external agent: a built-in agent's
// (whether or not this node serves it) or one Choria keeps for itself.
func reservedName(name string) bool {
	switch name {
	case "rpcutil", "discovery", "choria_util", "choria_provision", "choria_registry", "scout":
		return true
	}
	return slices.Contains(ddl.BuiltinAgents(), name)
}

// scan finds the external agents in each libdir's mcollective/agent directory: NAME.json
// (or NAME/NAME.json) beside an executable NAME, or NAME/NAME-GOOS_GOARCH for this platform.
// An earlier libdir wins for a name. A DDL with no executable beside it is an agent of
// another kind and is passed over silently; one whose metadata names another provider than
// "external" too. Anything else that cannot be served is returned as skipped, with the
// reason.
func scan(libdirs []string) (agents map[string]found, skips []skipped) {
	agents = map[string]found{}
	for _, lib := range libdirs {
		dir := filepath.Join(lib, "mcollective", "agent")
		entries, err := os.ReadDir(dir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				skips = append(skips, skipped{dir, err.Error()})
			}
			continue
		}
		for _, e := range entries {
			name, ddlPath := strings.TrimSuffix(e.Name(), ".json"), filepath.Join(dir, e.Name())
			if e.IsDir() {
				name, ddlPath = e.Name(), filepath.Join(dir, e.Name(), e.Name()+".json")
			} else if !strings.HasSuffix(e.Name(), ".json") {
				continue
			}
			if _, seen := agents[name]; seen {
				continue
			}
			f, reason := candidate(name, ddlPath)
			switch {
			case reason != "":
				skips = append(skips, skipped{ddlPath, reason})
			case f != nil:
				agents[name] = *f
			}
		}
	}
	return agents, skips
}

// candidate reads one DDL path: nil and no reason when it is not an external agent's.
func candidate(name, ddlPath string) (*found, string) {
	dst, err := os.Stat(ddlPath)
	if err != nil || !dst.Mode().IsRegular() {
		return nil, ""
	}
	exe, est, exeErr := executable(filepath.Dir(ddlPath), name)
	if exe == "" {
		return nil, ""
	}
	b, err := os.ReadFile(ddlPath)
	if err != nil {
		return nil, err.Error()
	}
	var probe struct {
		Metadata struct {
			Provider string `json:"provider"`
		} `json:"metadata"`
	}
	if json.Unmarshal(b, &probe) == nil && probe.Metadata.Provider != "" && probe.Metadata.Provider != "external" {
		return nil, ""
	}
	if exeErr != "" {
		return nil, exeErr
	}
	d, err := ddl.ParseAgent(b)
	if err != nil {
		return nil, "the DDL does not parse: " + err.Error()
	}
	if d.Metadata.Name != name {
		return nil, fmt.Sprintf("the DDL names agent %q, not %q: the file name and the metadata name must agree", d.Metadata.Name, name)
	}
	if reservedName(name) {
		return nil, fmt.Sprintf("%s is the name of a built-in agent; rename the external agent", name)
	}
	newest := dst.ModTime()
	if est.ModTime().After(newest) {
		newest = est.ModTime()
	}
	return &found{
		name: name, ddlPath: ddlPath, exe: exe, ddl: d, newest: newest,
		stamp: fmt.Sprintf("%s %x|%s %s", ddlPath, sha256.Sum256(b), exe, fileStamp(est)),
	}, ""
}

// executable finds the agent's executable in dir: NAME, else NAME/NAME-GOOS_GOARCH. It
// returns "" when neither exists, and a reason when the file is there but cannot be run.
func executable(dir, name string) (string, os.FileInfo, string) {
	for _, p := range []string{filepath.Join(dir, name), filepath.Join(dir, name, name+"-"+runtime.GOOS+"_"+runtime.GOARCH)} {
		st, err := os.Stat(p)
		if err != nil || st.IsDir() {
			continue
		}
		if !st.Mode().IsRegular() {
			return p, st, fmt.Sprintf("%s is not a regular file", p)
		}
		if st.Mode().Perm()&0o111 == 0 {
			return p, st, fmt.Sprintf("%s is not executable (mode %v); chmod +x it", p, st.Mode().Perm())
		}
		if st.Mode().Perm()&0o002 != 0 {
			return p, st, fmt.Sprintf("%s is writable by every user (mode %v), who could make the node run anything; chmod o-w it", p, st.Mode().Perm())
		}
		return p, st, ""
	}
	return "", nil, ""
}
