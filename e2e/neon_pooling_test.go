package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/todo-api/todo-api/internal/pgharness"
	"github.com/todo-api/todo-api/internal/testdb"
)

// TestNeonPooledTransactionMode: behind PgBouncer in transaction mode, given
// only the pooled URL, serve migrates over the derived direct host, picks
// the exec query mode, and a concurrent workload of every route sees no
// error.
func TestNeonPooledTransactionMode(t *testing.T) {
	b := neonStartPooler(t)
	dbname := neonDBName(t, testdb.Fresh(t))

	s := startServer(t, neonServerEnv(neonPooledURL(dbname), nil))
	if lines := s.logLines("database connected", "host="+pgharness.PoolerHost, "query_exec_mode=exec"); len(lines) != 1 {
		t.Errorf("want one `database connected host=%s ... query_exec_mode=exec` line, got %q", pgharness.PoolerHost, lines)
	}
	if lines := s.logLines("database connected", "host="+pgharness.DirectHost+" "); len(lines) != 1 {
		t.Errorf("auto-migrate did not connect to the derived direct host %s: %q", pgharness.DirectHost, lines)
	}

	const workers, rounds = 12, 3
	start := time.Now()
	tl := neonRunJourneys(newClient(s.URL), "p", workers, rounds)
	if tl.bad != 0 || tl.total < workers*rounds*20 {
		t.Errorf("want every answer as expected over at least %d requests:\n%s", workers*rounds*20, tl.summary())
	} else {
		t.Logf("%d workers × %d journeys through PgBouncer in %s:\n%s", workers, rounds, time.Since(start).Round(time.Millisecond), tl.summary())
	}
	if lines := s.logLines("level=ERROR"); len(lines) > 0 {
		t.Errorf("%d error lines in the server log, first: %s", len(lines), lines[0])
	}

	// The requests really went through the pooler, multiplexed onto at most
	// default_pool_size server connections.
	if n := b.LoginsTo(dbname); n == 0 {
		t.Errorf("PgBouncer logged no client login to %s", dbname)
	}
	for _, row := range b.Show("POOLS") {
		if row["database"] == dbname {
			t.Logf("PgBouncer pool %s: mode=%s cl_active=%s cl_waiting=%s sv_active=%s sv_idle=%s", dbname, row["pool_mode"], row["cl_active"], row["cl_waiting"], row["sv_active"], row["sv_idle"])
			if row["pool_mode"] != "transaction" {
				t.Errorf("pool_mode = %q", row["pool_mode"])
			}
		}
	}
}

// TestNeonPooledCacheStatementBreaks documents why the default on -pooler
// hosts is exec: pgx's statement cache (named prepared statements, session
// state) through PgBouncer 1.18 in transaction mode makes requests fail. If
// this test starts passing requests cleanly, the pooler or the driver
// changed; if the default mode ever becomes cache_statement on pooled hosts,
// TestNeonPooledTransactionMode fails.
func TestNeonPooledCacheStatementBreaks(t *testing.T) {
	neonStartPooler(t)
	dbname := neonDBName(t, testdb.Fresh(t))

	s := launchServer(t, neonServerEnv(neonPooledURL(dbname), map[string]string{"DB_QUERY_EXEC_MODE": "cache_statement"}))
	// Readiness itself may fail in this mode: wait for the listener only.
	for deadline := time.Now().Add(30 * time.Second); ; {
		if len(s.logLines("msg=listening")) > 0 {
			break
		}
		if err := s.Wait(0); !errors.Is(err, context.DeadlineExceeded) || time.Now().After(deadline) {
			t.Fatalf("server not listening (exit: %v)\n%s", err, s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lines := s.logLines("database connected", "host="+pgharness.PoolerHost, "query_exec_mode=cache_statement"); len(lines) != 1 {
		t.Fatalf("the server did not use cache_statement on the pooled host: %q", lines)
	}
	tl := neonRunJourneys(newClient(s.URL), "c", 8, 2)
	t.Logf("cache_statement through PgBouncer:\n%s", tl.summary())
	prepared := len(s.logLines("prepared statement"))
	t.Logf("server log lines about prepared statements: %d (42P05: %d, 26000: %d)", prepared, len(s.logLines("42P05")), len(s.logLines("26000")))
	if tl.bad == 0 {
		t.Errorf("cache_statement through a transaction pooler served %d requests without a failure; the reason for exec on -pooler hosts is gone?", tl.total)
	}
	if prepared == 0 {
		t.Errorf("no prepared-statement error in the server log; the failures were something else:\n%s", tl.summary())
	}
}
