package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/todo-api/todo-api/database"
	"github.com/todo-api/todo-api/internal/pgharness"
	"github.com/todo-api/todo-api/internal/pglocal"
)

// embeddedTestUser is the ordinary account TestEmbeddedPostgres runs serve
// as when the tests run as root: neither root nor postgres, as a developer
// on a Debian machine is.
const embeddedTestUser = "todo-embedded-test"

// TestEmbeddedPostgres: as an ordinary user, with EMBEDDED_POSTGRES=always,
// serve starts a private PostgreSQL under ./.data/ from the machine's
// binaries, becomes ready, and stops it on exit; a second start reuses the
// data. Debian's build puts the Unix socket where only postgres may write;
// the server must not need it.
func TestEmbeddedPostgres(t *testing.T) {
	dir := embeddedDir(t)
	bin, owner, cred := binary, os.Getuid(), (*syscall.Credential)(nil)
	if os.Geteuid() == 0 {
		u := embeddedOrdinaryUser(t)
		owner, cred = u.uid, &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid)}
		for _, p := range []string{filepath.Dir(dir), dir, filepath.Join(dir, "config.yaml")} {
			if err := os.Chown(p, u.uid, u.gid); err != nil {
				t.Fatal(err)
			}
		}
		// The binary's own directory is private to root.
		bin = filepath.Join(dir, "todo-api")
		raw, err := os.ReadFile(binary)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, raw, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	embeddedRounds(t, dir, func() *exec.Cmd {
		cmd := exec.Command(bin, "serve")
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		return cmd
	})
	embeddedCheckOwner(t, dir, owner)
}

// TestEmbeddedPostgresAsRoot: as root (a container's default), serve runs
// the private PostgreSQL as the unprivileged pglocal.Account,
// which owns the data.
func TestEmbeddedPostgresAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Log("not root: the root path cannot happen here; TestEmbeddedPostgres covers the start")
		return
	}
	dir := embeddedDir(t)
	// The account must pass through the directories above ./.data.
	for _, p := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	embeddedRounds(t, dir, func() *exec.Cmd { return exec.Command(binary, "serve") })
	u, err := user.Lookup(pglocal.Account)
	if err != nil {
		t.Fatal(err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		t.Fatal(err)
	}
	embeddedCheckOwner(t, dir, uid)
}

// embeddedDir makes a working directory with the repository's config.yaml,
// and fails when the private server's port is taken.
func embeddedDir(t *testing.T) string {
	t.Helper()
	if database.Answers("127.0.0.1:" + strconv.Itoa(pglocal.Port)) {
		t.Fatalf("port %d is taken; stop whatever listens there", pglocal.Port)
	}
	dir := t.TempDir()
	config, err := os.ReadFile("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), config, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

type embeddedUser struct{ uid, gid int }

// embeddedOrdinaryUser returns embeddedTestUser, creating it (a system
// account without a home or a login shell) when it is missing.
func embeddedOrdinaryUser(t *testing.T) embeddedUser {
	t.Helper()
	u, err := user.Lookup(embeddedTestUser)
	if err != nil {
		out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", embeddedTestUser).CombinedOutput()
		if err != nil {
			t.Fatalf("useradd %s: %v\n%s", embeddedTestUser, err, out)
		}
		if u, err = user.Lookup(embeddedTestUser); err != nil {
			t.Fatal(err)
		}
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		t.Fatalf("%s has a non-numeric uid/gid %q/%q", embeddedTestUser, u.Uid, u.Gid)
	}
	return embeddedUser{uid, gid}
}

// embeddedRounds starts serve (made by newCmd) in dir twice: the first
// start initialises and migrates, the second reuses the data.
func embeddedRounds(t *testing.T, dir string, newCmd func() *exec.Cmd) {
	t.Helper()
	run := func(round int) {
		port := freePort(t)
		cmd := newCmd()
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "EMBEDDED_POSTGRES=always", "PORT="+strconv.Itoa(port), "BCRYPT_COST=4", "HOME="+dir)
		logs := &pgharness.LogBuffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		s := &server{URL: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, logs: logs, done: make(chan error, 1)}
		go func() { s.done <- cmd.Wait() }()
		defer s.Stop(t)
		if err := s.waitReady(90 * time.Second); err != nil {
			pglog, _ := os.ReadFile(filepath.Join(dir, ".data", "postgres.log"))
			t.Fatalf("round %d: not ready: %v\n%s\npostgres.log:\n%s", round, err, logs.String(), pglog)
		}
		resp, err := http.Get(s.URL + "/readyz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("round %d: readyz: %v", round, err)
		}
		resp.Body.Close()
		s.Signal(t, syscall.SIGTERM)
		if err := s.Wait(30 * time.Second); err != nil {
			t.Fatalf("round %d: exit: %v\n%s", round, err, logs.String())
		}
		if !strings.Contains(logs.String(), "private PostgreSQL stopped") {
			t.Errorf("round %d: the private server was not stopped:\n%s", round, logs.String())
		}
		if database.Answers("127.0.0.1:" + strconv.Itoa(pglocal.Port)) {
			t.Errorf("round %d: something still listens on %d after exit", round, pglocal.Port)
		}
		applied := strings.Count(logs.String(), "migration applied")
		if round == 1 && applied == 0 {
			t.Errorf("first start applied no migrations:\n%s", logs.String())
		}
		if round == 2 && applied != 0 {
			t.Errorf("second start re-applied %d migrations: the data was not kept", applied)
		}
	}
	run(1)
	run(2)
}

// embeddedCheckOwner checks that ./.data/pgdata exists and belongs to uid,
// the account PostgreSQL ran as.
func embeddedCheckOwner(t *testing.T, dir string, uid int) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, ".data", "pgdata", "PG_VERSION")); err != nil {
		t.Fatalf("no data directory under ./.data: %v", err)
	}
	info, err := os.Stat(filepath.Join(dir, ".data", "pgdata"))
	if err != nil {
		t.Fatal(err)
	}
	if got := int(info.Sys().(*syscall.Stat_t).Uid); got != uid {
		t.Errorf("./.data/pgdata belongs to uid %d, want %d, the account PostgreSQL ran as", got, uid)
	}
}
