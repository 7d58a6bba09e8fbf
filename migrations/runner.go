package migrations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// TableName is the bookkeeping table: one row per applied migration.
const TableName = "schema_migrations"

// lockKey identifies the migration advisory lock: the first 8 bytes of
// sha256("todo-api schema migrations"), fixed so every version agrees.
const lockKey int64 = 0x3a5c_7e1f_9b2d_4c60

// ErrUnknownMigrations means the database has applied migrations that this
// build does not know: it is newer than the code, and running would be unsafe.
var ErrUnknownMigrations = errors.New("database has applied migrations unknown to this build")

// ErrLockTimeout means another process held the migration lock too long.
var ErrLockTimeout = errors.New("timed out waiting for the migration lock")

// Runner applies and rolls back migrations on one database. It must be given
// a direct connection (never a transaction pooler): the lock is a session
// advisory lock.
type Runner struct {
	db         *gorm.DB
	migrations []Migration
	log        *slog.Logger

	// LockTimeout bounds the wait for another process's migration run.
	LockTimeout time.Duration
	// LockPoll is the mean interval between lock attempts.
	LockPoll time.Duration
}

// NewRunner returns a runner for the given ordered migrations.
func NewRunner(db *gorm.DB, migrations []Migration, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{db: db, migrations: migrations, log: log, LockTimeout: 5 * time.Minute, LockPoll: 200 * time.Millisecond}
}

// Record is one row of the bookkeeping table.
type Record struct {
	ID        string
	AppliedAt time.Time
}

// Status describes one migration, known or not, for `migrate status`.
type Status struct {
	ID          string
	Description string
	Applied     bool
	AppliedAt   time.Time
	// Unknown marks an applied ID that this build has no migration for.
	Unknown bool
}

// State is what the database has applied, compared with the code.
type State struct {
	Statuses []Status
	// Current is the last applied known migration, "" when none.
	Current string
	Pending []Migration
	Unknown []string
}

// AtHead reports whether every known migration is applied and none unknown.
func (s State) AtHead() bool { return len(s.Pending) == 0 && len(s.Unknown) == 0 }

// Head returns the newest migration ID, "" when there are none.
func (r *Runner) Head() string {
	if len(r.migrations) == 0 {
		return ""
	}
	return r.migrations[len(r.migrations)-1].ID
}

