// Package cli is the command line: `serve` and the `migrate` family.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/todo-api/todo-api/config"
)

// exitError carries a specific exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Run executes the command line and returns the process exit status:
// 0 success, 1 failure (or `migrate check` found a difference), 2 usage.
func Run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	app := &app{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "todo-api",
		Short:         "A REST API for todo applications on PostgreSQL",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&app.configFile, "config", "", "path to a YAML config file (default ./config.yaml when present)")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	root.AddCommand(app.serveCommand(), app.migrateCommand())
	// Cobra's own complaints about the command line become usage errors
	// where they arise, so that no one has to recognise its wording.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err.Error()) })
	usageArgs(root)

	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "error:", err)
	var ee *exitError
	var ue usageError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		return 2
	case cmd == root:
		// The root runs nothing itself: what stops there is cobra failing
		// to find the command named (todo-api nope).
		return 2
	}
	return 1
}

// usageArgs makes the argument checks of cmd and its subcommands return
// usage errors.
func usageArgs(cmd *cobra.Command) {
	if check := cmd.Args; check != nil {
		cmd.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError(err.Error())
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		usageArgs(sub)
	}
}

// app holds what the commands share.
type app struct {
	stdout, stderr io.Writer
	configFile     string
	// verbose logs the migrate commands' progress (--verbose).
	verbose bool
}

func (a *app) loadConfig() (config.Config, error) {
	cfg, err := config.Load(config.Options{ConfigFile: a.configFile})
	if err != nil {
		return cfg, &exitError{code: 1, err: fmt.Errorf("configuration:\n%w", err)}
	}
	return cfg, nil
}

// newLogger writes JSON in production and text in development, to stderr so
// that command output on stdout stays clean.
func (a *app) newLogger(cfg config.Config) *slog.Logger {
	return a.logger(cfg, slog.LevelInfo)
}

// migrateLogger is the logger of the migrate commands, which print their
// results on stdout and keep stderr for warnings and errors: progress
// (connections, each migration) only with --verbose, and SQL with DEBUG.
func (a *app) migrateLogger(cfg config.Config) *slog.Logger {
	if a.verbose {
		return a.logger(cfg, slog.LevelInfo)
	}
	return a.logger(cfg, slog.LevelWarn)
}

// logger writes at level and above, or from debug up when DEBUG is set.
func (a *app) logger(cfg config.Config, level slog.Level) *slog.Logger {
	if cfg.Debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Env == config.EnvProduction {
		return slog.New(slog.NewJSONHandler(a.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(a.stderr, opts))
}

// usageError is a command line the command cannot make sense of.
type usageError string

func (e usageError) Error() string { return string(e) }
