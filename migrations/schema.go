package migrations

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"gorm.io/gorm"
)

// Schema is a catalog snapshot of the current schema: columns, indexes,
// constraints and functions (those not owned by an extension), each keyed
// by a stable name and rendered by PostgreSQL itself so that two schemas
// built different ways compare equal when they are.
type Schema struct {
	Columns     map[string]string
	Indexes     map[string]string
	Constraints map[string]string
	Functions   map[string]string
	Triggers    map[string]string
}

// Snapshot reads the schema of the connection's current schema, leaving out
// the bookkeeping table.
func Snapshot(ctx context.Context, db *gorm.DB) (Schema, error) {
	s := Schema{Columns: map[string]string{}, Indexes: map[string]string{}, Constraints: map[string]string{}, Functions: map[string]string{}, Triggers: map[string]string{}}
	queries := []struct {
		into map[string]string
		sql  string
	}{
		{s.Columns, `
			SELECT c.relname || '.' || a.attname,
			       format_type(a.atttypid, a.atttypmod)
			       || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE ' NULL' END
			       || COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
			FROM pg_attribute a
			JOIN pg_class c ON c.oid = a.attrelid
			LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			WHERE c.relnamespace = current_schema()::regnamespace
			  AND c.relkind = 'r' AND c.relname <> ?
			  AND a.attnum > 0 AND NOT a.attisdropped`},
		{s.Indexes, `
			SELECT tablename || '.' || indexname, indexdef
			FROM pg_indexes
			WHERE schemaname = current_schema() AND tablename <> ?`},
		{s.Constraints, `
			SELECT conrelid::regclass::text || '.' || conname, pg_get_constraintdef(oid)
			FROM pg_constraint
			WHERE connamespace = current_schema()::regnamespace
			  AND conrelid::regclass::text <> ?`},
		// An index expression calls them (todo_search_keys), so a change
		// of body is a change of schema. The bookkeeping table's name is
		// only there to fill the shared placeholder.
		{s.Functions, `
			SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid)
			FROM pg_proc p
			WHERE p.pronamespace = current_schema()::regnamespace
			  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
			  AND ? <> ''`},
		// A trigger keeps todo_counts; one a rollback leaves behind
		// would go on writing.
		{s.Triggers, `
			SELECT t.tgrelid::regclass::text || '.' || t.tgname, pg_get_triggerdef(t.oid)
			FROM pg_trigger t
			JOIN pg_class c ON c.oid = t.tgrelid
			WHERE c.relnamespace = current_schema()::regnamespace
			  AND NOT t.tgisinternal AND c.relname <> ?`},
	}
	for _, q := range queries {
		if err := readPairs(ctx, db, q.sql, q.into); err != nil {
			return s, fmt.Errorf("snapshot schema: %w", err)
		}
	}
	return s, nil
}

// readPairs runs query (its one parameter is TableName) and puts each
// row's two text columns into into, key and value.
func readPairs(ctx context.Context, db *gorm.DB, query string, into map[string]string) error {
	rows, err := db.WithContext(ctx).Raw(query, TableName).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		into[k] = v
	}
	return rows.Err()
}

// Diff lists, one readable line each, how schema got (built by the models)
// differs from want (built by the migrations). Empty means they agree.
func Diff(want, got Schema) []string {
	var out []string
	diff := func(kind string, w, g map[string]string) {
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			wv, inW := w[k]
			gv, inG := g[k]
			switch {
			case !inW:
				out = append(out, fmt.Sprintf("%s %s: in the models (%s) but no migration creates it", kind, k, gv))
			case !inG:
				out = append(out, fmt.Sprintf("%s %s: created by the migrations (%s) but not in the models", kind, k, wv))
			case wv != gv:
				out = append(out, fmt.Sprintf("%s %s: migrations have %s; models have %s", kind, k, wv, gv))
			}
		}
	}
	diff("column", want.Columns, got.Columns)
	diff("index", want.Indexes, got.Indexes)
	diff("constraint", want.Constraints, got.Constraints)
	diff("function", want.Functions, got.Functions)
	diff("trigger", want.Triggers, got.Triggers)
	return out
}

// FormatDiff joins Diff lines for printing.
func FormatDiff(lines []string) string {
	return "  - " + strings.Join(lines, "\n  - ")
}
