package migrations_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/todo-api/todo-api/internal/pgharness"
	"github.com/todo-api/todo-api/internal/testdb"
	"github.com/todo-api/todo-api/migrations"
)

// TestTargetsUnknown: an ID that names no migration is refused by every
// command that takes one, before anything runs.
func TestTargetsUnknown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openFresh(t)
	r := migrations.NewRunner(db, widgetMigrations, nil)
	const unknown = `no migration with id "20990101000000"`
	check := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), unknown) {
			t.Errorf("%s: %v, want %q", what, err, unknown)
		}
	}
	_, err := r.Down(ctx, migrations.DownTarget{To: "20990101000000"})
	check("down --to", err)
	check("stamp", r.Stamp(ctx, "20990101000000"))
	_, err = r.Plan(ctx, migrations.Up, migrations.DownTarget{}, "20990101000000")
	check("sql up --to", err)
	_, err = r.Plan(ctx, migrations.Down, migrations.DownTarget{To: "20990101000000"}, "")
	check("sql down --to", err)
	if _, err := r.Plan(ctx, migrations.Direction("sideways"), migrations.DownTarget{}, ""); err == nil || !strings.Contains(err.Error(), `direction must be up or down, got "sideways"`) {
		t.Errorf("Plan(sideways) = %v", err)
	}
	if got := tables(t, db); len(got) != 0 {
		t.Errorf("refused commands left %v", got)
	}
	if _, err := migrations.NewRunner(db, nil, nil).Resolve("head"); err == nil {
		t.Error(`"head" resolved in an empty list`)
	}
}

// TestPlanNothingToDo: at head there is nothing to plan up, and with
// nothing applied nothing to plan down; a database with migrations unknown
// to this build is refused.
func TestPlanNothingToDo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openFresh(t)
	r := migrations.NewRunner(db, widgetMigrations[:2], nil)
	down, err := r.Plan(ctx, migrations.Down, migrations.DownTarget{All: true}, "")
	if err != nil || down != "-- nothing to do\n" {
		t.Errorf("plan down on an empty database = %q, %v", down, err)
	}
	if _, err := r.Up(ctx, ""); err != nil {
		t.Fatal(err)
	}
	up, err := r.Plan(ctx, migrations.Up, migrations.DownTarget{}, "")
	if err != nil || up != "-- nothing to do\n" {
		t.Errorf("plan up at head = %q, %v", up, err)
	}
	// A build that does not know the last migration.
	_, err = migrations.NewRunner(db, widgetMigrations[:1], nil).Plan(ctx, migrations.Up, migrations.DownTarget{}, "")
	if !errors.Is(err, migrations.ErrUnknownMigrations) || !strings.Contains(err.Error(), createWidgets.ID) {
		t.Errorf("plan with an unknown applied migration: %v, want ErrUnknownMigrations naming %s", err, createWidgets.ID)
	}
}

// TestInvalidListRunsNothing: a migration list that fails Validate is
// refused before the database is touched.
func TestInvalidListRunsNothing(t *testing.T) {
	t.Parallel()
	db := openFresh(t)
	bad := []migrations.Migration{createTrgm, {ID: "20260101000100", Description: "no rollback", Up: []string{"CREATE TABLE x (id int)"}}}
	_, err := migrations.NewRunner(db, bad, nil).Up(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "Down has no SQL") {
		t.Errorf("Up with an invalid list: %v", err)
	}
	if got := tables(t, db); len(got) != 0 {
		t.Errorf("an invalid list created %v", got)
	}
}

// TestFailingRollbackStaysApplied: a Down that fails leaves the migration
// applied and says which statement failed (its first line).
func TestFailingRollbackStaysApplied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openFresh(t)
	sticky := migrations.Migration{
		ID: "20260101000300", Description: "sticky",
		Up: []string{`CREATE TABLE sticky (id int)`},
		Down: []string{`DROP TABLE sticky`, `
			DELETE FROM nowhere
			WHERE true`},
	}
	r := migrations.NewRunner(db, []migrations.Migration{createWidgets, sticky}, nil)
	if _, err := r.Up(ctx, ""); err != nil {
		t.Fatal(err)
	}
	done, err := r.Down(ctx, migrations.DownTarget{All: true})
	if err == nil || !strings.Contains(err.Error(), "rollback 20260101000300 (sticky): DELETE FROM nowhere …:") ||
		!strings.Contains(err.Error(), `relation "nowhere" does not exist`) {
		t.Errorf("err = %v, want the rollback and its failing statement named", err)
	}
	if len(done) != 0 {
		t.Errorf("rolled back %v, want nothing: the first rollback failed", done)
	}
	st, err := r.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.AtHead() {
		t.Errorf("after a failed rollback: %+v, want both still applied", st)
	}
	var exists bool
	if err := db.Raw(`SELECT to_regclass('sticky') IS NOT NULL`).Scan(&exists).Error; err != nil || !exists {
		t.Errorf("the failed rollback's first statement was not undone: sticky exists = %v, %v", exists, err)
	}
}

