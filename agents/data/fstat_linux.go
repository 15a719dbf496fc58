package data

import (
	"os"
	"syscall"
	"time"
)

// statOf reads the raw stat(2) fields of fi.
func statOf(fi os.FileInfo) statInfo {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return statFallback(fi)
	}
	return statInfo{
		mode:  st.Mode,
		uid:   int64(st.Uid),
		gid:   int64(st.Gid),
		mtime: time.Unix(st.Mtim.Unix()),
		ctime: time.Unix(st.Ctim.Unix()),
		atime: time.Unix(st.Atim.Unix()),
	}
}

// openFlags open a file for hashing without blocking (a FIFO with no writer, a device) and
// without following a final symlink.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOFOLLOW | syscall.O_NOCTTY
