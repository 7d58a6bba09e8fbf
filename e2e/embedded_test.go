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
)

// TestEmbeddedPostgres: with EMBEDDED_POSTGRES=always, serve starts a
// private PostgreSQL under ./.data/ from the machine's binaries, becomes
// ready, and stops it on exit; a second start reuses the data. As root the
// server runs as the postgres OS user, since PostgreSQL refuses root.
func TestEmbeddedPostgres(t *testing.T) {
	if database.Answers("127.0.0.1:" + strconv.Itoa(database.EmbeddedPort)) {
		t.Fatalf("port %d is taken; stop whatever listens there", database.EmbeddedPort)
	}
	dir := t.TempDir()
	config, err := os.ReadFile("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), config, 0o644); err != nil {
		t.Fatal(err)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal("running as root needs the postgres OS user: ", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		for _, p := range []string{filepath.Dir(dir), dir, filepath.Join(dir, "config.yaml")} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
		bin := filepath.Join(dir, "todo-api")
		raw, _ := os.ReadFile(binary)
		if err := os.WriteFile(bin, raw, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chown(bin, uid, gid)
	}
	run := func(round int) {
		port := freePort(t)
		cmd := exec.Command(binary, "serve")
		if cred != nil {
			cmd = exec.Command(filepath.Join(dir, "todo-api"), "serve")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "EMBEDDED_POSTGRES=always", "PORT="+strconv.Itoa(port), "BCRYPT_COST=4", "HOME="+dir)
		logs := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		s := &server{URL: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, logs: logs, done: make(chan error, 1)}
		go func() { s.done <- cmd.Wait() }()
		defer s.Stop(t)
		if err := s.waitReady(90 * time.Second); err != nil {
			t.Fatalf("round %d: not ready: %v\n%s", round, err, logs.String())
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
		if database.Answers("127.0.0.1:" + strconv.Itoa(database.EmbeddedPort)) {
			t.Errorf("round %d: something still listens on %d after exit", round, database.EmbeddedPort)
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
	if _, err := os.Stat(filepath.Join(dir, ".data", "pgdata", "PG_VERSION")); err != nil {
		t.Errorf("no data directory under ./.data: %v", err)
	}
}

// TestEmbeddedPostgresRefusesRoot: as root, serve explains what to do
// instead of failing obscurely.
func TestEmbeddedPostgresRefusesRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Log("not root: the refusal path cannot happen here; TestEmbeddedPostgres covers the start")
		return
	}
	cmd := exec.Command(binary, "serve")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "EMBEDDED_POSTGRES=always", "PORT="+strconv.Itoa(freePort(t)))
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want status 1\n%s", err, out)
	}
	for _, want := range []string{"refuses to run as root", "pg_ctlcluster", "DATABASE_URL", "regular user"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("message lacks %q:\n%s", want, out)
		}
	}
}
