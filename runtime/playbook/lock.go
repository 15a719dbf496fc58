package playbook

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"
)

// DefaultLockPath returns the overlap lock file of a playbook:
// <os.TempDir()>/mcorun-<16 hex digits>.lock, the digits being the start of the sha256 of
// the playbook's absolute path with symlinks resolved (when it exists), so that two paths
// to one playbook share one lock.
func DefaultLockPath(file string) (string, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(os.TempDir(), "mcorun-"+hex.EncodeToString(sum[:8])+".lock"), nil
}

// errLocked is the error of a run skipped because another run holds the lock.
type errLocked struct{ path string }

func (e *errLocked) Error() string {
	return fmt.Sprintf("lock: another run holds %s; skipped (use --no-lock to run anyway, or --lock PATH for another lock)", e.path)
}

// acquire takes the exclusive, non-blocking flock at path. It returns the unlock function,
// *errLocked when the lock is held elsewhere, or another error when the file cannot be
// locked at all.
func acquire(path string) (func(), error) {
	l := flock.New(path)
	ok, err := l.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock: %s: %w", path, err)
	}
	if !ok {
		return nil, &errLocked{path}
	}
	return func() { _ = l.Unlock() }, nil
}
