package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/todo-api/todo-api/internal/pgharness"
	"github.com/todo-api/todo-api/internal/testdb"
	"github.com/todo-api/todo-api/migrations"
)

// TestNeonMigrateThroughPooler: two `migrate up` at once, given only the
// pooled URL of a fresh database: both succeed, each migration is applied
// once, and both ran on the direct host (the pooler saw none of it).
func TestNeonMigrateThroughPooler(t *testing.T) {
	b := neonStartPooler(t)
	dbURL := testdb.Fresh(t)
	dbname := neonDBName(t, dbURL)
	pooled := neonPooledURL(dbname)

	const procs = 2
	results := make([]neonCLIResult, procs)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// --verbose logs the connections, which the checks below read.
			results[i] = neonCLI(t, map[string]string{"DATABASE_URL": pooled}, 90*time.Second, "migrate", "up", "--verbose")
		}()
	}
	wg.Wait()
	t.Logf("%d concurrent `migrate up` in %s", procs, time.Since(start).Round(time.Millisecond))

	applied := map[string]int{}
	for i, res := range results {
		t.Logf("process %d: exit %d in %s\n%s", i, res.Code, res.Elapsed.Round(time.Millisecond), strings.TrimSpace(res.Stdout))
		if res.Code != 0 {
			t.Errorf("process %d: exit %d\nstdout:\n%s\nstderr:\n%s", i, res.Code, res.Stdout, res.Stderr)
		}
		for _, line := range strings.Split(res.Stdout, "\n") {
			if id, ok := strings.CutPrefix(line, "applied "); ok {
				applied[strings.TrimSpace(id)]++
			}
		}
		if !strings.Contains(res.Stderr, "host="+pgharness.DirectHost+" ") {
			t.Errorf("process %d did not connect to the direct host %s:\n%s", i, pgharness.DirectHost, res.Stderr)
		}
		if strings.Contains(res.Stderr, "host="+pgharness.PoolerHost) {
			t.Errorf("process %d connected to the pooler:\n%s", i, res.Stderr)
		}
	}
	waited := 0
	for _, res := range results {
		if strings.Contains(res.Stderr, "waiting for another process") {
			waited++
		}
	}
	t.Logf("processes that waited for the other's migration lock: %d", waited)
	for _, m := range migrations.All() {
		if applied[m.ID] != 1 {
			t.Errorf("migration %s applied %d times across the processes, want 1", m.ID, applied[m.ID])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var rowsN, distinct int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT id) FROM schema_migrations`).Scan(&rowsN, &distinct); err != nil {
		t.Fatal(err)
	}
	if rowsN != len(migrations.All()) || distinct != rowsN {
		t.Errorf("schema_migrations: %d rows, %d distinct; want %d", rowsN, distinct, len(migrations.All()))
	}
	if n := b.LoginsTo(dbname); n != 0 {
		t.Errorf("PgBouncer saw %d logins to %s from migrate; the advisory lock went through the pooler", n, dbname)
	}

	// The pooled name did lead to PgBouncer: a session through it shows up.
	before := b.LoginsTo(dbname)
	pc, err := pgx.Connect(ctx, pooled+"&default_query_exec_mode=exec")
	if err != nil {
		t.Fatalf("connect through the pooler: %v", err)
	}
	var one int
	err = pc.QueryRow(ctx, `SELECT 1`).Scan(&one)
	pc.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := b.LoginsTo(dbname) - before; n != 1 {
		t.Errorf("PgBouncer logged %d logins for a session through the pooled name, want 1:\n%s", n, b.Logs())
	}
}
