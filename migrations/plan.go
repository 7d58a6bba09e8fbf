package migrations

import (
	"context"
	"fmt"
	"strings"
)

// Direction says which way a run goes: Up applies migrations, Down rolls
// them back.
type Direction string

// The two directions.
const (
	Up   Direction = "up"
	Down Direction = "down"
)

// DownTarget says how far Down goes: Steps migrations, or back to (and
// excluding) To, or All of them.
type DownTarget struct {
	Steps int
	To    string
	All   bool
}

// lastToApply resolves Up's target ("" or "head" for all) to the index of
// the newest migration to apply.
func (r *Runner) lastToApply(target string) (int, error) {
	if target == "" {
		return len(r.migrations) - 1, nil
	}
	return r.Resolve(target)
}

// newestToKeep resolves Down's target to the index of the newest migration
// that stays applied, -1 for none.
func (r *Runner) newestToKeep(target DownTarget) (int, error) {
	if target.To == "" {
		return -1, nil
	}
	return r.Resolve(target.To)
}

// toApply picks what Up applies: the migrations not yet applied up to and
// including index last, oldest first.
func (r *Runner) toApply(st State, last int) []Migration {
	applied := st.applied()
	var ms []Migration
	for _, m := range r.migrations[:last+1] {
		if !applied[m.ID] {
			ms = append(ms, m)
		}
	}
	return ms
}

// toRollBack picks what Down rolls back: the applied migrations after index
// keep, newest first, and without To or All only the newest Steps (at least
// one) of them.
func (r *Runner) toRollBack(st State, target DownTarget, keep int) []Migration {
	applied := st.applied()
	var ms []Migration
	for i := len(r.migrations) - 1; i > keep; i-- {
		if !target.All && target.To == "" && len(ms) >= max(target.Steps, 1) {
			break
		}
		if m := r.migrations[i]; applied[m.ID] {
			ms = append(ms, m)
		}
	}
	return ms
}

// Plan returns the SQL that Up (to upTo) or Down (to target) would run, as
// BEGIN/COMMIT-framed blocks, without running anything.
func (r *Runner) Plan(ctx context.Context, dir Direction, target DownTarget, upTo string) (string, error) {
	st, err := r.checkedState(ctx)
	if err != nil {
		return "", err
	}
	var ms []Migration
	switch dir {
	case Up:
		last, err := r.lastToApply(upTo)
		if err != nil {
			return "", err
		}
		ms = r.toApply(st, last)
	case Down:
		keep, err := r.newestToKeep(target)
		if err != nil {
			return "", err
		}
		ms = r.toRollBack(st, target, keep)
	default:
		return "", fmt.Errorf("direction must be up or down, got %q", dir)
	}
	if len(ms) == 0 {
		return "-- nothing to do\n", nil
	}
	var b strings.Builder
	for _, m := range ms {
		statements, book := m.Up, fmt.Sprintf("INSERT INTO %s (id) VALUES ('%s');", TableName, m.ID)
		if dir == Down {
			statements, book = m.Down, fmt.Sprintf("DELETE FROM %s WHERE id = '%s';", TableName, m.ID)
		}
		mode := "in a transaction"
		if m.NoTransaction {
			mode = "without a transaction"
		}
		fmt.Fprintf(&b, "-- %s %s: %s (%s)\n", dir, m.ID, m.Description, mode)
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
