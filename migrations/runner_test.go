package migrations_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/todo-api/todo-api/database"
	"github.com/todo-api/todo-api/internal/testdb"
	"github.com/todo-api/todo-api/migrations"
)

func openFresh(t *testing.T) *gorm.DB {
	t.Helper()
	return open(t, testdb.Fresh(t))
}

func open(t *testing.T, url string) *gorm.DB {
	t.Helper()
	db, err := database.Open(context.Background(), database.Options{URL: url, MaxOpenConns: 4, MaxIdleConns: 4, StartupTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return db
}

func snapshot(t *testing.T, db *gorm.DB) migrations.Schema {
	t.Helper()
	s, err := migrations.Snapshot(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tables(t *testing.T, db *gorm.DB) []string {
	t.Helper()
	var names []string
	err := db.Raw(`SELECT c.relname FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace
		AND c.relkind IN ('r','S','i','v','m') ORDER BY 1`).Scan(&names).Error
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestUpDownAllUp(t *testing.T) {
	ctx := context.Background()
	db := openFresh(t)
	r := migrations.NewRunner(db, migrations.All(), nil)

	applied, err := r.Up(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(migrations.All()) {
		t.Fatalf("applied %v, want all %d", applied, len(migrations.All()))
	}
	head := snapshot(t, db)

	rolledBack, err := r.Down(ctx, migrations.DownTarget{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rolledBack) != len(migrations.All()) {
		t.Fatalf("rolled back %v, want all", rolledBack)
	}
	got := tables(t, db)
	want := []string{"schema_migrations", "schema_migrations_pkey"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after down --all the database holds %v, want only %v", got, want)
	}
	var exts []string
	db.Raw(`SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'`).Scan(&exts)
	if len(exts) != 0 {
		t.Errorf("extensions left behind: %v", exts)
	}

	if _, err := r.Up(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if diff := migrations.Diff(head, snapshot(t, db)); len(diff) != 0 {
		t.Errorf("second up differs from the first:\n%s", migrations.FormatDiff(diff))
	}
	st, err := r.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.AtHead() || st.Current != migrations.All()[len(migrations.All())-1].ID {
		t.Errorf("state = %+v, want at head", st)
	}
	for _, s := range st.Statuses {
		if s.AppliedAt.IsZero() || time.Since(s.AppliedAt) > time.Hour {
			t.Errorf("%s applied_at = %v, want a recent time", s.ID, s.AppliedAt)
		}
	}
}

// TestEachRollback applies the migrations one at a time and checks that
// rolling back each one restores exactly the schema before it.
func TestEachRollback(t *testing.T) {
	ctx := context.Background()
	db := openFresh(t)
	r := migrations.NewRunner(db, migrations.All(), nil)
	for _, m := range migrations.All() {
		before := snapshot(t, db)
		if _, err := r.Up(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		after := snapshot(t, db)
		if len(migrations.Diff(before, after)) == 0 {
			t.Errorf("%s changed nothing", m.ID)
		}
		done, err := r.Down(ctx, migrations.DownTarget{Steps: 1})
		if err != nil {
			t.Fatalf("rollback %s: %v", m.ID, err)
		}
		if !reflect.DeepEqual(done, []string{m.ID}) {
			t.Fatalf("rolled back %v, want [%s]", done, m.ID)
		}
		if diff := migrations.Diff(before, snapshot(t, db)); len(diff) != 0 {
			t.Errorf("rollback of %s left:\n%s", m.ID, migrations.FormatDiff(diff))
		}
		if _, err := r.Up(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDownTargets(t *testing.T) {
	ctx := context.Background()
	db := openFresh(t)
	r := migrations.NewRunner(db, migrations.All(), nil)
	all := migrations.All()
	if _, err := r.Up(ctx, ""); err != nil {
		t.Fatal(err)
	}
	done, err := r.Down(ctx, migrations.DownTarget{To: all[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != len(all)-1 {
		t.Errorf("down --to first rolled back %v", done)
	}
	st, _ := r.State(ctx)
	if st.Current != all[0].ID {
		t.Errorf("current = %q, want %q", st.Current, all[0].ID)
	}
	if _, err := r.Up(ctx, ""); err != nil {
		t.Fatal(err)
	}
	done, err = r.Down(ctx, migrations.DownTarget{Steps: 2})
	if err != nil || len(done) != 2 {
		t.Errorf("down --steps 2 = %v, %v", done, err)
	}
	if _, err := r.Up(ctx, "nope"); err == nil {
		t.Error("up --to unknown id succeeded")
	}
}

func TestStamp(t *testing.T) {
	ctx := context.Background()
	db := openFresh(t)
	r := migrations.NewRunner(db, migrations.All(), nil)
	if err := r.Stamp(ctx, "head"); err != nil {
		t.Fatal(err)
	}
	st, err := r.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.AtHead() {
		t.Errorf("after stamp head: %d pending", len(st.Pending))
	}
	if got := tables(t, db); len(got) != 2 {
		t.Errorf("stamp ran SQL: tables %v", got)
	}
	first := migrations.All()[0].ID
	if err := r.Stamp(ctx, first); err != nil {
		t.Fatal(err)
	}
	st, _ = r.State(ctx)
	if st.Current != first || len(st.Pending) != len(migrations.All())-1 {
		t.Errorf("after stamp %s: current %q, %d pending", first, st.Current, len(st.Pending))
	}
}

func TestUnknownIDsRefused(t *testing.T) {
	ctx := context.Background()
	db := openFresh(t)
	r := migrations.NewRunner(db, migrations.All(), nil)
	if _, err := r.Up(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(`INSERT INTO schema_migrations (id) VALUES ('29991231235959')`).Error; err != nil {
		t.Fatal(err)
	}
	for name, run := range map[string]func() error{
		"up":    func() error { _, err := r.Up(ctx, ""); return err },
		"down":  func() error { _, err := r.Down(ctx, migrations.DownTarget{Steps: 1}); return err },
		"stamp": func() error { return r.Stamp(ctx, "head") },
	} {
		if err := run(); !errors.Is(err, migrations.ErrUnknownMigrations) || !strings.Contains(err.Error(), "29991231235959") {
			t.Errorf("%s with an unknown applied id: err = %v, want ErrUnknownMigrations naming it", name, err)
		}
	}
	st, err := r.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Unknown) != 1 || st.AtHead() {
		t.Errorf("state = %+v, want one unknown id", st)
	}
}

// TestFailingMigrationLeavesNoTrace: a migration whose second statement
// fails is rolled back whole and not recorded.
func TestFailingMigrationLeavesNoTrace(t *testing.T) {
	ctx := context.Background()
	db := openFresh(t)
	list := append(migrations.All(), migrations.Migration{
		ID:          "29990101000000",
		Description: "fails midway",
		Up:          []string{`ALTER TABLE todos ADD COLUMN doomed int`, `SELECT no_such_function()`},
		Down:        []string{`ALTER TABLE todos DROP COLUMN doomed`},
	})
	r := migrations.NewRunner(db, list, nil)
	if _, err := r.Up(ctx, migrations.All()[len(migrations.All())-1].ID); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, db)
	_, err := r.Up(ctx, "")
	if err == nil || !strings.Contains(err.Error(), "29990101000000") {
		t.Fatalf("err = %v, want the failing migration named", err)
	}
	if diff := migrations.Diff(before, snapshot(t, db)); len(diff) != 0 {
		t.Errorf("failed migration left changes:\n%s", migrations.FormatDiff(diff))
	}
	st, _ := r.State(ctx)
	if len(st.Pending) != 1 {
		t.Errorf("pending = %d, want the failed one still pending", len(st.Pending))
	}
}

// TestConcurrentRunners: three runners with their own pools race; each
// migration is applied exactly once and none fails.
func TestConcurrentRunners(t *testing.T) {
	ctx := context.Background()
	url := testdb.Fresh(t)
	var wg sync.WaitGroup
	results := make([][]string, 3)
	errs := make([]error, 3)
	for i := range 3 {
		db := open(t, url)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = migrations.NewRunner(db, migrations.All(), nil).Up(ctx, "")
		}()
	}
	wg.Wait()
	count := map[string]int{}
	for i := range 3 {
		if errs[i] != nil {
			t.Errorf("runner %d: %v", i, errs[i])
		}
		for _, id := range results[i] {
			count[id]++
		}
	}
	for _, m := range migrations.All() {
		if count[m.ID] != 1 {
			t.Errorf("%s applied %d times, want 1", m.ID, count[m.ID])
		}
	}
}

func TestPlan(t *testing.T) {
	ctx := context.Background()
	db := openFresh(t)
	r := migrations.NewRunner(db, migrations.All(), nil)
	up, err := r.Plan(ctx, migrations.Up, migrations.DownTarget{}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CREATE TABLE users", "BEGIN;", "COMMIT;", "CREATE INDEX CONCURRENTLY", "INSERT INTO schema_migrations"} {
		if !strings.Contains(up, want) {
			t.Errorf("sql up lacks %q:\n%s", want, up)
		}
	}
	if got := tables(t, db); len(got) != 0 {
		t.Errorf("sql up ran something: %v", got)
	}
	if _, err := r.Up(ctx, ""); err != nil {
		t.Fatal(err)
	}
	// Back to just after create todos: the no-transaction index
	// migration is printed without BEGIN, the tables before it stay.
	down, err := r.Plan(ctx, migrations.Down, migrations.DownTarget{To: "20261126120100"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(down, "DROP INDEX CONCURRENTLY") || !strings.Contains(down, "DROP TABLE auth_failures") ||
		strings.Contains(down, "DROP TABLE todos") || strings.Contains(down, "DROP TABLE users") {
		t.Errorf("sql down to 20261126120100 =\n%s", down)
	}
	if st, _ := r.State(ctx); !st.AtHead() {
		t.Error("sql down rolled something back")
	}
}

// TestDatabaseEnforcesRules: the constraints hold for raw SQL too.
func TestDatabaseEnforcesRules(t *testing.T) {
	ctx := context.Background()
	db := openFresh(t)
	if _, err := migrations.NewRunner(db, migrations.All(), nil).Up(ctx, ""); err != nil {
		t.Fatal(err)
	}
	mustExec := func(sql string, args ...any) {
		t.Helper()
		if err := db.Exec(sql, args...).Error; err != nil {
			t.Fatal(err)
		}
	}
	mustExec(`INSERT INTO users (id, email, username, hashed_password) VALUES (1, 'a@example.com', 'Alice', 'x')`)
	mustExec(`INSERT INTO todos (user_id, title) VALUES (1, 'ok')`)
	tests := []struct {
		name string
		sql  string
	}{
		{"priority 9", `INSERT INTO todos (user_id, title, priority) VALUES (1, 't', 9)`},
		{"priority -1", `INSERT INTO todos (user_id, title, priority) VALUES (1, 't', -1)`},
		{"empty title", `INSERT INTO todos (user_id, title) VALUES (1, '')`},
		{"blank title", `INSERT INTO todos (user_id, title) VALUES (1, '   ')`},
		{"null title", `INSERT INTO todos (user_id, title) VALUES (1, NULL)`},
		{"title too long", `INSERT INTO todos (user_id, title) VALUES (1, repeat('x', 256))`},
		{"description too long", `INSERT INTO todos (user_id, title, description) VALUES (1, 't', repeat('x', 10001))`},
		{"unknown user", `INSERT INTO todos (user_id, title) VALUES (999, 't')`},
		{"null completed", `INSERT INTO todos (user_id, title, completed) VALUES (1, 't', NULL)`},
		{"upper-case email", `INSERT INTO users (email, username, hashed_password) VALUES ('B@example.com', 'bob', 'x')`},
		{"duplicate email", `INSERT INTO users (email, username, hashed_password) VALUES ('a@example.com', 'bob', 'x')`},
		{"username differing in case", `INSERT INTO users (email, username, hashed_password) VALUES ('c@example.com', 'ALICE', 'x')`},
		{"username too short", `INSERT INTO users (email, username, hashed_password) VALUES ('d@example.com', 'ab', 'x')`},
		{"username bad characters", `INSERT INTO users (email, username, hashed_password) VALUES ('e@example.com', 'bad name', 'x')`},
		{"email too long", `INSERT INTO users (email, username, hashed_password) VALUES (repeat('a', 250) || '@x.com', 'long', 'x')`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := db.Exec(tt.sql).Error; err == nil {
				t.Errorf("%s was accepted", tt.sql)
			}
		})
	}
	// ON DELETE CASCADE removes a user's todos.
	mustExec(`DELETE FROM users WHERE id = 1`)
	var n int64
	db.Raw(`SELECT count(*) FROM todos`).Scan(&n)
	if n != 0 {
		t.Errorf("%d todos survived their user's deletion", n)
	}
}
