package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gorm.io/gorm"

	"github.com/todo-api/todo-api/config"
	"github.com/todo-api/todo-api/database"
	"github.com/todo-api/todo-api/migrations"
)

func (a *app) migrateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Manage the database schema (always on the direct, unpooled URL)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.Help()
			return usageError("missing subcommand (up, down, status, current, history, stamp, new, sql, check)")
		},
	}
	cmd.AddCommand(
		a.migrateUpCommand(),
		a.migrateDownCommand(),
		a.migrateStatusCommand(),
		a.migrateCurrentCommand(),
		a.migrateHistoryCommand(),
		a.migrateStampCommand(),
		a.migrateNewCommand(),
		a.migrateSQLCommand(),
		a.migrateCheckCommand(),
	)
	cmd.PersistentFlags().BoolVarP(&a.verbose, "verbose", "v", false, "log progress (connections, each migration) to stderr")
	return cmd
}

// migrationDB opens the direct database for migrations: a pooled URL is
// turned into the direct one, since the lock is a session advisory lock.
func (a *app) migrationDB(ctx context.Context) (*migrations.Runner, *gorm.DB, config.Config, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, nil, cfg, err
	}
	log := a.migrateLogger(cfg)
	db, err := openMigrationDB(ctx, cfg, log)
	if err != nil {
		return nil, nil, cfg, err
	}
	return migrations.NewRunner(db, migrations.All(), log), db, cfg, nil
}

// withRunner opens the migration database, runs fn and closes it.
func (a *app) withRunner(ctx context.Context, fn func(*migrations.Runner, config.Config) error) error {
	r, db, cfg, err := a.migrationDB(ctx)
	if err != nil {
		return err
	}
	defer closeDB(db)
	return fn(r, cfg)
}

// withState is withRunner for commands that only read the migration state.
func (a *app) withState(ctx context.Context, fn func(migrations.State) error) error {
	return a.withRunner(ctx, func(r *migrations.Runner, _ config.Config) error {
		st, err := r.State(ctx)
		if err != nil {
			return err
		}
		return fn(st)
	})
}

func openMigrationDB(ctx context.Context, cfg config.Config, log *slog.Logger) (*gorm.DB, error) {
	urls, err := database.ResolveURLs(cfg.DatabaseURL, cfg.DatabaseURLUnpooled)
	if err != nil {
		return nil, err
	}
	log.Info("migrations use the direct URL", "url", config.MaskURL(urls.Direct))
	return database.Open(ctx, database.Options{
		URL:             urls.Direct,
		MaxOpenConns:    3, // one pinned for the lock, one for the work, one spare
		MaxIdleConns:    3,
		ConnectTimeout:  cfg.DBConnectTimeout,
		StartupTimeout:  cfg.DBStartupTimeout,
		QueryExecMode:   "auto",
		CreateIfMissing: cfg.Env == config.EnvDevelopment,
		Debug:           cfg.Debug,
		Logger:          log,
	})
}

func closeDB(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
}

func (a *app) migrateUpCommand() *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "up [--to ID]",
		Short: "Apply pending migrations (all, or up to and including --to)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withRunner(cmd.Context(), func(r *migrations.Runner, _ config.Config) error {
				applied, err := r.Up(cmd.Context(), to)
				for _, id := range applied {
					fmt.Fprintf(a.stdout, "applied %s\n", id)
				}
				if err != nil {
					return err
				}
				if len(applied) == 0 {
					fmt.Fprintln(a.stdout, "nothing to apply: the schema is up to date")
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "apply up to and including this migration id (or head)")
	return cmd
}

func (a *app) migrateDownCommand() *cobra.Command {
	var target migrations.DownTarget
	cmd := &cobra.Command{
		Use:   "down [--steps N | --to ID | --all]",
		Short: "Roll back migrations (one step by default)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkDownFlags(cmd, target); err != nil {
				return err
			}
			return a.withRunner(cmd.Context(), func(r *migrations.Runner, _ config.Config) error {
				done, err := r.Down(cmd.Context(), target)
				for _, id := range done {
					fmt.Fprintf(a.stdout, "rolled back %s\n", id)
				}
				if err != nil {
					return err
				}
				if len(done) == 0 {
					fmt.Fprintln(a.stdout, "nothing to roll back")
				}
				return nil
			})
		},
	}
	addDownFlags(cmd, &target)
	return cmd
}

func addDownFlags(cmd *cobra.Command, t *migrations.DownTarget) {
	cmd.Flags().IntVar(&t.Steps, "steps", 1, "roll back this many applied migrations")
	cmd.Flags().StringVar(&t.To, "to", "", "roll back every migration after this id (it stays applied)")
	cmd.Flags().BoolVar(&t.All, "all", false, "roll back every migration")
}

