package e2e

// The Neon failure modes, proven with real parts on this machine: PgBouncer
// 1.18 in transaction mode plays the -pooler endpoint, private PostgreSQL
// clusters play a compute that suspends (backends terminated), cold-starts,
// restarts and demands TLS + SCRAM, and /etc/hosts gives them Neon-shaped
// names (internal/pgharness). One file per failure mode:
//
//   - neon_pooling_test.go: PgBouncer in transaction mode (-pooler)
//   - neon_suspend_test.go: a suspend terminates every backend
//   - neon_coldstart_test.go: serve starts while the compute is down
//   - neon_restart_test.go: a restart under load
//   - neon_tls_test.go: TLS with SCRAM and channel binding
//   - neon_migrate_test.go: migrations must not go through the pooler
//
// with the workload they share in neon_journey_test.go and the setup below.
// Run: go test -race -count=1 -run TestNeon ./e2e/ -v

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/todo-api/todo-api/internal/pgharness"
	"github.com/todo-api/todo-api/internal/testdb"
)

// neonMainPort is the machine's main PostgreSQL (127.0.0.1:5432). The pooled
// stand-in listens on the same port at 127.0.0.2, so that removing "-pooler"
// from the host name is all it takes to reach the direct server, as on Neon.
const neonMainPort = 5432

// neonPooledURL is the pooled stand-in URL of a database on the main
// server.
func neonPooledURL(dbname string) string {
	return fmt.Sprintf("postgres://postgres@%s:%d/%s?sslmode=disable", pgharness.PoolerHost, neonMainPort, dbname)
}

// neonDBName returns the database name of a URL.
func neonDBName(t testing.TB, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// neonRequireMainServer fails unless the test databases live on the main
// server at 127.0.0.1:5432, which the pooler stand-in fronts.
func neonRequireMainServer(t testing.TB) {
	t.Helper()
	u, err := url.Parse(testdb.ServerURL())
	if err != nil || u.Hostname() != "127.0.0.1" || (u.Port() != "" && u.Port() != strconv.Itoa(neonMainPort)) {
		t.Fatalf("the Neon pooler stand-in fronts 127.0.0.1:%d; TEST_DATABASE_URL points elsewhere (%s)", neonMainPort, u.Redacted())
	}
}

// neonStartPooler runs PgBouncer as the -pooler endpoint: 127.0.0.2:5432 in
// front of the main server.
func neonStartPooler(t testing.TB) *pgharness.PgBouncer {
	t.Helper()
	pgharness.EnsureHosts(t)
	neonRequireMainServer(t)
	return pgharness.StartPgBouncer(t, pgharness.PoolerIP, neonMainPort, pgharness.DirectIP, neonMainPort)
}

// neonServerEnv is the environment every server here gets on top of
// startServer's: the given database, no unpooled URL from the ambient
// environment, never an embedded server, a short drain on stop.
func neonServerEnv(dbURL string, extra map[string]string) map[string]string {
	env := map[string]string{
		"DATABASE_URL":          dbURL,
		"DATABASE_URL_UNPOOLED": "",
		"EMBEDDED_POSTGRES":     "never",
		"SHUTDOWN_DRAIN_DELAY":  "0s",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// neonCLIResult is one finished todo-api command.
type neonCLIResult struct {
	Stdout, Stderr string
	Code           int
	Elapsed        time.Duration
}

// neonCLI runs `todo-api args...` with env added, bounded by timeout.
func neonCLI(t testing.TB, env map[string]string, timeout time.Duration, args ...string) neonCLIResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "ENV=development", "EMBEDDED_POSTGRES=never", "DATABASE_URL_UNPOOLED=")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := neonCLIResult{Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("todo-api %s did not finish within %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), timeout, res.Stdout, res.Stderr)
	}
	if cmd.ProcessState != nil {
		res.Code = cmd.ProcessState.ExitCode()
	} else if err != nil {
		t.Fatalf("todo-api %s: %v", strings.Join(args, " "), err)
	}
	return res
}
