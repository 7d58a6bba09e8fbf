package migrations

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// Drift reports how the models and the migrations disagree about the
// schema, one readable line each; none means they agree. It builds the
// schema twice, in two empty databases the caller provides: in
// fromMigrations by running ms, and in fromModels from the models (GORM
// structs, passed in because this package never imports models).
func Drift(ctx context.Context, fromMigrations, fromModels *gorm.DB, ms []Migration, models []any) ([]string, error) {
	if _, err := NewRunner(fromMigrations, ms, nil).Up(ctx, ""); err != nil {
		return nil, fmt.Errorf("apply migrations to scratch database: %w", err)
	}
	// Extensions are not part of the models: install those the migrations
	// installed, so that model indexes using their operator classes build.
	var exts []string
	if err := fromMigrations.WithContext(ctx).Raw(`SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'`).Scan(&exts).Error; err != nil {
		return nil, fmt.Errorf("list extensions: %w", err)
	}
	for _, e := range exts {
		if err := fromModels.WithContext(ctx).Exec("CREATE EXTENSION IF NOT EXISTS " + pgx.Identifier{e}.Sanitize()).Error; err != nil {
			return nil, fmt.Errorf("create extension %s: %w", e, err)
		}
	}
	// Functions are not part of the models either (an index expression
	// calls them): copy those the migrations created, leaving out the ones
	// extensions own.
	var funcs []string
	if err := fromMigrations.WithContext(ctx).Raw(`
		SELECT pg_get_functiondef(p.oid)
		FROM pg_proc p
		WHERE p.pronamespace = current_schema()::regnamespace
		  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
		ORDER BY p.oid`).Scan(&funcs).Error; err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	for _, f := range funcs {
		if err := fromModels.WithContext(ctx).Exec(f).Error; err != nil {
			return nil, fmt.Errorf("copy function: %w", err)
		}
	}
	// The one sanctioned AutoMigrate: into a scratch database, to learn what
	// the models describe (.golangci.yml forbids it everywhere else).
	if err := fromModels.WithContext(ctx).AutoMigrate(models...); err != nil { //nolint:forbidigo // scratch database, compared with the migrations' schema
		// The models need something the migrations never create (a type,
		// an operator class from a missing extension): that is drift too.
		return []string{fmt.Sprintf("the models cannot be built where the migrations ran (%s): %s", strings.Join(exts, ", "), describe(err))}, nil
	}
	// Triggers neither (todo_counts is kept by one): copy those the
	// migrations created, onto the tables the models just built.
	var triggers []string
	if err := fromMigrations.WithContext(ctx).Raw(`
		SELECT pg_get_triggerdef(t.oid)
		FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
		WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal
		ORDER BY t.oid`).Scan(&triggers).Error; err != nil {
		return nil, fmt.Errorf("list triggers: %w", err)
	}
	for _, tr := range triggers {
		if err := fromModels.WithContext(ctx).Exec(tr).Error; err != nil {
			return nil, fmt.Errorf("copy trigger: %w", err)
		}
	}
	want, err := Snapshot(ctx, fromMigrations)
	if err != nil {
		return nil, err
	}
	got, err := Snapshot(ctx, fromModels)
	if err != nil {
		return nil, err
	}
	return Diff(want, got), nil
}

// describe renders PostgreSQL's message and code without the severity.
func describe(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Sprintf("%s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	}
	return err.Error()
}
