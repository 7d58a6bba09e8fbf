package pgharness

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/todo-api/todo-api/internal/pglocal"
)

// Options configure StartCluster.
type Options struct {
	// TLS turns ssl=on with a self-signed certificate made for the cluster
	// (valid for localhost, the ep-test-123456 stand-in names, 127.0.0.1 and
	// 127.0.0.2).
	TLS bool
	// Role, when Password is set, is a login role (default "app") with that
	// password, stored as SCRAM-SHA-256, allowed to create databases. It
	// must authenticate with scram-sha-256, and over TLS when TLS is on
	// (pg_hba "hostssl"): plain connections are refused.
	Role     string
	Password string
	// MaxConnections is max_connections (default 50).
	MaxConnections int
	// ListenAddresses are the loopback addresses the cluster listens on, all
	// on the same port (default 127.0.0.1 only).
	ListenAddresses []string
	// Durable keeps PostgreSQL's durability settings (fsync, synchronous
	// commit, full page writes) at their defaults, for tests of what an
	// acknowledged write survives; otherwise they are off for speed.
	Durable bool
}

// Cluster is a private PostgreSQL 15 cluster in a temporary directory,
// listening on loopback. Its superuser (Superuser) is trusted from loopback
// without a password.
type Cluster struct {
	// Host is the first listen address, Port the port of all of them.
	Host string
	Port int
	// Dir holds the data directory (Dir/data) and the server log.
	Dir     string
	DataDir string
	// Role and Password are Options.Role and Options.Password.
	Role     string
	Password string
	TLS      bool

	t       testing.TB
	pg      pglocal.Cluster
	logFile string
}

// StartCluster creates, configures and starts a cluster; it is stopped and
// removed when the test ends.
func StartCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	bin, err := pglocal.Installed(pgMajor)
	if err != nil {
		t.Fatalf("pgharness: %v: run `%s` (as root; .ci/setup-neon-standin.sh does it)", err, installPostgres)
	}
	u := serverUser(t)
	if opts.Password != "" && opts.Role == "" {
		opts.Role = "app"
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = 50
	}
	if len(opts.ListenAddresses) == 0 {
		opts.ListenAddresses = []string{"127.0.0.1"}
	}
	for _, a := range opts.ListenAddresses {
		if ip := net.ParseIP(a); ip == nil || !ip.IsLoopback() {
			t.Fatalf("pgharness: listen address %q is not a loopback address", a)
		}
	}
	dir := tempDir(t, u, "pgharness-")
	logFile := filepath.Join(dir, "server.log")
	// Opened here, not by pg_ctl -l: the servers' user writes to it through
	// the descriptor its programs inherit (see pglocal.Cluster).
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	c := &Cluster{
		Host: opts.ListenAddresses[0], Port: freePort(t, opts.ListenAddresses),
		Dir: dir, DataDir: filepath.Join(dir, "data"), logFile: logFile,
		Role: opts.Role, Password: opts.Password, TLS: opts.TLS,
		t: t,
	}
	c.pg = pglocal.Cluster{Bin: bin, Data: c.DataDir, User: u, Log: log}
	c.check(c.pg.Init("-U", Superuser, "-A", "trust", "--no-sync", "--no-locale", "-E", "UTF8", "--no-instructions"))

	conf := []string{
		"",
		"# pgharness",
		fmt.Sprintf("listen_addresses = '%s'", strings.Join(opts.ListenAddresses, ",")),
		fmt.Sprintf("port = %d", c.Port),
		"unix_socket_directories = ''",
		fmt.Sprintf("max_connections = %d", opts.MaxConnections),
		"shared_buffers = 16MB",
		"password_encryption = 'scram-sha-256'",
		"log_line_prefix = '%m [%p] %q%u@%d '",
	}
	if !opts.Durable {
		// Throwaway data: durability costs time and buys nothing. A fast
		// shutdown or restart still checkpoints, so nothing committed is lost.
		conf = append(conf, "fsync = off", "synchronous_commit = off", "full_page_writes = off")
	}
	if opts.TLS {
		if err := writeCertificate(c.DataDir); err != nil {
			t.Fatalf("pgharness: certificate: %v", err)
		}
		conf = append(conf, "ssl = on", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'")
	}
	appendFile(t, filepath.Join(c.DataDir, "postgresql.conf"), strings.Join(conf, "\n")+"\n")

	hba := []string{
		"# pgharness: the superuser is trusted from loopback (the harness uses it)",
		"local all all trust",
		fmt.Sprintf("host all %s 127.0.0.0/8 trust", Superuser),
	}
	if opts.Password != "" {
		kind := "host"
		if opts.TLS {
			kind = "hostssl"
		}
		hba = append(hba, fmt.Sprintf("%s all %s 127.0.0.0/8 scram-sha-256", kind, opts.Role))
	}
	if err := os.WriteFile(filepath.Join(c.DataDir, "pg_hba.conf"), []byte(strings.Join(hba, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	own(t, u, dir)

	t.Cleanup(c.cleanup)
	c.Start()
	if opts.Password != "" {
		c.Exec("postgres", fmt.Sprintf("CREATE ROLE %s LOGIN CREATEDB PASSWORD %s",
			pgx.Identifier{opts.Role}.Sanitize(), quoteLiteral(opts.Password)))
	}
	return c
}

func (c *Cluster) cleanup() {
	if c.t.Failed() {
		c.t.Logf("pgharness: PostgreSQL log (%s):\n%s", c.DataDir, tail(c.Log(), 60))
	}
	up, err := c.pg.Running()
	if err != nil {
		c.t.Errorf("pgharness: %v", err)
		return
	}
	if up {
		if err := c.pg.Stop("immediate"); err != nil {
			c.t.Errorf("pgharness: stop cluster: %v\n%s", err, tail(c.Log(), 20))
		}
	}
}

// check fails the test when one of the cluster's programs failed, with the
// end of the log they and the server write to.
func (c *Cluster) check(err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatalf("pgharness: %v\nserver log:\n%s", err, tail(c.Log(), 40))
	}
}

// Start starts the (stopped) cluster and waits until it accepts
// connections.
func (c *Cluster) Start() {
	c.t.Helper()
	c.check(c.pg.Start())
}

// Stop shuts the cluster down in fast mode (sessions are disconnected with
// 57P01, as when a Neon compute suspends) and waits until it is down.
func (c *Cluster) Stop() {
	c.t.Helper()
	c.check(c.pg.Stop("fast"))
}

// Restart is `pg_ctl restart -m fast`: every session is cut, the server is
// down for a moment, then accepts connections again.
func (c *Cluster) Restart() {
	c.t.Helper()
	c.check(c.pg.Restart("fast"))
}

// URL is a connection URL to the "postgres" database as user (default the
// superuser). Options.Role gets its password, and sslmode=require when TLS
// is on; every other user connects without TLS and without a password.
func (c *Cluster) URL(user ...string) string {
	return c.URLFor("postgres", user...)
}

// URLFor is URL for another database.
func (c *Cluster) URLFor(dbname string, user ...string) string {
	name := Superuser
	if len(user) > 0 && user[0] != "" {
		name = user[0]
	}
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), Path: "/" + dbname}
	sslmode := "disable"
	if name == c.Role && c.Password != "" {
		u.User = url.UserPassword(name, c.Password)
		if c.TLS {
			sslmode = "require"
		}
	} else {
		u.User = url.User(name)
	}
	u.RawQuery = "sslmode=" + sslmode
	return u.String()
}

