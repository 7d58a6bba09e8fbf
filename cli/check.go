package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
	"gorm.io/gorm"

	"github.com/todo-api/todo-api/config"
	"github.com/todo-api/todo-api/database"
	"github.com/todo-api/todo-api/migrations"
	"github.com/todo-api/todo-api/models"
)

// Models lists every GORM model whose table the migrations must build.
var Models = []any{&models.User{}, &models.Todo{}, &models.AuthFailure{}}

func (a *app) migrateCheckCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Exit 1 when migrations are pending or the models and the migrated schema disagree",
		Long: "check builds two scratch databases on the same server, one by running every migration and one\n" +
			"from the GORM models, compares their columns, indexes and constraints, and drops both.\n" +
			"It also reports pending migrations on the configured database.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withRunner(ctx, func(r *migrations.Runner, cfg config.Config) error {
				st, err := r.State(ctx)
				if err != nil {
					return err
				}
				var problems []string
				for _, m := range st.Pending {
					problems = append(problems, fmt.Sprintf("pending migration %s: %s", m.ID, m.Description))
				}
				for _, id := range st.Unknown {
					problems = append(problems, fmt.Sprintf("applied migration %s is unknown to this build", id))
				}
				urls, err := database.ResolveURLs(cfg.DatabaseURL, cfg.DatabaseURLUnpooled)
				if err != nil {
					return err
				}
				drift, err := CheckModels(ctx, urls.Direct, migrations.All(), Models, a.newLogger(cfg))
				if err != nil {
					return err
				}
				problems = append(problems, drift...)
				if len(problems) > 0 {
					fmt.Fprintf(a.stdout, "check failed:\n%s\n", migrations.FormatDiff(problems))
					return &exitError{code: 1, err: fmt.Errorf("%d problem(s) found", len(problems))}
				}
				fmt.Fprintln(a.stdout, "ok: no pending migrations, and the models match the migrated schema")
				return nil
			})
		},
	}
}

// CheckModels builds the schema twice in scratch databases on the server of
// serverURL, once with the migrations and once from the models, and returns
// the differences (none means they agree). The scratch databases are dropped.
func CheckModels(ctx context.Context, serverURL string, ms []migrations.Migration, modelList []any, log *slog.Logger) ([]string, error) {
	suffix := make([]byte, 4)
	rand.Read(suffix)
	base := "todo_check_" + hex.EncodeToString(suffix)

	fromMigrations, dropM, err := scratchDB(ctx, serverURL, base+"_migrations", log)
	if err != nil {
		return nil, err
	}
	defer dropM()
	fromModels, dropG, err := scratchDB(ctx, serverURL, base+"_models", log)
	if err != nil {
		return nil, err
	}
	defer dropG()

	if _, err := migrations.NewRunner(fromMigrations, ms, log).Up(ctx, ""); err != nil {
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
	// The one sanctioned AutoMigrate: into a scratch database, to learn what
	// the models describe.
	if err := fromModels.WithContext(ctx).AutoMigrate(modelList...); err != nil {
		// The models need something the migrations never create (a type,
		// an operator class from a missing extension): that is drift too.
		return []string{fmt.Sprintf("the models cannot be built where the migrations ran (%s): %s", strings.Join(exts, ", "), database.Describe(err))}, nil
	}
	want, err := migrations.Snapshot(ctx, fromMigrations)
	if err != nil {
		return nil, err
	}
	got, err := migrations.Snapshot(ctx, fromModels)
	if err != nil {
		return nil, err
	}
	return migrations.Diff(want, got), nil
}

// scratchDB creates an empty database next to the one in serverURL and
// returns a handle and a function that closes and drops it.
func scratchDB(ctx context.Context, serverURL, name string, log *slog.Logger) (*gorm.DB, func(), error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, nil, errors.New("database URL is not a valid URL")
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return nil, nil, fmt.Errorf("connect to create scratch database: %s", database.Describe(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, nil, fmt.Errorf("create scratch database %s (check needs CREATEDB): %s", name, database.Describe(err))
	}
	drop := func() {
		c, err := pgx.Connect(context.WithoutCancel(ctx), admin.String())
		if err != nil {
			log.Warn("drop scratch database", "database", name, "err", database.Describe(err))
			return
		}
		defer c.Close(context.WithoutCancel(ctx))
		if _, err := c.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			log.Warn("drop scratch database", "database", name, "err", database.Describe(err))
		}
	}
	scratch := *u
	scratch.Path = "/" + name
	db, err := database.Open(ctx, database.Options{URL: scratch.String(), MaxOpenConns: 3, MaxIdleConns: 3, StartupTimeout: 10e9, Logger: log})
	if err != nil {
		drop()
		return nil, nil, err
	}
	return db, func() { closeDB(db); drop() }, nil
}

// snakeCase turns "Add tags to todos" into "add_tags_to_todos".
func snakeCase(s string) string {
	var b strings.Builder
	lastUnderscore := true
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			lastUnderscore = false
		case !lastUnderscore:
			b.WriteByte('_')
			lastUnderscore = true
		}
	}
	return strings.Trim(b.String(), "_")
}
