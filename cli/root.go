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
	"strings"
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

	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "error:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if isUsageError(err) {
		return 2
	}
	return 1
}

// app holds what the commands share.
type app struct {
	stdout, stderr io.Writer
	configFile     string
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
	level := slog.LevelInfo
	if cfg.Debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Env == config.EnvProduction {
		return slog.New(slog.NewJSONHandler(a.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(a.stderr, opts))
}

// isUsageError recognises cobra's complaints about the command line.
func isUsageError(err error) bool {
	var ue usageError
	if errors.As(err, &ue) {
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "invalid argument", "flag needs an argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// usageError is a command line the command cannot make sense of.
type usageError string

func (e usageError) Error() string { return string(e) }
