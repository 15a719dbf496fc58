package shell

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A background job is a directory StatePath/HANDLE holding:
//
//	command     the command, as the request gave it
//	user        the user it runs as, when the request named one
//	started     when it was started (RFC 3339)
//	pgid        its process group id (and session id), written once it has started
//	stdout      its standard output
//	stderr      its standard error
//	exitstatus  its exit status, sh's $? on one line (128+N when signal N ended it); empty
//	            while it runs
//	error       why it could not be started, when it could not
//
// The job runs under a supervisor shell of its own, started through a launcher shell that
// exits at once, in a session of its own (setsid). The supervisor runs `/bin/sh -c COMMAND`
// and then writes $? to the exitstatus file through a descriptor it inherited; the command's
// output goes straight to the files. Nothing of the job is tied to mcod (no pipe, no
// session, no parent to wait on it), so a job outlives an mcod restart and its exit status
// is recorded all the same, and the job's state is only these files and its process group.
// The supervisor traps SIGTERM, SIGINT and SIGHUP, so killing the job's group ends the
// command while the supervisor stays to record how it ended.

const (
	// launcherScript starts the supervisor ($2) over the command ($1) in the background
	// and exits.
	launcherScript = `/bin/sh -c "$2" mcorun-shell-job "$1" </dev/null &`
	// supervisorScript runs the command ($1) without the exit status descriptor and writes
	// its status there.
	supervisorScript = `trap : HUP INT TERM; /bin/sh -c "$1" 3>&-; echo $? >&3`
)

// launcherArgv is the argv that starts a background job running command.
func launcherArgv(command string) []string {
	return []string{"/bin/sh", "-c", launcherScript, "mcorun-shell-launcher", command, supervisorScript}
}

// handleRE is what a job's handle looks like: a UUID, as the Ruby agent's handles are.
var handleRE = regexp.MustCompile(`\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\z`)

// newUUID returns a random version 4 UUID.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make a job handle: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// Job statuses, the Ruby agent's symbols.
const (
	statusStarting = "starting"
	statusRunning  = "running"
	statusStopped  = "stopped"
	statusFailed   = "failed"
)

// errNoJob is a handle with no job.
var errNoJob = errors.New("no such job")

// jobStore is the directory of background jobs.
type jobStore struct {
	dir string
	os  OS
}

// job is one job's state as read from its directory.
type job struct {
	handle  string
	dir     string
	command string
	pgid    int  // 0 until started
	failed  bool // could not be started
	exit    int  // valid when exited
	exited  bool
}

// path is the job's file name.
func (j *job) path(name string) string { return filepath.Join(j.dir, name) }

// signal is the signal that ended the job, 0 when it exited by itself.
func (j *job) signal() int {
	if j.exit > 128 && j.exit < 128+65 {
		return j.exit - 128
	}
	return 0
}

// load reads the job of handle.
func (st *jobStore) load(handle string) (*job, error) {
	if !handleRE.MatchString(handle) {
		return nil, fmt.Errorf("%s is not a job handle: %w", handle, errNoJob)
	}
	j := &job{handle: handle, dir: filepath.Join(st.dir, handle)}
	cmd, err := os.ReadFile(j.path("command"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("job %s: %w", handle, errNoJob)
	}
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", handle, err)
	}
	j.command = string(cmd)
	if _, err := os.Stat(j.path("error")); err == nil {
		j.failed = true
	}
	if b, err := os.ReadFile(j.path("pgid")); err == nil {
		j.pgid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	j.readExit()
	return j, nil
}

// readExit reads the exit status file; a partial or empty file is no status yet.
func (j *job) readExit() {
	b, err := os.ReadFile(j.path("exitstatus"))
	if err != nil {
		return
	}
	line, _, complete := strings.Cut(string(b), "\n")
	if !complete {
		return
	}
	if n, err := strconv.Atoi(line); err == nil {
		j.exit, j.exited = n, true
	}
}

// status is the job's status. A job whose process group is gone without an exit status (its
// supervisor was killed, or the machine restarted) is stopped with no exit code.
func (st *jobStore) status(j *job) string {
	switch {
	case j.failed:
		return statusFailed
	case j.exited:
		return statusStopped
	case j.pgid == 0:
		return statusStarting
	}
	if err := st.os.Signal(j.pgid, 0); errors.Is(err, syscall.ESRCH) {
		j.readExit() // it may have ended between the two looks
		return statusStopped
	}
	return statusRunning
}

// list reads every job, in the order of their directories' names.
func (st *jobStore) list() ([]*job, error) {
	entries, err := os.ReadDir(st.dir)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	var jobs []*job
	for _, e := range entries {
		if !e.IsDir() || !handleRE.MatchString(e.Name()) {
			continue
		}
		j, err := st.load(e.Name())
		if errors.Is(err, errNoJob) {
			continue // being created
		}
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// create makes the directory of a new job and opens its output and exit status files.
func (st *jobStore) create(handle, command, user string, now time.Time) (j *job, files []*os.File, err error) {
	if !handleRE.MatchString(handle) {
		return nil, nil, fmt.Errorf("make a job: %q is not a UUID handle", handle)
	}
	j = &job{handle: handle, dir: filepath.Join(st.dir, handle), command: command}
	if err := os.Mkdir(j.dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("make a job: %w", err)
	}
	defer func() {
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			files = nil
			_ = os.RemoveAll(j.dir)
		}
	}()
	if user != "" {
		if err := writeFile(j.path("user"), user+"\n"); err != nil {
			return nil, nil, err
		}
	}
	if err := writeFile(j.path("started"), now.UTC().Format(time.RFC3339Nano)+"\n"); err != nil {
		return nil, nil, err
	}
	for _, name := range []string{"stdout", "stderr", "exitstatus"} {
		f, err := os.OpenFile(j.path(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o600)
		if err != nil {
			return nil, files, fmt.Errorf("make a job: %w", err)
		}
		files = append(files, f)
	}
	// The command file comes last: a directory without one is not a job yet.
	if err := writeFile(j.path("command"), command); err != nil {
		return nil, files, err
	}
	return j, files, nil
}

// writeFile writes a job file whole: a reader sees all of it or none.
func writeFile(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return fmt.Errorf("write job file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write job file: %w", err)
	}
	return nil
}

// readFrom reads at most max bytes of a job's output file from offset on.
func readFrom(path string, offset int64, max int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read job output: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(io.NewSectionReader(f, offset, 1<<62), int64(max)))
	if err != nil {
		return "", fmt.Errorf("read job output: %w", err)
	}
	return string(b), nil
}

// recordExit writes an exit status for a job whose supervisor could not, unless one is there.
func (j *job) recordExit(code int) error {
	j.readExit()
	if j.exited {
		return nil
	}
	f, err := os.OpenFile(j.path("exitstatus"), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("record the exit status of job %s: %w", j.handle, err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%d\n", code); err != nil {
		return fmt.Errorf("record the exit status of job %s: %w", j.handle, err)
	}
	j.exit, j.exited = code, true
	return nil
}
