package migrations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// TableName is the bookkeeping table: one row per applied migration.
const TableName = "schema_migrations"

// ErrUnknownMigrations means the database has applied migrations that this
// build does not know: it is newer than the code, and running would be unsafe.
var ErrUnknownMigrations = errors.New("database has applied migrations unknown to this build")

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

// Up applies pending migrations in order up to and including target ("" or
// "head" for all), each in its own transaction unless it opts out. It
// returns the IDs it applied.
func (r *Runner) Up(ctx context.Context, target string) ([]string, error) {
	last, err := r.lastToApply(target)
	if err != nil {
		return nil, err
	}
	return r.run(ctx, Up, func(st State) []Migration { return r.toApply(st, last) })
}

// Down rolls back applied migrations, newest first, each in its own
// transaction unless it opts out. It returns the IDs it rolled back.
func (r *Runner) Down(ctx context.Context, target DownTarget) ([]string, error) {
	keep, err := r.newestToKeep(target)
	if err != nil {
		return nil, err
	}
	return r.run(ctx, Down, func(st State) []Migration { return r.toRollBack(st, target, keep) })
}

// run takes the lock, reads the state, and applies or rolls back what pick
// chooses from it, stopping at the first failure. It returns the IDs done.
func (r *Runner) run(ctx context.Context, dir Direction, pick func(State) []Migration) ([]string, error) {
	var done []string
	err := r.withLock(ctx, func() error {
		st, err := r.checkedState(ctx)
		if err != nil {
			return err
		}
		for _, m := range pick(st) {
			start := time.Now()
			if dir == Up {
				if err := r.gormigrate(ctx, m).MigrateTo(m.ID); err != nil {
					return fmt.Errorf("migration %s (%s): %w", m.ID, m.Description, err)
				}
				r.log.Info("migration applied", "id", m.ID, "description", m.Description, "duration", time.Since(start).Round(time.Millisecond))
			} else {
				if err := r.gormigrate(ctx, m).RollbackMigration(r.asGormigrate(m)); err != nil {
					return fmt.Errorf("rollback %s (%s): %w", m.ID, m.Description, err)
				}
				r.log.Info("migration rolled back", "id", m.ID, "description", m.Description, "duration", time.Since(start).Round(time.Millisecond))
			}
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
