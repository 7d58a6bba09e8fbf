package pgharness

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func connect(t *testing.T, url string) (*pgx.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return pgx.Connect(ctx, url)
}

// TestCluster: TLS + SCRAM for the role and nothing else, restart, stop and
// start, terminated backends.
func TestCluster(t *testing.T) {
	c := StartCluster(t, Options{TLS: true, Password: "s3cret pw'", MaxConnections: 20})
	c.CreateDatabase("appdb", c.Role)

	conn, err := connect(t, c.URLFor("appdb", c.Role)+"&channel_binding=require")
	if err != nil {
		t.Fatalf("TLS + SCRAM (channel binding) login: %v", err)
	}
	var ssl bool
	if err := conn.QueryRow(context.Background(), `SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`).Scan(&ssl); err != nil {
		t.Fatal(err)
	}
	if !ssl {
		t.Error("session is not over TLS")
	}
	if n := c.TerminateBackends("appdb"); n != 1 {
		t.Errorf("TerminateBackends = %d, want 1", n)
	}
	if err := conn.Ping(context.Background()); err == nil {
		t.Error("ping on a terminated session succeeded")
	}
	conn.Close(context.Background())

	plain := strings.Replace(c.URLFor("appdb", c.Role), "sslmode=require", "sslmode=disable", 1)
	if conn, err := connect(t, plain); err == nil {
		conn.Close(context.Background())
		t.Error("the role logged in without TLS")
	}
	wrong := strings.Replace(c.URLFor("appdb", c.Role), "s3cret", "wrong", 1)
	if conn, err := connect(t, wrong); err == nil {
		conn.Close(context.Background())
		t.Error("the role logged in with a wrong password")
	}
	if got := c.QueryInt("postgres", `SELECT setting::int FROM pg_settings WHERE name = 'max_connections'`); got != 20 {
		t.Errorf("max_connections = %d", got)
	}

	c.Restart()
	if got := c.QueryInt("appdb", `SELECT 1`); got != 1 {
		t.Error("no answer after restart")
	}
	c.Stop()
	if conn, err := connect(t, c.URL()); err == nil {
		conn.Close(context.Background())
		t.Fatal("connected to a stopped cluster")
	}
	c.Start()
	if got := c.QueryInt("postgres", `SELECT 1`); got != 1 {
		t.Error("no answer after start")
	}
	// The server log holds the restarts; tail keeps the last lines.
	if log := c.Log(); !strings.Contains(log, "database system is ready to accept connections") {
		t.Errorf("server log lacks the ready line:\n%s", tail(log, 20))
	}
	if got := tail("a\nb\nc\n", 2); got != "b\nc" {
		t.Errorf("tail = %q", got)
	}
	if got := tail("a", 5); got != "a" {
		t.Errorf("tail of one line = %q", got)
	}
}

// TestPgBouncer: transaction pooling in front of a cluster, its admin
// console, and the stand-in host names.
func TestPgBouncer(t *testing.T) {
	EnsureHosts(t)
	c := StartCluster(t, Options{})
	c.CreateDatabase("pooled", "")
	b := StartPgBouncer(t, "127.0.0.1", freePort(t, []string{"127.0.0.1"}), c.Host, c.Port)

	conn, err := connect(t, b.URL("pooled")+"&default_query_exec_mode=exec")
	if err != nil {
		t.Fatalf("through PgBouncer: %v", err)
	}
	defer conn.Close(context.Background())
	var db string
	if err := conn.QueryRow(context.Background(), `SELECT current_database()`).Scan(&db); err != nil || db != "pooled" {
		t.Fatalf("current_database() = %q, %v", db, err)
	}
	if n := b.LoginsTo("pooled"); n != 1 {
		t.Errorf("LoginsTo = %d, want 1\n%s", n, b.Logs())
	}
	found := false
	for _, row := range b.Show("POOLS") {
		if row["database"] == "pooled" && row["pool_mode"] == "transaction" {
			found = true
		}
	}
	if !found {
		t.Errorf("SHOW POOLS has no transaction pool for database pooled: %v", b.Show("POOLS"))
	}
}

func TestHostsMapping(t *testing.T) {
	hosts := "127.0.0.1 localhost\n# 127.0.0.9 ep-test-123456.local\n127.0.0.2\tep-test-123456-pooler.local other # note\n127.0.0.3 ep-test-123456-pooler.local\n"
	for host, want := range map[string]string{
		PoolerHost:  "127.0.0.2", // the first line naming it wins
		DirectHost:  "",          // only commented out
		"LOCALHOST": "127.0.0.1",
		"other":     "127.0.0.2",
	} {
		if got := mapping(hosts, host); got != want {
			t.Errorf("mapping(%q) = %q, want %q", host, got, want)
		}
	}
}