// TestForeignBookkeepingTable: a schema_migrations table of another shape
// (another tool's) is reported, never written to.
func TestForeignBookkeepingTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openFresh(t)
	if err := db.Exec(`CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL)`).Error; err != nil {
		t.Fatal(err)
	}
	r := migrations.NewRunner(db, widgetMigrations, nil)
	if _, err := r.State(ctx); err == nil || !strings.Contains(err.Error(), "read schema_migrations:") {
		t.Errorf("State = %v, want the table named", err)
	}
	if _, err := r.Up(ctx, ""); err == nil || !strings.Contains(err.Error(), "read schema_migrations:") {
		t.Errorf("Up = %v, want the table named", err)
	}
	if got := tables(t, db); strings.Join(got, ",") != "schema_migrations,schema_migrations_pkey" {
		t.Errorf("Up ran migrations anyway: %v", got)
	}
}

// TestReadOnlyDatabase: a database that refuses writes (a read replica,
// say) fails at creating the bookkeeping table, with the reason.
func TestReadOnlyDatabase(t *testing.T) {
	t.Parallel()
	url := testdb.Fresh(t)
	setup := open(t, url)
	err := setup.Exec(`DO $$ BEGIN
		EXECUTE format('ALTER DATABASE %I SET default_transaction_read_only = on', current_database());
	END $$`).Error
	if err != nil {
		t.Fatal(err)
	}
	db := open(t, url) // new sessions pick the setting up
	_, err = migrations.NewRunner(db, widgetMigrations, nil).Up(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "create schema_migrations:") || !strings.Contains(err.Error(), "read-only transaction") {
		t.Errorf("Up on a read-only database = %v", err)
	}
}

// TestClosedPool: with the pool closed, reading the state and taking the
// lock fail with their step named; so does a snapshot.
func TestClosedPool(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openFresh(t)
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.Close()
	r := migrations.NewRunner(db, widgetMigrations, nil)
	if _, err := r.State(ctx); err == nil || !strings.Contains(err.Error(), "read migration state:") {
		t.Errorf("State = %v", err)
	}
	if _, err := r.Up(ctx, ""); err == nil || !strings.Contains(err.Error(), "migration lock: sql: database is closed") {
		t.Errorf("Up = %v", err)
	}
	if _, err := migrations.Snapshot(ctx, db); err == nil || !strings.Contains(err.Error(), "snapshot schema:") {
		t.Errorf("Snapshot = %v", err)
	}
}

// TestLockTimeout: while another process holds the migration lock (its key
// fixed across versions), a runner waits LockTimeout, says once that it
// waits, and gives up with ErrLockTimeout; the caller's deadline ends the
// wait sooner, as itself. Once the lock is free the runner proceeds.
func TestLockTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.Fresh(t)
	holder, err := open(t, url).DB()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := holder.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// sha256("todo-api schema migrations")[:8], as lock.go documents.
	const lockKey int64 = 0x3a5c_7e1f_9b2d_4c60
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		t.Fatal(err)
	}

	var logs pgharness.LogBuffer
	r := migrations.NewRunner(open(t, url), widgetMigrations, slog.New(slog.NewTextHandler(&logs, nil)))
	r.LockTimeout, r.LockPoll = 400*time.Millisecond, 20*time.Millisecond
	start := time.Now()
	_, err = r.Up(ctx, "")
	if !errors.Is(err, migrations.ErrLockTimeout) || !strings.Contains(err.Error(), "after 400ms") {
		t.Errorf("Up while the lock is held = %v, want ErrLockTimeout after 400ms", err)
	}
	// The last poll may be skipped when its wait would overrun the budget.
	if elapsed := time.Since(start); elapsed < 300*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("gave up after %s, want about 400ms", elapsed)
	}
	if n := strings.Count(logs.String(), "waiting for another process's migration run to finish"); n != 1 {
		t.Errorf("the wait was logged %d times, want once:\n%s", n, logs.String())
	}

	r.LockTimeout = time.Minute
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = r.Up(short, "")
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, migrations.ErrLockTimeout) || !strings.HasPrefix(err.Error(), "migration lock: ") {
		t.Errorf("Up past the caller's deadline = %v, want the deadline, not the lock timeout", err)
	}

	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, lockKey); err != nil {
		t.Fatal(err)
	}
	if applied, err := r.Up(ctx, ""); err != nil || len(applied) != len(widgetMigrations) {
		t.Errorf("Up after the lock was released = %v, %v", applied, err)
	}
}
