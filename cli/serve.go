package cli

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"gorm.io/gorm"

	"github.com/todo-api/todo-api/config"
	"github.com/todo-api/todo-api/controllers"
	"github.com/todo-api/todo-api/database"
	"github.com/todo-api/todo-api/migrations"
	"github.com/todo-api/todo-api/services"
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
		pg, err := database.StartEmbedded(".data")
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
	if cfg.BetterAuthSecret == "" {
		// Only development gets here (production refuses to start without
		// a secret): a random secret kept on disk, so tokens and cursors
		// survive a restart and nothing needs configuring.
		secret, generated, err := config.LoadOrCreateSecret(config.DevSecretFile)
		if err != nil {
			return fmt.Errorf("BETTER_AUTH_SECRET is not set and the development secret is unusable: %w", err)
		}
		cfg.BetterAuthSecret = secret
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

	if cfg.AutoMigrate {
		mdb, err := openMigrationDB(ctx, cfg, log)
		if err != nil {
			return err
		}
		applied, err := migrations.NewRunner(mdb, migrations.All(), log).Up(ctx, "")
		closeDB(mdb)
		if err != nil {
			return fmt.Errorf("auto-migrate: %w", err)
		}
		log.Info("schema at head", "applied_now", len(applied))
	}

	db, err := database.Open(ctx, database.Options{
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
	defer closeDB(db)

	app, err := NewHandler(cfg, db, log)
	if err != nil {
		return err
	}
	if cfg.MetricsAddr != "" {
		stop, err := serveMetrics(cfg.MetricsAddr, app.Metrics, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	go app.sweep(ctx, cfg.AuthFailureWindow, log)
	srv := &http.Server{
		Addr:              net.JoinHostPort("", strconv.Itoa(cfg.Port)),
		Handler:           app.Handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
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
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
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

// App is the HTTP side of the service: the handler, the metrics handler,
// and the switch that turns readiness off while shutting down.
type App struct {
	Handler http.Handler
	Metrics http.Handler
	// drain is closed when shutdown begins.
	drain     chan struct{}
	drainOnce sync.Once
	auth      *services.Auth
}

// serveMetrics serves /metrics on its own listener (METRICS_ADDR), for a
// scraper on a private network; stop closes it.
func serveMetrics(addr string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDR: listen on %s: %w", addr, err)
	}
	log.Info("metrics listening", "addr", ln.Addr().String())
	go srv.Serve(ln)
	return func() { srv.Close() }, nil
}

// sweep deletes expired failed-password counters now and then. Every
// instance runs it; the statement is cheap and idempotent, so that costs
// nothing and needs no leader.
func (a *App) sweep(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(min(every, 5*time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := a.auth.SweepFailures(ctx); err != nil && ctx.Err() == nil {
				log.Warn("sweep expired password-attempt counters", "err", err)
			}
		}
	}
}

// StartDraining makes /readyz answer 503 so load balancers stop sending
// new requests before the listener closes.
func (a *App) StartDraining() { a.drainOnce.Do(func() { close(a.drain) }) }

// NewHandler wires the services over db into the HTTP router, with
// Prometheus metrics of the requests, the Go runtime and the pool.
func NewHandler(cfg config.Config, db *gorm.DB, log *slog.Logger) (*App, error) {
	auth, err := services.NewAuth(db, services.AuthOptions{
		Secret:     []byte(cfg.BetterAuthSecret),
		TokenTTL:   cfg.AccessTokenTTL,
		BcryptCost: cfg.BcryptCost,
		Issuer:     cfg.TokenIssuer,
		Audience:   cfg.TokenAudience,
		Failures: services.FailureLimits{
			PerAccount: cfg.AuthFailureLimit,
			PerClient:  cfg.AuthFailureClientLimit,
			Window:     cfg.AuthFailureWindow,
		},
		Cache: services.NewUserCache(cfg.AuthCacheTTL, nil),
	})
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(sqlDB, "todo"),
	)
	drain := make(chan struct{})
	router, err := controllers.NewRouter(controllers.Deps{
		Config:  cfg,
		Log:     log,
		Ready:   readiness{db: db, drain: drain},
		Auth:    auth,
		Users:   services.NewUsers(db, auth),
		Todos:   services.NewTodos(db, cursorKey(cfg.BetterAuthSecret), nil),
		Metrics: reg,
	})
	if err != nil {
		return nil, err
	}
	return &App{Handler: router, Metrics: controllers.MetricsHandler(reg), drain: drain, auth: auth}, nil
}

// cursorKey derives the pagination cursor signing key from the auth
// secret, so that the two uses never share a key.
func cursorKey(secret string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("todo-api pagination cursors"))
	return mac.Sum(nil)
}

// readiness answers /readyz: "shutting down" from the moment shutdown
// begins; otherwise the database answers within a second on one pooled
// connection, and the schema is at the newest migration of this build.
type readiness struct {
	db *gorm.DB
	// drain is closed when shutdown begins.
	drain <-chan struct{}
}

// Ready answers "shutting down" as soon as draining starts, also to a probe
// still waiting on the database. Checking the flag only before the check
// let a probe that began just before the signal answer 200 most of a second
// into the drain; a load balancer that probes one request at a time then
// learned of the shutdown that much later, or, on an overloaded machine,
// not before the listener had closed.
func (r readiness) Ready(ctx context.Context) error {
	shuttingDown := errors.New("shutting down")
	select {
	case <-r.drain:
		return shuttingDown
	default:
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.checkDatabase(ctx) }()
	select {
	case <-r.drain:
		return shuttingDown
	case err := <-done:
		select {
		case <-r.drain:
			return shuttingDown
		default:
			return err
		}
	}
}

// checkDatabase reads the schema state on one pooled connection and gives
// the database a second to answer once that connection is in hand. Waiting
// for the connection is queueing behind the requests being served, not the
// database failing: when the ping and the state's two queries each queued
// for a connection of their own within the one second, a saturated pool on
// an overloaded machine made readiness report "database unreachable" while
// every request succeeded. The wait is bounded by the prober's own timeout
// and by readyPoolWait.
func (r readiness) checkDatabase(ctx context.Context) error {
	sqlDB, err := r.db.DB()
	if err != nil {
		return err
	}
	waitCtx, cancelWait := context.WithTimeout(ctx, readyPoolWait)
	defer cancelWait()
	held := false
	var st migrations.State
	err = r.db.WithContext(waitCtx).Connection(func(tx *gorm.DB) error {
		held = true
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		var err error
		st, err = migrations.NewRunner(tx, migrations.All(), nil).State(ctx)
		return err
	})
	pool := sqlDB.Stats()
	switch {
	case err == nil:
	case !held && waitCtx.Err() != nil && pool.MaxOpenConnections > 0 && pool.InUse >= pool.MaxOpenConnections:
		return fmt.Errorf("database busy: no pooled connection came free within %s", readyPoolWait)
	default:
		return errors.New("database unreachable")
	}
	if !st.AtHead() {
		return fmt.Errorf("schema behind: %d migration(s) pending, %d unknown; run `migrate up`", len(st.Pending), len(st.Unknown))
	}
	return nil
}

// readyPoolWait bounds how long a readiness probe waits for a pooled
// connection while every one is in use.
const readyPoolWait = 5 * time.Second
