package migrations_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/todo-api/todo-api/migrations"
)

// The drift tests use a schema of their own, one table, built by hand
// below both ways: as migrations and as GORM models. The shipped pair is
// checked by cli.TestCheckModels; this package never imports models.

var (
	createTrgm = migrations.Migration{
		ID: "20260101000000", Description: "trigram search",
		Up:   []string{`CREATE EXTENSION IF NOT EXISTS pg_trgm`},
		Down: []string{`DROP EXTENSION IF EXISTS pg_trgm`},
	}
	createWidgets = migrations.Migration{
		ID: "20260101000100", Description: "create widgets",
		Up: []string{`
			CREATE TABLE widgets (
				id bigserial PRIMARY KEY,
				name varchar(100) NOT NULL,
				note text,
				stock integer NOT NULL DEFAULT 0,
				CONSTRAINT chk_widgets_name CHECK (name <> '')
			)`,
			`CREATE INDEX idx_widgets_name ON widgets (name)`,
		},
		Down: []string{`DROP TABLE widgets`},
	}
	indexWidgetNotes = migrations.Migration{
		ID: "20260101000200", Description: "search widget notes",
		Up:   []string{`CREATE INDEX idx_widgets_note_trgm ON widgets USING gin (note gin_trgm_ops)`},
		Down: []string{`DROP INDEX idx_widgets_note_trgm`},
	}
	widgetMigrations = []migrations.Migration{createTrgm, createWidgets, indexWidgetNotes}
)

// Widget is the model the migrations above build (exported: GORM skips
// unexported embedded structs).
type Widget struct {
	ID    uint64  `gorm:"primaryKey"`
	Name  string  `gorm:"type:varchar(100);not null;index:idx_widgets_name;check:chk_widgets_name,name <> ''"`
	Note  *string `gorm:"type:text;index:idx_widgets_note_trgm,type:gin,expression:note gin_trgm_ops"`
	Stock int32   `gorm:"not null;default:0"`
}

func (Widget) TableName() string { return "widgets" }

// widgetExtraColumn has a field no migration creates.
type widgetExtraColumn struct {
	Widget
	Color string `gorm:"type:text"`
}

func (widgetExtraColumn) TableName() string { return "widgets" }

// widgetNoNote lacks a column (and so its index) the migrations create.
type widgetNoNote struct {
	ID    uint64 `gorm:"primaryKey"`
	Name  string `gorm:"type:varchar(100);not null;index:idx_widgets_name;check:chk_widgets_name,name <> ''"`
	Stock int32  `gorm:"not null;default:0"`
}

func (widgetNoNote) TableName() string { return "widgets" }

// widgetChanged differs from the migrations in a type, a default and
// nullability, with the same names.
type widgetChanged struct {
	ID    uint64  `gorm:"primaryKey"`
	Name  string  `gorm:"type:varchar(50);not null;index:idx_widgets_name;check:chk_widgets_name,name <> ''"`
	Note  *string `gorm:"type:text;not null;index:idx_widgets_note_trgm,type:gin,expression:note gin_trgm_ops"`
	Stock int32   `gorm:"not null;default:1"`
}

func (widgetChanged) TableName() string { return "widgets" }

// widgetIndexes drops the name index and check and adds a unique index.
type widgetIndexes struct {
	ID    uint64  `gorm:"primaryKey"`
	Name  string  `gorm:"type:varchar(100);not null;uniqueIndex:uq_widgets_name"`
	Note  *string `gorm:"type:text;index:idx_widgets_note_trgm,type:gin,expression:note gin_trgm_ops"`
	Stock int32   `gorm:"not null;default:0"`
}

func (widgetIndexes) TableName() string { return "widgets" }

// widgetMood needs a type no migration creates.
type widgetMood struct {
	Widget
	Mood string `gorm:"type:mood"`
}

func (widgetMood) TableName() string { return "widgets" }

// widgetBadRelation has a field GORM cannot map: neither a column nor a
// relation.
type widgetBadRelation struct {
	Widget
	Maker struct{ Name string }
}

func (widgetBadRelation) TableName() string { return "widgets" }

