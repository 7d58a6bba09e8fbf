package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"
	"gorm.io/gorm"

	"github.com/todo-api/todo-api/config"
	"github.com/todo-api/todo-api/database"
	"github.com/todo-api/todo-api/migrations"
	"github.com/todo-api/todo-api/models"
)

// Models lists every GORM model whose table the migrations must build.
var Models = []any{&models.User{}, &models.Todo{}, &models.AuthFailure{}, &models.IdempotencyKey{}, &models.AuthRateLimit{}, &models.RevokedToken{}, &models.TodoCount{}, &models.CreateBudget{}}

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
				drift, err := CheckModels(ctx, urls.Direct, migrations.All(), Models, a.migrateLogger(cfg))
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
	return migrations.Drift(ctx, fromMigrations, fromModels, ms, modelList)
}

// scratchDB creates an empty database next to the one in serverURL and
// returns a handle and a function that closes and drops it.
func scratchDB(ctx context.Context, serverURL, name string, log *slog.Logger) (*gorm.DB, func(), error) {
	adminURL, err := database.WithDatabase(serverURL, "postgres")
	if err != nil {
		return nil, nil, errors.New("database URL is not a valid URL")
	}
	scratchURL, err := database.CreateDatabase(ctx, adminURL, name)
	if err != nil {
		var connectErr *pgconn.ConnectError
		if errors.As(err, &connectErr) {
			return nil, nil, fmt.Errorf("connect to create scratch database: %s", database.Describe(err))
		}
		return nil, nil, fmt.Errorf("create scratch database %s (check needs CREATEDB): %s", name, database.Describe(err))
	}
	drop := func() {
		if err := database.DropDatabase(context.WithoutCancel(ctx), adminURL, name); err != nil {
			log.Warn("drop scratch database", "database", name, "err", database.Describe(err))
		}
	}
	db, err := database.Open(ctx, database.Options{URL: scratchURL, MaxOpenConns: 3, MaxIdleConns: 3, StartupTimeout: 10e9, Logger: log})
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
