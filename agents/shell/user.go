package shell

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// Identity is whom a command runs as: the user's credential and the environment a login
// of that user would set.
type Identity struct {
	Cred *syscall.Credential // nil runs as mcod itself
	Home string
	Name string
}

// errNotRoot is why a user input is refused when mcod does not run as root.
var errNotRoot = errors.New("mcod must run as root to run commands as another user")

// LookupUser resolves a user name to its uid, primary gid, supplementary groups and home, from
// the system's user database.
func LookupUser(name string) (Identity, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return Identity{}, fmt.Errorf("unknown user %s: %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return Identity{}, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return Identity{}, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	ids, err := u.GroupIds()
	if err != nil {
		return Identity{}, fmt.Errorf("user %s: groups: %w", name, err)
	}
	groups := make([]uint32, 0, len(ids))
	for _, g := range ids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return Identity{}, fmt.Errorf("user %s: group %q: %w", name, g, err)
		}
		groups = append(groups, uint32(n))
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}
	return Identity{Cred: cred, Home: u.HomeDir, Name: u.Username}, nil
}

// identity decides whom a request's command runs as. No user (or "") is mcod's own
// identity. A user is looked up first, so an unknown one is reported as such; switching to
// it needs root, except when it is mcod's own user.
func (s *Shell) identity(name string) (Identity, error) {
	if name == "" {
		return Identity{}, nil
	}
	id, err := s.opts.LookupUser(name)
	if err != nil {
		return Identity{}, fmt.Errorf("cannot run as %s: %w", name, err)
	}
	if s.opts.IsRoot() {
		return id, nil
	}
	if int(id.Cred.Uid) == os.Geteuid() {
		return Identity{Home: id.Home, Name: id.Name}, nil
	}
	return Identity{}, fmt.Errorf("cannot run as %s: %w", name, errNotRoot)
}

// env is the environment of a command run as id: mcod's own, with HOME, USER and LOGNAME
// of the user when one was asked for.
func (s *Shell) env(id Identity) []string {
	if id.Name == "" {
		return s.opts.Env
	}
	base := s.opts.Env
	if base == nil {
		base = os.Environ()
	}
	out := make([]string, 0, len(base)+3)
	for _, kv := range base {
		switch {
		case hasKey(kv, "HOME"), hasKey(kv, "USER"), hasKey(kv, "LOGNAME"):
			continue
		}
		out = append(out, kv)
	}
	return append(out, "HOME="+id.Home, "USER="+id.Name, "LOGNAME="+id.Name)
}

func hasKey(kv, key string) bool {
	return len(kv) > len(key) && kv[len(key)] == '=' && kv[:len(key)] == key
}
