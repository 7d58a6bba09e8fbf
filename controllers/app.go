package controllers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"gorm.io/gorm"

	"github.com/todo-api/todo-api/config"
	"github.com/todo-api/todo-api/migrations"
	"github.com/todo-api/todo-api/services"
)

// App is the HTTP side of the service: the handler, the metrics handler,
// and the switch that turns readiness off while shutting down.
type App struct {
	Handler http.Handler
	Metrics http.Handler
	// drain is closed when shutdown begins.
	drain     chan struct{}
	drainOnce sync.Once
	auth      *services.Auth
	todos     *services.Todos
	budget    *services.ClientLimiter
}

// Sweep deletes expired failed-password counters, full request budgets,
// expired Idempotency-Keys and logged-out tokens past their expiry now and
// then. Every instance runs it; the statements are
// cheap, indexed and idempotent, so that costs nothing and needs no leader.
func (a *App) Sweep(ctx context.Context, every time.Duration, log *slog.Logger) {
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
			if _, err := a.budget.Sweep(ctx); err != nil && ctx.Err() == nil {
				log.Warn("sweep full auth request budgets", "err", err)
			}
			if _, err := a.todos.SweepIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
				log.Warn("sweep expired idempotency keys", "err", err)
			}
			if _, err := a.auth.SweepRevokedTokens(ctx); err != nil && ctx.Err() == nil {
				log.Warn("sweep expired logged-out tokens", "err", err)
			}
		}
	}
}

// RefreshKeys keeps the Better Auth signing keys fresh until ctx ends (a
// no-op where Better Auth tokens are not accepted).
func (a *App) RefreshKeys(ctx context.Context) { a.auth.RunBetterAuthKeys(ctx) }

// betterAuthOptions are the Better Auth (or Neon Auth) settings of cfg;
// nil when neither BETTER_AUTH_URL nor NEON_AUTH_BASE_URL is set.
func betterAuthOptions(cfg config.Config, log *slog.Logger) *services.BetterAuthOptions {
	if !cfg.ExternalAuth() {
		return nil
	}
	var algs []string
	if cfg.NeonAuthBaseURL != "" {
		algs = []string{config.NeonAuthAlgorithm}
	}
	return &services.BetterAuthOptions{
		Algorithms: algs,
		JWKSURL:    cfg.BetterAuthJWKSURL,
		Issuer:     cfg.BetterAuthIssuer,
		Audience:   cfg.BetterAuthAudience,
		Refresh:    cfg.BetterAuthJWKSRefresh,
		MinRefresh: cfg.BetterAuthJWKSMinRefresh,
		Log:        log,
	}
}

// StartDraining makes /readyz answer 503 so load balancers stop sending
// new requests before the listener closes.
func (a *App) StartDraining() { a.drainOnce.Do(func() { close(a.drain) }) }

// NewApp wires the services over db into the HTTP router, with
// Prometheus metrics of the requests, the Go runtime and the pool.
func NewApp(cfg config.Config, db *gorm.DB, log *slog.Logger) (*App, error) {
	auth, err := services.NewAuth(db, services.AuthOptions{
		Secret:     []byte(cfg.SigningSecret),
		TokenTTL:   cfg.AccessTokenTTL,
		BcryptCost: cfg.BcryptCost,
		Issuer:     cfg.TokenIssuer,
		Audience:   cfg.TokenAudience,
		Failures: services.FailureLimits{
			PerAccount: cfg.AuthFailureLimit,
			PerClient:  cfg.AuthFailureClientLimit,
			Window:     cfg.AuthFailureWindow,
		},
		Cache:           services.NewUserCache(cfg.AuthCacheTTL, nil),
		BetterAuth:      betterAuthOptions(cfg, log),
		Registrations:   services.NewRegistrationLimiter(db, cfg.RegisterLimit, []byte(cfg.SigningSecret)),
		HashConcurrency: cfg.BcryptConcurrency,
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
	budget := services.NewClientLimiter(db, cfg.AuthRateLimit, cfg.AuthRateBurst, []byte(cfg.SigningSecret))
	todos := services.NewTodos(db, cursorKey(cfg.SigningSecret), nil).KeepIdempotencyKeys(cfg.IdempotencyKeyTTL).LimitLists(cfg.ListTimeout, cfg.ListConcurrency).
		BudgetCreates(cfg.TodoCreateRate, cfg.TodoCreateBurst, cfg.MaxTodosPerUser)
	router, err := NewRouter(Deps{
		Config:  cfg,
		Log:     log,
		Ready:   readiness{db: db, drain: drain},
		Auth:    auth,
		Users:   services.NewUsers(db, auth),
		Todos:   todos,
		Budget:  budget,
		Metrics: reg,
	})
	if err != nil {
		return nil, err
	}
	return &App{Handler: headAsGet{router}, Metrics: MetricsHandler(reg), drain: drain, auth: auth, todos: todos, budget: budget}, nil
}

// cursorKey derives the pagination cursor signing key from the auth
// secret, so that the two uses never share a key.
func cursorKey(secret string) []byte {
	return services.DeriveKey([]byte(secret), "todo-api pagination cursors")
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
