package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/todo-api/todo-api/config"
	"github.com/todo-api/todo-api/database"
	"github.com/todo-api/todo-api/internal/pglocal"
	"github.com/todo-api/todo-api/migrations"
	"github.com/todo-api/todo-api/server"
)

func (a *app) serveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API (applies pending migrations first unless AUTO_MIGRATE=false)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, a.newLogger(cfg))
		},
	}
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	start := time.Now()
	if useEmbedded(cfg) {
		log.Info("no database configured and none answers on 127.0.0.1:5432: starting a private PostgreSQL under ./.data/")
		pg, err := pglocal.Start(ctx, ".data")
		if err != nil {
			return err
		}
		defer func() {
			if err := pg.Stop(); err != nil {
				log.Warn("stop the private PostgreSQL", "err", err)
			} else {
				log.Info("private PostgreSQL stopped")
			}
		}()
		cfg.DatabaseURL, cfg.DatabaseURLUnpooled = pg.URL, ""
		log.Info("private PostgreSQL ready", "url", config.MaskURL(pg.URL))
	}
	if cfg.SigningSecret == "" {
		// Only development gets here (production refuses to start without
		// a secret): a random secret kept on disk, so tokens and cursors
		// survive a restart and nothing needs configuring.
		secret, generated, err := config.LoadOrCreateSecret(config.DevSecretFile)
		if err != nil {
			return fmt.Errorf("BETTER_AUTH_SECRET is not set and the development secret is unusable: %w", err)
		}
		cfg.SigningSecret = secret
		if generated {
			log.Info("BETTER_AUTH_SECRET not set: generated a random development secret", "file", config.DevSecretFile)
		} else {
			log.Info("BETTER_AUTH_SECRET not set: using the development secret", "file", config.DevSecretFile)
		}
	}
	urls, err := database.ResolveURLs(cfg.DatabaseURL, cfg.DatabaseURLUnpooled)
	if err != nil {
		return err
	}
	log.Info("starting", "project", cfg.ProjectName, "env", cfg.Env, "database", config.MaskURL(urls.Serve))
	switch {
	case cfg.NeonAuthBaseURL != "":
		log.Info("accepting Neon Auth tokens", "jwks", cfg.BetterAuthJWKSURL, "issuer", cfg.BetterAuthIssuer, "audience", cfg.BetterAuthAudience, "local_accounts", cfg.LocalAuth)
	case cfg.BetterAuthURL != "":
		log.Info("accepting Better Auth tokens", "jwks", cfg.BetterAuthJWKSURL, "issuer", cfg.BetterAuthIssuer, "audience", cfg.BetterAuthAudience, "local_accounts", cfg.LocalAuth)
	}

	db, connected, err := database.Connect(database.Options{
		URL:             urls.Serve,
		MaxOpenConns:    cfg.DBMaxOpenConns,
		MaxIdleConns:    cfg.DBMaxIdleConns,
		ConnMaxLifetime: cfg.DBConnMaxLifetime,
		ConnMaxIdleTime: cfg.DBConnMaxIdleTime,
		ConnectTimeout:  cfg.DBConnectTimeout,
		StartupTimeout:  cfg.DBStartupTimeout,
		QueryExecMode:   cfg.DBQueryExecMode,
		CreateIfMissing: cfg.Env == config.EnvDevelopment,
		Debug:           cfg.Debug,
		Logger:          log,
	})
	if err != nil {
		return err
	}
	// The router (the OpenAPI document, the services, the metrics) needs
	// the handle but not the database: it is built while the database
	// answers, which takes about as long, instead of after it.
	type built struct {
		app *server.Server
		err error
	}
	appc := make(chan built, 1)
	go func() { //nolint:contextcheck // building the router runs no request: its handlers take each request's context
		app, err := server.New(cfg, db, log)
		appc <- built{app, err}
	}()
	if err := connected(ctx); err != nil {
		<-appc
		return err
	}
	defer closeDB(db)

	if cfg.AutoMigrate {
		// The usual start finds the schema at head: one query on the pool
		// just opened says so, and start-up (a serverless instance woken by
		// a request) skips the direct connection and the migration lock.
		// Anything else goes through the runner, under the lock.
		st, err := migrations.NewRunner(db, migrations.All(), nil).State(ctx)
		if err != nil || !st.AtHead() {
			if err := migrateAtStart(ctx, cfg, log); err != nil {
				return err
			}
		} else {
			log.Info("schema at head", "applied_now", 0)
		}
	}

	b := <-appc
	if b.err != nil {
		return b.err
	}
	app := b.app
	if cfg.MetricsAddr != "" {
		stop, err := serveMetrics(cfg.MetricsAddr, app.Metrics, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	go app.Sweep(ctx, cfg.AuthFailureWindow, log)
	go app.RefreshKeys(ctx)
	srv := &http.Server{
		Addr:              net.JoinHostPort("", strconv.Itoa(cfg.Port)),
		Handler:           app.Handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		// Headers are small here (a token is at most 8 KiB, see
		// controllers); Go's default of 1 MB lets every request carry a
		// megabyte to parse.
		MaxHeaderBytes: 32 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "startup", time.Since(start).Round(time.Millisecond))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Readiness first, so that load balancers stop routing here; then the
	// listener closes and in-flight requests finish (bounded); the pool
	// closes last, when serve returns.
	app.StartDraining()
	log.Info("shutting down: readiness off", "drain_delay", cfg.ShutdownDrainDelay, "timeout", cfg.ShutdownTimeout)
	time.Sleep(cfg.ShutdownDrainDelay)
	// ctx is done by now; the shutdown gets a deadline of its own.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: in-flight requests did not finish within %s: %w", cfg.ShutdownTimeout, err)
	}
	log.Info("stopped: all in-flight requests answered")
	return nil
}

// useEmbedded decides whether serve runs its own PostgreSQL: always when
// asked, never when told not to, and otherwise only when the database is
// the built-in default and nothing answers there.
func useEmbedded(cfg config.Config) bool {
	switch cfg.EmbeddedPostgres {
	case "always":
		return true
	case "never":
		return false
	}
	return cfg.DatabaseURL == config.DefaultDatabaseURL && cfg.DatabaseURLUnpooled == "" && !database.Answers("127.0.0.1:5432")
}

// serveMetrics serves /metrics and /debug/pprof/ on their own listener
// (METRICS_ADDR), for a scraper or an operator on a private network; stop
// closes it.
func serveMetrics(addr string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	// Profiles, for finding where a request's time goes under load
	// (`go tool pprof http://METRICS_ADDR/debug/pprof/profile`): only on
	// this private listener, never on the API's port.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDR: listen on %s: %w", addr, err)
	}
	log.Info("metrics listening", "addr", ln.Addr().String())
	go srv.Serve(ln)
	return func() { srv.Close() }, nil
}

// migrateAtStart applies pending migrations over the direct URL, under the
// migration lock, so that of several instances starting at once exactly
// one applies them and the others wait.
func migrateAtStart(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	mdb, err := openMigrationDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeDB(mdb)
	applied, err := migrations.NewRunner(mdb, migrations.All(), log).Up(ctx, "")
	if err != nil {
		return fmt.Errorf("auto-migrate: %w", err)
	}
	log.Info("schema at head", "applied_now", len(applied))
	return nil
}