// Resolve maps "head" and IDs to an index into the migrations.
func (r *Runner) Resolve(id string) (int, error) {
	if id == "head" && len(r.migrations) > 0 {
		return len(r.migrations) - 1, nil
	}
	for i, m := range r.migrations {
		if m.ID == id {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no migration with id %q (see `migrate history`)", id)
}

func (r *Runner) session(ctx context.Context) *gorm.DB {
	return r.db.Session(&gorm.Session{NewDB: true, Context: ctx})
}

// ensureTable creates the bookkeeping table. gormigrate would create one
// with only an id; applied_at is ours.
func (r *Runner) ensureTable(ctx context.Context) error {
	err := r.session(ctx).Exec(`CREATE TABLE IF NOT EXISTS ` + TableName + ` (
		id varchar(255) PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`).Error
	if err != nil {
		return fmt.Errorf("create %s: %w", TableName, err)
	}
	return nil
}

// State reads the bookkeeping table. A database without it has applied
// nothing.
func (r *Runner) State(ctx context.Context) (State, error) {
	var exists bool
	if err := r.session(ctx).Raw(`SELECT to_regclass(?) IS NOT NULL`, TableName).Scan(&exists).Error; err != nil {
		return State{}, fmt.Errorf("read migration state: %w", err)
	}
	var records []Record
	if exists {
		if err := r.session(ctx).Table(TableName).Order("id").Find(&records).Error; err != nil {
			return State{}, fmt.Errorf("read %s: %w", TableName, err)
		}
	}
	return r.compare(records), nil
}

func (r *Runner) compare(records []Record) State {
	applied := make(map[string]time.Time, len(records))
	for _, rec := range records {
		applied[rec.ID] = rec.AppliedAt
	}
	var st State
	known := make(map[string]bool, len(r.migrations))
	for _, m := range r.migrations {
		known[m.ID] = true
		at, ok := applied[m.ID]
		st.Statuses = append(st.Statuses, Status{ID: m.ID, Description: m.Description, Applied: ok, AppliedAt: at})
		if ok {
			st.Current = m.ID
		} else {
			st.Pending = append(st.Pending, m)
		}
	}
	for _, rec := range records {
		if !known[rec.ID] {
			st.Unknown = append(st.Unknown, rec.ID)
			st.Statuses = append(st.Statuses, Status{ID: rec.ID, Description: "(unknown to this build)", Applied: true, AppliedAt: rec.AppliedAt, Unknown: true})
		}
	}
	slices.SortStableFunc(st.Statuses, func(a, b Status) int { return strings.Compare(a.ID, b.ID) })
	return st
}

// checkedState reads the state and refuses to go on when the database knows
// migrations this build does not.
func (r *Runner) checkedState(ctx context.Context) (State, error) {
	st, err := r.State(ctx)
	if err != nil {
		return st, err
	}
	if len(st.Unknown) > 0 {
		return st, fmt.Errorf("%w: %s; deploy a build that has them, or roll them back with that build", ErrUnknownMigrations, strings.Join(st.Unknown, ", "))
	}
	return st, nil
}

// Up applies pending migrations in order up to and including target ("" or
// "head" for all), each in its own transaction unless it opts out. It
// returns the IDs it applied.
func (r *Runner) Up(ctx context.Context, target string) ([]string, error) {
	last := len(r.migrations) - 1
	if target != "" {
		i, err := r.Resolve(target)
		if err != nil {
			return nil, err
		}
		last = i
	}
	var done []string
	err := r.withLock(ctx, func() error {
		st, err := r.checkedState(ctx)
		if err != nil {
			return err
		}
		pending := make(map[string]bool, len(st.Pending))
		for _, m := range st.Pending {
			pending[m.ID] = true
		}
		for _, m := range r.migrations[:last+1] {
			if !pending[m.ID] {
				continue
			}
			start := time.Now()
			if err := r.gormigrate(ctx, m).MigrateTo(m.ID); err != nil {
				return fmt.Errorf("migration %s (%s): %w", m.ID, m.Description, err)
			}
			r.log.Info("migration applied", "id", m.ID, "description", m.Description, "duration", time.Since(start).Round(time.Millisecond))
			done = append(done, m.ID)
		}
		return nil
	})
	return done, err
}

// DownTarget says how far Down goes: Steps migrations, or back to (and
// excluding) To, or All of them.
type DownTarget struct {
	Steps int
	To    string
	All   bool
}

// Down rolls back applied migrations, newest first, each in its own
// transaction unless it opts out. It returns the IDs it rolled back.
func (r *Runner) Down(ctx context.Context, target DownTarget) ([]string, error) {
	keep := -1 // index of the newest migration to keep applied
	if target.To != "" {
		i, err := r.Resolve(target.To)
		if err != nil {
			return nil, err
		}
		keep = i
	}
	var done []string
	err := r.withLock(ctx, func() error {
		st, err := r.checkedState(ctx)
		if err != nil {
			return err
		}
		for i := len(r.migrations) - 1; i > keep; i-- {
			if !target.All && target.To == "" && len(done) >= max(target.Steps, 1) {
				break
			}
			m := r.migrations[i]
			if !st.Statuses[i].Applied {
				continue
			}
			start := time.Now()
			if err := r.gormigrate(ctx, m).RollbackMigration(r.asGormigrate(m)); err != nil {
				return fmt.Errorf("rollback %s (%s): %w", m.ID, m.Description, err)
			}
			r.log.Info("migration rolled back", "id", m.ID, "description", m.Description, "duration", time.Since(start).Round(time.Millisecond))
			done = append(done, m.ID)
		}
		return nil
	})
	return done, err
}

// Stamp records the migrations up to and including id as applied, and those
// after it as not applied, without running any SQL: for adopting a database
// whose schema was built another way.
func (r *Runner) Stamp(ctx context.Context, id string) error {
	last, err := r.Resolve(id)
	if err != nil {
		return err
	}
	return r.withLock(ctx, func() error {
		if _, err := r.checkedState(ctx); err != nil {
			return err
		}
		return r.session(ctx).Transaction(func(tx *gorm.DB) error {
			for i, m := range r.migrations {
				var q string
				if i <= last {
					q = `INSERT INTO ` + TableName + ` (id) VALUES (?) ON CONFLICT (id) DO NOTHING`
				} else {
					q = `DELETE FROM ` + TableName + ` WHERE id = ?`
				}
				if err := tx.Exec(q, m.ID).Error; err != nil {
					return fmt.Errorf("stamp %s: %w", m.ID, err)
				}
			}
			return nil
		})
	})
}

func (r *Runner) gormigrate(ctx context.Context, m Migration) *gormigrate.Gormigrate {
	all := make([]*gormigrate.Migration, len(r.migrations))
	for i, mm := range r.migrations {
		all[i] = r.asGormigrate(mm)
	}
	return gormigrate.New(r.session(ctx), &gormigrate.Options{
		TableName:                 TableName,
		IDColumnName:              "id",
		IDColumnSize:              255,
		UseTransaction:            !m.NoTransaction,
		ValidateUnknownMigrations: true,
	}, all)
}

func (r *Runner) asGormigrate(m Migration) *gormigrate.Migration {
	return &gormigrate.Migration{
		ID:       m.ID,
		Migrate:  func(tx *gorm.DB) error { return execAll(tx, m.Up) },
		Rollback: func(tx *gorm.DB) error { return execAll(tx, m.Down) },
	}
}

func execAll(tx *gorm.DB, statements []string) error {
	for _, s := range statements {
		if err := tx.Exec(s).Error; err != nil {
			return fmt.Errorf("%s: %w", firstLine(s), err)
		}
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// withLock runs fn while holding the migration advisory lock on one pinned
// connection. The lock is taken by polling pg_try_advisory_lock: a blocking
// pg_advisory_lock would be a running statement, which CREATE INDEX
// CONCURRENTLY in the holder's migration waits for, a deadlock.
func (r *Runner) withLock(ctx context.Context, fn func() error) error {
	if err := Validate(r.migrations); err != nil {
		return err
	}
	sqlDB, err := r.db.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.Close()

	deadline := time.Now().Add(r.LockTimeout)
	for waited := false; ; waited = true {
		var got bool
		if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey).Scan(&got); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		if got {
			break
		}
		if !waited {
			r.log.Info("waiting for another process's migration run to finish")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %s", ErrLockTimeout, r.LockTimeout)
		}
		// Jitter keeps several waiting processes from polling in step.
		pause := time.Duration(float64(r.LockPoll) * (0.5 + rand.Float64()))
		select {
		case <-ctx.Done():
			return fmt.Errorf("migration lock: %w", ctx.Err())
		case <-time.After(pause):
		}
	}
	defer func() {
		// A fresh context: the lock must be released even when ctx ended.
		unlockCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(unlockCtx, `SELECT pg_advisory_unlock($1)`, lockKey); err != nil {
			r.log.Warn("release migration lock", "err", err)
		}
	}()
	if err := r.ensureTable(ctx); err != nil {
		return err
	}
	return fn()
}

// Plan returns the SQL that Up (direction "up") or Down would run, as
// BEGIN/COMMIT-framed blocks, without running anything.
func (r *Runner) Plan(ctx context.Context, direction string, target DownTarget, upTo string) (string, error) {
	st, err := r.checkedState(ctx)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	write := func(m Migration, statements []string, book string) {
		mode := "in a transaction"
		if m.NoTransaction {
			mode = "without a transaction"
		}
		fmt.Fprintf(&b, "-- %s %s: %s (%s)\n", direction, m.ID, m.Description, mode)
		if !m.NoTransaction {
			b.WriteString("BEGIN;\n")
		}
		for _, s := range statements {
			b.WriteString(dedent(s) + ";\n")
		}
		b.WriteString(book + "\n")
		if !m.NoTransaction {
			b.WriteString("COMMIT;\n")
		}
		b.WriteString("\n")
	}
	switch direction {
	case "up":
		last := len(r.migrations) - 1
		if upTo != "" {
			if last, err = r.Resolve(upTo); err != nil {
				return "", err
			}
		}
		for i, m := range r.migrations[:last+1] {
			if !st.Statuses[i].Applied {
				write(m, m.Up, fmt.Sprintf("INSERT INTO %s (id) VALUES ('%s');", TableName, m.ID))
			}
		}
	case "down":
		keep := -1
		if target.To != "" {
			if keep, err = r.Resolve(target.To); err != nil {
				return "", err
			}
		}
		n := 0
		for i := len(r.migrations) - 1; i > keep; i-- {
			if !target.All && target.To == "" && n >= max(target.Steps, 1) {
				break
			}
			if st.Statuses[i].Applied {
				m := r.migrations[i]
				write(m, m.Down, fmt.Sprintf("DELETE FROM %s WHERE id = '%s';", TableName, m.ID))
				n++
			}
		}
	default:
		return "", fmt.Errorf("direction must be up or down, got %q", direction)
	}
	if b.Len() == 0 {
		return "-- nothing to do\n", nil
	}
	return b.String(), nil
}

// dedent strips the source indentation of multi-line statements.
func dedent(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		if i > 0 {
			l = strings.TrimLeft(l, "\t")
			if !strings.HasPrefix(l, ")") && !strings.HasPrefix(l, "END") && !strings.HasPrefix(l, "EXCEPTION") {
				l = "  " + l
			}
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}