// scratchPair returns a Drift over two scratch databases of the test's,
// emptied before each run: a fresh database for every run would cost a
// CREATE and a DROP DATABASE (a checkpoint) each.
func scratchPair(t *testing.T) func(ms []migrations.Migration, models ...any) []string {
	t.Helper()
	fromMigrations, fromModels := openFresh(t), openFresh(t)
	return func(ms []migrations.Migration, models ...any) []string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, db := range []*gorm.DB{fromMigrations, fromModels} {
			var exts []string
			if err := db.Raw(`SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'`).Scan(&exts).Error; err != nil {
				t.Fatal(err)
			}
			for _, e := range exts {
				if err := db.Exec(`DROP EXTENSION ` + pgx.Identifier{e}.Sanitize() + ` CASCADE`).Error; err != nil {
					t.Fatal(err)
				}
			}
			for _, sql := range []string{`DROP SCHEMA public CASCADE`, `CREATE SCHEMA public`} {
				if err := db.Exec(sql).Error; err != nil {
					t.Fatal(err)
				}
			}
		}
		lines, err := migrations.Drift(ctx, fromMigrations, fromModels, ms, models)
		if err != nil {
			t.Fatal(err)
		}
		return lines
	}
}

func wantDrift(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("drift:\n%s\nwant:\n%s", migrations.FormatDiff(got), migrations.FormatDiff(want))
	}
}

// TestDriftNone: models that describe what the migrations build give no
// drift, an index using an extension's operator class included: the
// extension is installed where the models are built.
func TestDriftNone(t *testing.T) {
	t.Parallel()
	drift := scratchPair(t)
	wantDrift(t, drift(widgetMigrations, &Widget{}))
}

// TestDriftColumns: a model field no migration creates, a column no model
// has (with the index on it), and a column both have but differently, are
// each one line.
func TestDriftColumns(t *testing.T) {
	t.Parallel()
	drift := scratchPair(t)
	wantDrift(t, drift(widgetMigrations, &widgetExtraColumn{}),
		"column widgets.color: in the models (text NULL) but no migration creates it")
	wantDrift(t, drift(widgetMigrations, &widgetNoNote{}),
		"column widgets.note: created by the migrations (text NULL) but not in the models",
		"index widgets.idx_widgets_note_trgm: created by the migrations (CREATE INDEX idx_widgets_note_trgm ON public.widgets USING gin (note gin_trgm_ops)) but not in the models")
	wantDrift(t, drift(widgetMigrations, &widgetChanged{}),
		"column widgets.name: migrations have character varying(100) NOT NULL; models have character varying(50) NOT NULL",
		"column widgets.note: migrations have text NULL; models have text NOT NULL",
		"column widgets.stock: migrations have integer NOT NULL DEFAULT 0; models have integer NOT NULL DEFAULT 1")
}

// TestDriftIndexesAndConstraints: indexes and constraints are compared by
// name and definition.
func TestDriftIndexesAndConstraints(t *testing.T) {
	t.Parallel()
	drift := scratchPair(t)
	wantDrift(t, drift(widgetMigrations, &widgetIndexes{}),
		"index widgets.idx_widgets_name: created by the migrations (CREATE INDEX idx_widgets_name ON public.widgets USING btree (name)) but not in the models",
		"index widgets.uq_widgets_name: in the models (CREATE UNIQUE INDEX uq_widgets_name ON public.widgets USING btree (name)) but no migration creates it",
		"constraint widgets.chk_widgets_name: created by the migrations (CHECK (((name)::text <> ''::text))) but not in the models")
	// A migration missing: stopping before the index leaves it out.
	wantDrift(t, drift(widgetMigrations[:2], &Widget{}),
		"index widgets.idx_widgets_note_trgm: in the models (CREATE INDEX idx_widgets_note_trgm ON public.widgets USING gin (note gin_trgm_ops)) but no migration creates it")
}

// TestDriftModelsCannotBeBuilt: models needing something the migrations
// never create (an extension's operator class, a type) are drift, reported
// with PostgreSQL's reason and the extensions that were there; a model GORM
// cannot map is reported the same way, in GORM's words.
func TestDriftModelsCannotBeBuilt(t *testing.T) {
	t.Parallel()
	drift := scratchPair(t)
	wantDrift(t, drift(widgetMigrations, &widgetMood{}),
		`the models cannot be built where the migrations ran (pg_trgm): type "mood" does not exist (SQLSTATE 42704)`)
	wantDrift(t, drift(widgetMigrations, &widgetBadRelation{}),
		"the models cannot be built where the migrations ran (pg_trgm): invalid field found for struct github.com/todo-api/todo-api/migrations_test.widgetBadRelation's field Maker: define a valid foreign key for relations or implement the Valuer/Scanner interface")
	// Without the extension (and no trace of the runs above: the
	// scratch databases are emptied between runs, extensions included).
	wantDrift(t, drift([]migrations.Migration{createWidgets}, &Widget{}),
		`the models cannot be built where the migrations ran (): operator class "gin_trgm_ops" does not exist for access method "gin" (SQLSTATE 42704)`)
}

