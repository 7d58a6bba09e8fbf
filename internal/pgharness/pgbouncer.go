package pgharness

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PgBouncer is a running PgBouncer 1.18 in transaction mode, as Neon runs
// it in front of a compute: clients share server connections transaction by
// transaction, so session state (prepared statements, advisory locks, SET)
// does not survive from one transaction to the next.
type PgBouncer struct {
	Host string
	Port int
	Dir  string
	// PoolSize is default_pool_size: server connections per database/user.
	PoolSize int

	t    testing.TB
	cmd  *exec.Cmd
	logs *LogBuffer
	done chan error
}

// StartPgBouncer runs PgBouncer on listenAddr:listenPort (loopback only)
// forwarding every database to upstreamHost:upstreamPort, with
// pool_mode=transaction, auth_type=trust over an auth_file listing the
// superuser, and ignore_startup_parameters=extra_float_digits as Neon's
// pooler has. It is stopped when the test ends. A missing pgbouncer fails
// the test with the install command.
func StartPgBouncer(t testing.TB, listenAddr string, listenPort int, upstreamHost string, upstreamPort int) *PgBouncer {
	t.Helper()
	requireFile(t, PgBouncerPath, installPgBouncer)
	if ip := net.ParseIP(listenAddr); ip == nil || !ip.IsLoopback() {
		t.Fatalf("pgharness: PgBouncer listen address %q is not a loopback address", listenAddr)
	}
	if ip := net.ParseIP(upstreamHost); ip == nil || !ip.IsLoopback() {
		t.Fatalf("pgharness: PgBouncer upstream %q is not a loopback address", upstreamHost)
	}
	u := serverUser(t)
	dir := tempDir(t, u, "pgbouncer-")
	b := &PgBouncer{Host: listenAddr, Port: listenPort, Dir: dir, PoolSize: 5, t: t, logs: &LogBuffer{}, done: make(chan error, 1)}

	ini := strings.Join([]string{
		"[databases]",
		fmt.Sprintf("* = host=%s port=%d", upstreamHost, upstreamPort),
		"",
		"[pgbouncer]",
		"listen_addr = " + listenAddr,
		"listen_port = " + strconv.Itoa(listenPort),
		"unix_socket_dir =",
		"pidfile = " + filepath.Join(dir, "pgbouncer.pid"),
		"auth_type = trust",
		"auth_file = " + filepath.Join(dir, "userlist.txt"),
		"admin_users = " + Superuser,
		"stats_users = " + Superuser,
		"pool_mode = transaction",
		"default_pool_size = " + strconv.Itoa(b.PoolSize),
		"max_client_conn = 500",
		"ignore_startup_parameters = extra_float_digits",
		"server_reset_query =",
		"server_login_retry = 1",
		"server_connect_timeout = 5",
		"query_wait_timeout = 30",
		"log_connections = 1",
		"log_disconnections = 1",
		"log_pooler_errors = 1",
		"",
	}, "\n")
	if err := os.WriteFile(filepath.Join(dir, "pgbouncer.ini"), []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "userlist.txt"), []byte(fmt.Sprintf("%q \"\"\n", Superuser)), 0o600); err != nil {
		t.Fatal(err)
	}
	own(t, u, dir)

	// Foreground, logging to stderr, in its own process group so that
	// nothing it forks outlives the test.
	b.cmd = u.Command(PgBouncerPath, filepath.Join(dir, "pgbouncer.ini"))
	if b.cmd.SysProcAttr == nil {
		b.cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	b.cmd.SysProcAttr.Setpgid = true
	b.cmd.Stdout, b.cmd.Stderr = b.logs, b.logs
	b.cmd.WaitDelay = 5 * time.Second
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("pgharness: start pgbouncer: %v", err)
	}
	go func() { b.done <- b.cmd.Wait() }()
	t.Cleanup(func() {
		b.Stop()
		if t.Failed() {
			t.Logf("pgharness: PgBouncer log:\n%s", tail(b.Logs(), 60))
		}
	})

	addr := net.JoinHostPort(listenAddr, strconv.Itoa(listenPort))
	for deadline := time.Now().Add(10 * time.Second); ; {
		select {
		case err := <-b.done:
			b.done <- err
			t.Fatalf("pgharness: pgbouncer exited at start (%v); is %s in use?\n%s", err, addr, b.Logs())
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgharness: pgbouncer not listening on %s after 10s: %v\n%s", addr, err, b.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts PgBouncer down (SIGTERM, then SIGKILL after 5 s). Stopping a
// stopped PgBouncer does nothing.
func (b *PgBouncer) Stop() {
	select {
	case err := <-b.done:
		b.done <- err
		return
	default:
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-b.done:
		b.done <- err
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		err := <-b.done
		b.done <- err
	}
}

// URL is a connection URL to dbname through the pooler, as the superuser,
// without TLS.
func (b *PgBouncer) URL(dbname string) string {
	u := url.URL{Scheme: "postgres", User: url.User(Superuser), Host: net.JoinHostPort(b.Host, strconv.Itoa(b.Port)), Path: "/" + dbname, RawQuery: "sslmode=disable"}
	return u.String()
}

// Logs returns PgBouncer's log so far.
func (b *PgBouncer) Logs() string { return b.logs.String() }

// LoginsTo counts the client logins to dbname that PgBouncer logged.
func (b *PgBouncer) LoginsTo(dbname string) int {
	return strings.Count(b.Logs(), "login attempt: db="+dbname+" ")
}

// Show runs an admin console command (SHOW CLIENTS, SHOW POOLS, ...) and
// returns its rows as column → value maps.
func (b *PgBouncer) Show(what string) []map[string]string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(b.URL("pgbouncer"))
	if err != nil {
		b.t.Fatal(err)
	}
	// The admin console speaks only the simple query protocol.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		b.t.Fatalf("pgharness: PgBouncer admin console: %v", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SHOW "+what)
	if err != nil {
		b.t.Fatalf("pgharness: SHOW %s: %v", what, err)
	}
	defer rows.Close()
	var out []map[string]string
	for rows.Next() {
		vals := rows.RawValues()
		row := make(map[string]string, len(vals))
		for i, fd := range rows.FieldDescriptions() {
			row[fd.Name] = string(vals[i])
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		b.t.Fatalf("pgharness: SHOW %s: %v", what, err)
	}
	return out
}