// connect opens a superuser session on dbname.
func (c *Cluster) connect(ctx context.Context, dbname string) (*pgx.Conn, error) {
	return pgx.Connect(ctx, c.URLFor(dbname))
}

// Exec runs SQL as the superuser in dbname, failing the test on error.
func (c *Cluster) Exec(dbname, sql string, args ...any) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := c.connect(ctx, dbname)
	if err != nil {
		c.t.Fatalf("pgharness: connect to %s: %v", dbname, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		c.t.Fatalf("pgharness: %s: %v", sql, err)
	}
}

// QueryInt runs a query returning one integer as the superuser in dbname.
func (c *Cluster) QueryInt(dbname, sql string, args ...any) int64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := c.connect(ctx, dbname)
	if err != nil {
		c.t.Fatalf("pgharness: connect to %s: %v", dbname, err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		c.t.Fatalf("pgharness: %s: %v", sql, err)
	}
	return n
}

// CreateDatabase creates a database owned by owner (the superuser when
// empty).
func (c *Cluster) CreateDatabase(name, owner string) {
	c.t.Helper()
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if owner != "" {
		sql += " OWNER " + pgx.Identifier{owner}.Sanitize()
	}
	c.Exec("postgres", sql)
}

// TerminateBackends runs pg_terminate_backend on every other client session
// of dbname (all databases when dbname is empty) and waits until they are
// gone: what a Neon compute's suspend does to a pool's connections. It
// returns how many sessions it ended.
func (c *Cluster) TerminateBackends(dbname string) int {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := c.connect(ctx, "postgres")
	if err != nil {
		c.t.Fatalf("pgharness: connect: %v", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `
		SELECT pid FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
		  AND ($1 = '' OR datname = $1)`, dbname)
	if err != nil {
		c.t.Fatalf("pgharness: list backends: %v", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		c.t.Fatalf("pgharness: list backends: %v", err)
	}
	for _, pid := range pids {
		if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
			c.t.Fatalf("pgharness: terminate %d: %v", pid, err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		var left int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)`, pids).Scan(&left); err != nil {
			c.t.Fatalf("pgharness: %v", err)
		}
		if left == 0 {
			return len(pids)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("pgharness: %d terminated backend(s) still present after 10s", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Log returns the server log so far.
func (c *Cluster) Log() string {
	b, err := os.ReadFile(c.logFile)
	if err != nil {
		return fmt.Sprintf("(no server log: %v)", err)
	}
	return string(b)
}

// freePort returns a TCP port free on every one of the addresses.
func freePort(t testing.TB, addrs []string) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", net.JoinHostPort(addrs[0], "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		ok := true
		for _, a := range addrs[1:] {
			l2, err := net.Listen("tcp", net.JoinHostPort(a, strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			l2.Close()
		}
		l.Close()
		if ok {
			return port
		}
	}
	t.Fatalf("pgharness: no port free on all of %v", addrs)
	return 0
}

// writeCertificate writes a self-signed server certificate and its key
// (mode 0600, as PostgreSQL demands) into dir.
func writeCertificate(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"pgharness"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", DirectHost, PoolerHost},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("127.0.0.2")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	crt := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	pk := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return errors.Join(
		os.WriteFile(filepath.Join(dir, "server.crt"), crt, 0o644),
		os.WriteFile(filepath.Join(dir, "server.key"), pk, 0o600),
	)
}

func appendFile(t testing.TB, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
