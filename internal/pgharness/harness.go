// Package pgharness runs real PostgreSQL servers and PgBouncer for tests:
// a private PostgreSQL 15 cluster per test (TLS, SCRAM, restarts, killed
// backends) and a PgBouncer in transaction mode, the stand-ins for a Neon
// compute and its -pooler endpoint.
//
// It is test-support code: every function takes a testing.TB, fails the
// test on error (a missing tool fails with the command that installs it;
// nothing is skipped), and registers its own cleanup.
//
// PostgreSQL and PgBouncer refuse to run as root. When the tests run as root
// (CI does), the binaries run as the "postgres" OS user, which owns the
// files they use; otherwise they run as the current user.
package pgharness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// BinDir holds the PostgreSQL 15 server binaries (Debian's layout).
const BinDir = "/usr/lib/postgresql/15/bin"

// PgBouncerPath is Debian's pgbouncer binary.
const PgBouncerPath = "/usr/sbin/pgbouncer"

// Superuser is the cluster's superuser, trusted from loopback addresses; the
// harness itself connects as it.
const Superuser = "postgres"

// The installs a missing tool needs; a missing tool fails the test with one.
const (
	installPostgres  = "apt-get install -y postgresql-15"
	installPgBouncer = "apt-get install -y pgbouncer"
)

// runAs is the OS user the servers run as: nil means the current user.
type runAs struct {
	cred *syscall.Credential
	uid  int
	gid  int
}

var (
	serviceUserOnce sync.Once
	serviceUser     runAs
	serviceUserErr  error
)

// owner returns who the servers run as: the "postgres" OS user when the
// tests run as root, else the current user (cred nil).
func owner(t testing.TB) runAs {
	t.Helper()
	serviceUserOnce.Do(func() {
		if os.Geteuid() != 0 {
			serviceUser = runAs{uid: os.Geteuid(), gid: os.Getegid()}
			return
		}
		u, err := user.Lookup("postgres")
		if err != nil {
			serviceUserErr = fmt.Errorf("running as root, PostgreSQL needs the unprivileged OS user \"postgres\" (%v); %s creates it", err, installPostgres)
			return
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil {
			serviceUserErr = fmt.Errorf("user postgres has a non-numeric uid/gid %q/%q", u.Uid, u.Gid)
			return
		}
		serviceUser = runAs{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid: uid, gid: gid}
	})
	if serviceUserErr != nil {
		t.Fatal(serviceUserErr)
	}
	return serviceUser
}

// command prepares a server binary to run as the service user.
func (r runAs) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	if r.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
		cmd.Env = append(os.Environ(), "HOME=/tmp", "USER=postgres", "LOGNAME=postgres")
	}
	return cmd
}

// chownAll gives the service user a tree of files (a no-op when it is the
// current user).
func (r runAs) chownAll(t testing.TB, root string) {
	t.Helper()
	if r.cred == nil {
		return
	}
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, r.uid, r.gid)
	})
	if err != nil {
		t.Fatalf("chown %s to the postgres user: %v", root, err)
	}
}

// tempDir makes a directory the service user can use, removed when the test
// ends. t.TempDir is not used: its parent is private to the current user.
func (r runAs) tempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r.chownAll(t, dir)
	return dir
}

// run runs a command to completion, failing the test with its output.
func run(t testing.TB, cmd *exec.Cmd) string {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd.String(), err, out.String())
	}
	return out.String()
}

// LogBuffer collects a process's output, written and read from several
// goroutines. The e2e tests use it for their servers' logs too.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// requireFile fails the test when a tool is missing, naming its install.
func requireFile(t testing.TB, path, install string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is missing (%v): run `%s` (as root; .ci/setup-neon-standin.sh does it)", path, err, install)
	}
}
