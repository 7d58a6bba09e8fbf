package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/todo-api/todo-api/internal/pgharness"
	"github.com/todo-api/todo-api/internal/testdb"
)

// binary is the todo-api binary built once for the package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "todo-api-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "todo-api")
	build := exec.Command("go", "build", "-o", binary, "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running todo-api process.
type server struct {
	URL  string
	Port int
	cmd  *exec.Cmd
	logs *pgharness.LogBuffer
	done chan error
}

// freePort asks the kernel for an unused TCP port.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer runs `todo-api serve` on a fresh database (unless env sets
// DATABASE_URL) and waits until /readyz answers 200. env adds to or
// overrides the process environment. The process is stopped when the test
// ends.
func startServer(t testing.TB, env map[string]string) *server {
	t.Helper()
	return startServerIn(t, "..", env)
}

// startServerIn is startServer with the process's working directory (where
// it reads config.yaml and keeps ./.data/) set to dir.
func startServerIn(t testing.TB, dir string, env map[string]string) *server {
	t.Helper()
	if _, ok := env["DATABASE_URL"]; !ok {
		withDB := map[string]string{"DATABASE_URL": testdb.Fresh(t)}
		for k, v := range env {
			withDB[k] = v
		}
		env = withDB
	}
	s := launchServerIn(t, dir, env)
	if err := s.waitReady(30 * time.Second); err != nil {
		t.Fatalf("server did not become ready: %v\nlogs:\n%s", err, s.logs.String())
	}
	return s
}

// launchServer starts `todo-api serve` with env added to the test
// defaults, without waiting for readiness and without failing when the
// process exits (for a database that is not up yet, or never comes). An
// empty value in env leaves that variable unset.
func launchServer(t testing.TB, env map[string]string) *server {
	t.Helper()
	return launchServerIn(t, "..", env)
}

// e2eSecret signs the tokens of the servers the tests start.
const e2eSecret = "e2e-test-signing-secret-0123456789abcdef"

func launchServerIn(t testing.TB, dir string, env map[string]string) *server {
	t.Helper()
	port := freePort(t)
	// Every test client is 127.0.0.1: the per-client limits would take
	// the many users of one test for one attacker. The limit per account
	// keeps its default.
	vars := map[string]string{
		"PORT":                      strconv.Itoa(port),
		"BCRYPT_COST":               "4",
		"AUTH_RATE_LIMIT":           "10000",
		"AUTH_RATE_BURST":           "10000",
		"AUTH_FAILURE_CLIENT_LIMIT": "10000",
		// The load tests create and list one user's todos far faster,
		// and from more clients at once, than a person would.
		"TODO_CREATE_RATE":   "1000000",
		"TODO_CREATE_BURST":  "1000000",
		"REGISTER_LIMIT":     "1000000",
		"LIST_CONCURRENCY":   "64",
		"ENV":                "development",
		"BETTER_AUTH_SECRET": e2eSecret,
	}
	for k, v := range env {
		vars[k] = v
	}
	cmd := exec.Command(binary, "serve")
	cmd.Dir = dir // the repository root, where config.yaml is, unless a test says
	cmd.Env = os.Environ()
	for k, v := range vars {
		if v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	s := &server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Port: port, cmd: cmd, logs: &pgharness.LogBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		s.Stop(t)
		if t.Failed() {
			t.Logf("server logs:\n%s", s.logs.String())
		}
	})
	return s
}

func (s *server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("process exited: %w", err)
		default:
		}
		resp, err := http.Get(s.URL + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s", timeout)
}

// Signal sends sig to the process.
func (s *server) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// Wait waits for the process to exit and returns its error.
func (s *server) Wait(timeout time.Duration) error {
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(timeout):
		return context.DeadlineExceeded
	}
}

// Stop ends the process: SIGTERM, then SIGKILL after 10 s.
func (s *server) Stop(t testing.TB) {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.Wait(10 * time.Second); errors.Is(err, context.DeadlineExceeded) {
		s.cmd.Process.Kill()
		s.Wait(5 * time.Second)
	}
}

// logLines returns the process's log lines that contain all of subs.
func (s *server) logLines(subs ...string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
next:
	for sc.Scan() {
		for _, sub := range subs {
			if !strings.Contains(sc.Text(), sub) {
				continue next
			}
		}
		out = append(out, sc.Text())
	}
	return out
}

// TestServeSmoke: the binary starts on a fresh database and answers.
func TestServeSmoke(t *testing.T) {
	s := startServer(t, nil)
	resp, err := http.Get(s.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz = %d", resp.StatusCode)
	}
	if len(s.logLines("listening")) != 1 {
		t.Errorf("no listening line in logs:\n%s", s.logs.String())
	}
}

// appliedAtStart is, per server, how many migrations it applied at start
// (its "schema at head" log line's applied_now).
func appliedAtStart(t testing.TB, servers []*server) []int {
	t.Helper()
	var applied []int
	for _, s := range servers {
		for _, line := range s.logLines("schema at head") {
			m := appliedNow.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("no applied_now in %q", line)
			}
			n, _ := strconv.Atoi(m[1])
			applied = append(applied, n)
		}
	}
	return applied
}

var appliedNow = regexp.MustCompile(`applied_now=(\d+)`)
