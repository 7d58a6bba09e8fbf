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
// files they use; otherwise they run as the current user (see pglocal,
// which runs them).
package pgharness

import (
	"bytes"
	"os"
	"sync"
	"testing"

	"github.com/todo-api/todo-api/internal/pglocal"
)

// pgMajor is the PostgreSQL major version the clusters run (Debian's
// postgresql-15 package).
const pgMajor = "15"

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

// serverUser returns who the servers run as (pglocal.ServerUser).
func serverUser(t testing.TB) pglocal.User {
	t.Helper()
	u, err := pglocal.ServerUser()
	if err != nil {
		t.Fatalf("pgharness: %v; `%s` creates it", err, installPostgres)
	}
	return u
}

// own hands a tree of files to the servers' user.
func own(t testing.TB, u pglocal.User, path string) {
	t.Helper()
	if err := u.Own(path); err != nil {
		t.Fatalf("pgharness: give %s to the servers' user: %v", path, err)
	}
}

// tempDir makes a directory the servers' user can use, removed when the
// test ends. t.TempDir is not used: its parent is private to the current
// user.
func tempDir(t testing.TB, u pglocal.User, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	own(t, u, dir)
	return dir
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
