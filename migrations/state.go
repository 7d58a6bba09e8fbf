package migrations

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

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

// applied is the set of applied migration IDs.
func (s State) applied() map[string]bool {
	ids := make(map[string]bool, len(s.Statuses))
	for _, st := range s.Statuses {
		if st.Applied {
			ids[st.ID] = true
		}
	}
	return ids
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
