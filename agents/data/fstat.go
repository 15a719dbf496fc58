package data

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
)

// Fstat is the fstat data plugin: stat data for a path. A path that does not exist (or a
// dangling symlink) gives output "not present", present 0, type "unknown", mode "0000" and 0
// for the other fields, with the *_age outputs nil, exactly as MCollective's plugin does.
// Otherwise output is "present", present 1, size/uid/gid integers, mtime/ctime/atime local
// "YYYY-MM-DD HH:MM:SS" strings with *_seconds epochs and *_age seconds ago, mode the octal
// st_mode ("100644"), md5 the hex digest for regular files (0 otherwise) and type one of
// file, directory, symlink, socket, chardev, blockdev or unknown. A symlink is described
// itself, not its target.
func Fstat() *agent.DataPlugin { return FstatWithin(nil) }

// FstatWithin is Fstat limited to the paths allowed lists: a query for any other path fails,
// with an error that says nothing about the path, so a filter using it does not match.
func FstatWithin(allowed Paths) *agent.DataPlugin {
	return &agent.DataPlugin{DDL: mustDDL("fstat"), Query: func(ctx context.Context, q any) (map[string]any, error) {
		name, _ := q.(string)
		if !allowed.Allows(name) {
			return nil, fmt.Errorf("fstat: %w", errPathNotAllowed)
		}
		return fstat(ctx, name, time.Now())
	}}
}

func fstat(ctx context.Context, name string, now time.Time) (map[string]any, error) {
	out := map[string]any{
		"name": name, "output": "not present", "type": "unknown", "mode": "0000",
		"present": int64(0), "size": int64(0),
		"mtime": int64(0), "ctime": int64(0), "atime": int64(0),
		"mtime_seconds": int64(0), "ctime_seconds": int64(0), "atime_seconds": int64(0),
		"md5": int64(0), "uid": int64(0), "gid": int64(0),
	}
	if _, err := os.Stat(name); err != nil {
		return out, nil
	}
	fi, err := os.Lstat(name)
	if err != nil {
		return out, nil
	}
	st := statOf(fi)
	out["output"] = "present"
	out["present"] = int64(1)
	out["size"] = fi.Size()
	out["uid"] = st.uid
	out["gid"] = st.gid
	for _, t := range []struct {
		key string
		at  time.Time
	}{{"mtime", st.mtime}, {"ctime", st.ctime}, {"atime", st.atime}} {
		out[t.key] = t.at.Local().Format(time.DateTime)
		out[t.key+"_seconds"] = t.at.Unix()
		out[t.key+"_age"] = now.Unix() - t.at.Unix()
	}
	out["mode"] = fmt.Sprintf("%o", st.mode)

	m := fi.Mode()
	switch {
	case m.IsDir():
		out["type"] = "directory"
	case m.IsRegular():
		out["type"] = "file"
		sum, err := md5File(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("fstat %s: %w", name, err)
		}
		out["md5"] = sum
	case m&os.ModeSymlink != 0:
		out["type"] = "symlink"
	case m&os.ModeSocket != 0:
		out["type"] = "socket"
	case m&os.ModeCharDevice != 0:
		out["type"] = "chardev"
	case m&os.ModeDevice != 0:
		out["type"] = "blockdev"
	}
	return out, nil
}

// md5File hashes the regular file name, giving up when ctx ends. The file is opened
// non-blocking and without following a symlink, and must still be a regular file once open:
// a path swapped for a FIFO or a device after fstat's stat is refused rather than read. A
// read of a pollable file ends when ctx does. A regular file on a hung network or FUSE mount
// can still block a read; nothing in user space can interrupt that.
func md5File(ctx context.Context, name string) (string, error) {
	f, err := openRegular(name)
	if err != nil {
		return "", fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = f.SetReadDeadline(d) // os.ErrNoDeadline for a regular file: its reads do not wait
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
	defer stop()
	h := md5.New()
	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("md5: %w", err)
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("read: %w", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// openRegular opens name with openFlags and refuses anything but a regular file.
func openRegular(name string) (*os.File, error) {
	f, err := os.OpenFile(name, openFlags, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is no longer a regular file (%s)", name, fi.Mode().Type())
	}
	return f, nil
}

// statInfo is the part of a stat(2) result fstat reports beyond os.FileInfo.
type statInfo struct {
	mode         uint32
	uid, gid     int64
	mtime, ctime time.Time
	atime        time.Time
}

// statFallback builds a statInfo from os.FileInfo alone, rebuilding the type bits of st_mode.
func statFallback(fi os.FileInfo) statInfo {
	m := fi.Mode()
	mode := uint32(m.Perm())
	switch {
	case m.IsDir():
		mode |= 0o040000
	case m.IsRegular():
		mode |= 0o100000
	case m&os.ModeSymlink != 0:
		mode |= 0o120000
	case m&os.ModeSocket != 0:
		mode |= 0o140000
	case m&os.ModeCharDevice != 0:
		mode |= 0o020000
	case m&os.ModeDevice != 0:
		mode |= 0o060000
	case m&os.ModeNamedPipe != 0:
		mode |= 0o010000
	}
	if m&os.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		mode |= 0o1000
	}
	return statInfo{mode: mode, mtime: fi.ModTime(), ctime: fi.ModTime(), atime: fi.ModTime()}
}