// TestDriftMigrationsFail: migrations that do not apply are an error, not
// drift.
func TestDriftMigrationsFail(t *testing.T) {
	t.Parallel()
	broken := migrations.Migration{ID: "20260101000300", Description: "broken", Up: []string{`ALTER TABLE nowhere ADD COLUMN x int`}, Down: []string{`SELECT 1`}}
	_, err := migrations.Drift(context.Background(), openFresh(t), openFresh(t), append(widgetMigrations, broken), []any{&Widget{}})
	if err == nil || !strings.Contains(err.Error(), "apply migrations to scratch database: migration 20260101000300 (broken)") ||
		!strings.Contains(err.Error(), `relation "nowhere" does not exist`) {
		t.Errorf("err = %v, want the failing migration named", err)
	}
}

// TestSnapshotSeesChangesByHand: after a migrated database is changed by
// hand, Diff against the migrated schema names each change, and nothing
// else; the bookkeeping table and other schemas are not part of it.
func TestSnapshotSeesChangesByHand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openFresh(t)
	if _, err := migrations.NewRunner(db, widgetMigrations, nil).Up(ctx, ""); err != nil {
		t.Fatal(err)
	}
	migrated := snapshot(t, db)
	for _, sql := range []string{
		`INSERT INTO schema_migrations (id) VALUES ('20990101000000')`,
		`ALTER TABLE schema_migrations ADD COLUMN by_hand text`,
		`CREATE SCHEMA elsewhere`,
		`CREATE TABLE elsewhere.t (id int PRIMARY KEY)`,
	} {
		if err := db.Exec(sql).Error; err != nil {
			t.Fatal(err)
		}
	}
	wantDrift(t, migrations.Diff(migrated, snapshot(t, db)))

	for _, sql := range []string{
		`ALTER TABLE widgets ADD COLUMN color text`,
		`ALTER TABLE widgets DROP COLUMN note`, // and its index with it
		`ALTER TABLE widgets ALTER COLUMN stock SET DEFAULT 5`,
		`ALTER TABLE widgets ALTER COLUMN stock DROP NOT NULL`,
		`DROP INDEX idx_widgets_name`,
		`CREATE UNIQUE INDEX uq_widgets_name ON widgets (lower(name))`,
		`ALTER TABLE widgets DROP CONSTRAINT chk_widgets_name`,
		`ALTER TABLE widgets ADD CONSTRAINT chk_widgets_stock CHECK (stock >= 0)`,
	} {
		if err := db.Exec(sql).Error; err != nil {
			t.Fatal(err)
		}
	}
	wantDrift(t, migrations.Diff(migrated, snapshot(t, db)),
		"column widgets.color: in the models (text NULL) but no migration creates it",
		"column widgets.note: created by the migrations (text NULL) but not in the models",
		"column widgets.stock: migrations have integer NOT NULL DEFAULT 0; models have integer NULL DEFAULT 5",
		"index widgets.idx_widgets_name: created by the migrations (CREATE INDEX idx_widgets_name ON public.widgets USING btree (name)) but not in the models",
		"index widgets.idx_widgets_note_trgm: created by the migrations (CREATE INDEX idx_widgets_note_trgm ON public.widgets USING gin (note gin_trgm_ops)) but not in the models",
		"index widgets.uq_widgets_name: in the models (CREATE UNIQUE INDEX uq_widgets_name ON public.widgets USING btree (lower((name)::text))) but no migration creates it",
		"constraint widgets.chk_widgets_name: created by the migrations (CHECK (((name)::text <> ''::text))) but not in the models",
		"constraint widgets.chk_widgets_stock: in the models (CHECK ((stock >= 0))) but no migration creates it")
}

func TestFormatDiff(t *testing.T) {
	if got, want := migrations.FormatDiff([]string{"a", "b"}), "  - a\n  - b"; got != want {
		t.Errorf("FormatDiff = %q, want %q", got, want)
	}
}
