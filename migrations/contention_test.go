package migrations_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/todo-api/todo-api/migrations"
)

// relInvalidIndexes lists the indexes PostgreSQL marks invalid (what a failed
// CREATE INDEX CONCURRENTLY leaves behind).
func relInvalidIndexes(t *testing.T, exec func(dst any, sql string) error) []string {
	t.Helper()
	var names []string
	if err := exec(&names, `SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	return names
}

// TestFailingNoTransactionMigrationIsRetryable: a migration that runs outside
// a transaction (CREATE INDEX CONCURRENTLY) and fails at its second
// statement is not recorded: the pending state is as before, nothing else
// in the schema moved but the invalid index PostgreSQL leaves (which no
// transaction can undo), and once the cause is fixed the same migration
// runs again cleanly, dropping that leftover first. The transactional case
// is TestFailingMigrationLeavesNoTrace.
func TestFailingNoTransactionMigrationIsRetryable(t *testing.T) {
	ctx := context.Background()
	db := openFresh(t)
	exec := func(dst any, sql string) error { return db.Raw(sql).Scan(dst).Error }
	const id, index = "29990101000200", "idx_rel_todos_user_title_unique"
	failing := migrations.Migration{
		ID:            id,
		Description:   "unique titles per user (concurrently)",
		NoTransaction: true,
		Up: []string{
			`DROP INDEX CONCURRENTLY IF EXISTS ` + index,
			`CREATE UNIQUE INDEX CONCURRENTLY ` + index + ` ON todos (user_id, title)`,
		},
		Down: []string{`DROP INDEX CONCURRENTLY IF EXISTS ` + index},
	}
	list := append(migrations.All(), failing)
	r := migrations.NewRunner(db, list, nil)
	head := migrations.All()[len(migrations.All())-1].ID
	if _, err := r.Up(ctx, head); err != nil {
		t.Fatal(err)
	}
	// Data that breaks the unique index: the second statement will fail
	// after PostgreSQL has already created the (invalid) index.
	if err := db.Exec(`INSERT INTO users (email, username, hashed_password) VALUES ('nt@example.com', 'nt_user', 'x')`).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(`INSERT INTO todos (user_id, title) SELECT id, 'same' FROM users WHERE username = 'nt_user' UNION ALL SELECT id, 'same' FROM users WHERE username = 'nt_user'`).Error; err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, db)
	stBefore, err := r.State(ctx)
	if err != nil {
		t.Fatal(err)
	}

	applied, err := r.Up(ctx, "")
	if err == nil || !strings.Contains(err.Error(), id) {
		t.Fatalf("Up = %v, %v; want the failing migration %s named", applied, err, id)
	}
	if len(applied) != 0 {
		t.Errorf("applied %v by a failed run", applied)
	}
	st, err := r.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Pending) != 1 || st.Pending[0].ID != id || st.Current != stBefore.Current || len(st.Statuses) != len(stBefore.Statuses) {
		t.Errorf("after the failure: current %s, pending %d (%v); want current %s and only %s pending", st.Current, len(st.Pending), st.Pending, stBefore.Current, id)
	}
	var recorded int64
	db.Raw(`SELECT count(*) FROM schema_migrations WHERE id = ?`, id).Scan(&recorded)
	if recorded != 0 {
		t.Errorf("the failed migration is recorded as applied")
	}
	// Nothing moved but the leftover invalid index.
	for _, line := range migrations.Diff(before, snapshot(t, db)) {
		if !strings.Contains(line, index) {
			t.Errorf("the failed migration changed the schema: %s", line)
		}
	}
	leftover := relInvalidIndexes(t, exec)
	t.Logf("invalid indexes left by the failed concurrent build: %v", leftover)
	if len(leftover) > 0 && !slices.Equal(leftover, []string{index}) {
		t.Errorf("invalid indexes %v; only %s may be left", leftover, index)
	}

	// Fix the cause and run again: the migration drops its leftover and
	// builds a valid index; the database ends at head with no invalid index.
	if err := db.Exec(`DELETE FROM todos WHERE id = (SELECT max(id) FROM todos)`).Error; err != nil {
		t.Fatal(err)
	}
	applied, err = r.Up(ctx, "")
	if err != nil || !slices.Equal(applied, []string{id}) {
		t.Fatalf("re-run after the fix: %v, %v; want [%s]", applied, err, id)
	}
	if st, _ := r.State(ctx); !st.AtHead() {
		t.Errorf("not at head after the re-run: %d pending", len(st.Pending))
	}
	if bad := relInvalidIndexes(t, exec); len(bad) != 0 {
		t.Errorf("invalid indexes after the re-run: %v", bad)
	}
	var valid bool
	db.Raw(`SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = ?`, index).Scan(&valid)
	if !valid {
		t.Errorf("%s is missing or invalid after the re-run", index)
	}
	// And it rolls back like any other.
	if done, err := r.Down(ctx, migrations.DownTarget{Steps: 1}); err != nil || !slices.Equal(done, []string{id}) {
		t.Errorf("down: %v, %v", done, err)
	}
}
