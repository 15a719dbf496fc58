//go:build !linux

package data

import "os"

// statOf reads what os.FileInfo offers portably; owner and times other than mtime are zero.
func statOf(fi os.FileInfo) statInfo { return statFallback(fi) }

// openFlags open a file for hashing.
const openFlags = os.O_RDONLY