func checkDownFlags(cmd *cobra.Command, t migrations.DownTarget) error {
	n := 0
	for _, f := range []string{"steps", "to", "all"} {
		if cmd.Flags().Changed(f) {
			n++
		}
	}
	if n > 1 {
		return usageError("use only one of --steps, --to and --all")
	}
	if t.Steps < 1 {
		return usageError("--steps must be at least 1")
	}
	return nil
}

func (a *app) migrateStatusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "List every migration with its applied time, or pending; flag unknown ids",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withState(cmd.Context(), func(st migrations.State) error {
				w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tDESCRIPTION\tAPPLIED AT")
				for _, s := range st.Statuses {
					at := "pending"
					if s.Applied {
						at = s.AppliedAt.UTC().Format(time.RFC3339)
					}
					if s.Unknown {
						at += "  UNKNOWN: not in this build"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\n", s.ID, s.Description, at)
				}
				w.Flush()
				fmt.Fprintf(a.stdout, "\n%d applied, %d pending, %d unknown\n", len(st.Statuses)-len(st.Pending)-len(st.Unknown), len(st.Pending), len(st.Unknown))
				if len(st.Unknown) > 0 {
					return &exitError{code: 1, err: fmt.Errorf("%w: %s", migrations.ErrUnknownMigrations, strings.Join(st.Unknown, ", "))}
				}
				return nil
			})
		},
	}
}

func (a *app) migrateCurrentCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "current",
		Short: "Print the newest applied migration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withState(cmd.Context(), func(st migrations.State) error {
				switch {
				case st.Current == "":
					fmt.Fprintln(a.stdout, "none (no migration applied)")
				case st.AtHead():
					fmt.Fprintf(a.stdout, "%s (head)\n", st.Current)
				default:
					fmt.Fprintf(a.stdout, "%s (%d pending)\n", st.Current, len(st.Pending))
				}
				return nil
			})
		},
	}
}

func (a *app) migrateHistoryCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "history",
		Short: "List the migrations of this build, oldest first, marking the current one and head",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withState(cmd.Context(), func(st migrations.State) error {
				all := migrations.All()
				for i, m := range all {
					var marks []string
					if m.NoTransaction {
						marks = append(marks, "no transaction")
					}
					if m.ID == st.Current {
						marks = append(marks, "current")
					}
					if i == len(all)-1 {
						marks = append(marks, "head")
					}
					state := "pending"
					if st.Statuses[i].Applied {
						state = "applied"
					}
					suffix := ""
					if len(marks) > 0 {
						suffix = " (" + strings.Join(marks, ", ") + ")"
					}
					fmt.Fprintf(a.stdout, "%s  %-7s  %s%s\n", m.ID, state, m.Description, suffix)
				}
				return nil
			})
		},
	}
}

func (a *app) migrateStampCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "stamp ID|head",
		Short: "Record migrations up to ID as applied (and later ones as not) without running them",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withRunner(cmd.Context(), func(r *migrations.Runner, _ config.Config) error {
				idx, err := r.Resolve(args[0])
				if err != nil {
					return usageError(err.Error())
				}
				if err := r.Stamp(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "stamped %s: recorded as applied without running any SQL\n", migrations.All()[idx].ID)
				return nil
			})
		},
	}
}

func (a *app) migrateSQLCommand() *cobra.Command {
	var target migrations.DownTarget
	var to string
	cmd := &cobra.Command{
		Use:   "sql [up|down] [--to ID | --steps N | --all]",
		Short: "Print the SQL that up (default) or down would run, without running it",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			direction := migrations.Up
			if len(args) == 1 {
				direction = migrations.Direction(args[0])
			}
			if direction != migrations.Up && direction != migrations.Down {
				return usageError(fmt.Sprintf("direction must be up or down, got %q", direction))
			}
			if direction == migrations.Down {
				target.To = to
				if err := checkDownFlags(cmd, target); err != nil {
					return err
				}
			} else if cmd.Flags().Changed("steps") || cmd.Flags().Changed("all") {
				return usageError("--steps and --all apply to sql down only")
			}
			return a.withRunner(cmd.Context(), func(r *migrations.Runner, _ config.Config) error {
				plan, err := r.Plan(cmd.Context(), direction, target, to)
				if err != nil {
					return err
				}
				fmt.Fprint(a.stdout, plan)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "up: up to and including this id; down: back to (excluding) this id")
	cmd.Flags().IntVar(&target.Steps, "steps", 1, "down: this many migrations")
	cmd.Flags().BoolVar(&target.All, "all", false, "down: every migration")
	return cmd
}
