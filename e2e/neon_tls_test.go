package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/todo-api/todo-api/database"
	"github.com/todo-api/todo-api/internal/pgharness"
	"github.com/todo-api/todo-api/migrations"
)

// TestNeonURL: sslmode=require&channel_binding=require really connects over
// TLS with SCRAM-SHA-256-PLUS, through database.Open and through the
// binary's `migrate up`; the pooled and direct names pick their query modes.
// (How the URL Neon's console gives resolves is TestNeonConsoleURL in
// package database.)
func TestNeonURL(t *testing.T) {
	// The cluster listens on 127.0.0.1 and 127.0.0.2, so both stand-in
	// names reach it: the pooled name without a pooler in between, to see
	// which mode Open picks by name alone.
	pgharness.EnsureHosts(t)
	const role, password = "neondb_owner", "npg_T3stOnlyPassw0rd"
	c := pgharness.StartCluster(t, pgharness.Options{TLS: true, Role: role, Password: password, ListenAddresses: []string{pgharness.DirectIP, pgharness.PoolerIP}})
	c.CreateDatabase("neondb", role)
	pooled := fmt.Sprintf("postgresql://%s:%s@%s:%d/neondb?sslmode=require&channel_binding=require", role, password, pgharness.PoolerHost, c.Port)

	urls, err := database.ResolveURLs(pooled, "")
	if err != nil {
		t.Fatalf("ResolveURLs: %v", err)
	}
	if u, _ := url.Parse(urls.Direct); u.Hostname() != pgharness.DirectHost {
		t.Errorf("direct host = %q, want %s", u.Hostname(), pgharness.DirectHost)
	}

	for _, tc := range []struct{ name, url, host, mode string }{
		{"pooled name", urls.Serve, pgharness.PoolerHost, "exec"},
		{"direct name", urls.Direct, pgharness.DirectHost, "cache_statement"},
	} {
		t.Run("open "+tc.name, func(t *testing.T) {
			logs := &pgharness.LogBuffer{}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			db, err := database.Open(ctx, database.Options{
				URL: tc.url, MaxOpenConns: 2, MaxIdleConns: 2, ConnectTimeout: 5 * time.Second, StartupTimeout: 10 * time.Second,
				QueryExecMode: "auto", Logger: slog.New(slog.NewTextHandler(logs, nil)),
			})
			if err != nil {
				t.Fatalf("database.Open over TLS + SCRAM: %v\nlog:\n%s", err, logs.String())
			}
			sqlDB, _ := db.DB()
			defer sqlDB.Close()
			if !strings.Contains(logs.String(), "host="+tc.host) || !strings.Contains(logs.String(), "query_exec_mode="+tc.mode) {
				t.Errorf("want host=%s query_exec_mode=%s in the log:\n%s", tc.host, tc.mode, logs.String())
			}
			var ssl bool
			var user, version string
			if err := db.Raw(`SELECT s.ssl, current_user, s.version FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()`).Row().Scan(&ssl, &user, &version); err != nil {
				t.Fatal(err)
			}
			if !ssl || user != role {
				t.Errorf("session ssl=%v user=%s, want a TLS session as %s", ssl, user, role)
			}
			t.Logf("%s: %s over %s as %s, query_exec_mode=%s", tc.name, tc.host, version, user, tc.mode)
		})
	}

	t.Run("open refuses plain text", func(t *testing.T) {
		plain := strings.Replace(urls.Direct, "sslmode=require", "sslmode=disable", 1)
		plain = strings.Replace(plain, "channel_binding=require", "channel_binding=disable", 1)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		start := time.Now()
		db, err := database.Open(ctx, database.Options{URL: plain, MaxOpenConns: 1, StartupTimeout: 10 * time.Second, ConnectTimeout: 5 * time.Second})
		if err == nil {
			sqlDB, _ := db.DB()
			sqlDB.Close()
			t.Fatal("connected without TLS: the stand-in does not enforce hostssl")
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("the error shows the password: %v", err)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("an authentication refusal was retried for %s; it is not transient", time.Since(start).Round(time.Millisecond))
		}
		t.Logf("without TLS: %v (after %s)", err, time.Since(start).Round(time.Millisecond))
	})

	t.Run("binary migrate up", func(t *testing.T) {
		// --verbose logs the connections, which the checks below read.
		res := neonCLI(t, map[string]string{"DATABASE_URL": pooled}, 60*time.Second, "migrate", "up", "--verbose")
		if res.Code != 0 {
			t.Fatalf("migrate up exit %d\nstdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
		}
		if n := strings.Count(res.Stdout, "applied "); n != len(migrations.All()) {
			t.Errorf("applied %d migrations, want %d:\n%s", n, len(migrations.All()), res.Stdout)
		}
		if !strings.Contains(res.Stderr, "host="+pgharness.DirectHost) {
			t.Errorf("migrate did not connect to the direct host %s:\n%s", pgharness.DirectHost, res.Stderr)
		}
		if strings.Contains(res.Stdout+res.Stderr, password) {
			t.Errorf("the password appears in the output:\n%s\n%s", res.Stdout, res.Stderr)
		}
		if n := c.QueryInt("neondb", `SELECT count(*) FROM schema_migrations`); n != int64(len(migrations.All())) {
			t.Errorf("schema_migrations has %d rows, want %d", n, len(migrations.All()))
		}
		res = neonCLI(t, map[string]string{"DATABASE_URL": pooled}, 60*time.Second, "migrate", "current")
		if res.Code != 0 || !strings.Contains(res.Stdout, "(head)") {
			t.Errorf("migrate current: exit %d: %s %s", res.Code, res.Stdout, res.Stderr)
		}
		t.Logf("migrate up over TLS + SCRAM (channel binding) in %s:\n%s", res.Elapsed.Round(time.Millisecond), strings.TrimSpace(res.Stdout))
	})
}
