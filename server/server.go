// Package server is the composition root: it builds the services from the
// configuration, hands them to the HTTP router, and owns what runs beside
// the requests (the sweeps, the key refresh, readiness). `serve` and the
// HTTP tests wire the service through New, so both run the same thing.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"gorm.io/gorm"

	"github.com/todo-api/todo-api/config"
	"github.com/todo-api/todo-api/controllers"
	"github.com/todo-api/todo-api/services"
)

// Server is the service wired over one database: the HTTP handler, the
// metrics handler, and the work that runs beside the requests.
type Server struct {
	Handler http.Handler
	Metrics http.Handler
	// Deps are what Handler was built from.
	Deps controllers.Deps
	// drain is closed when shutdown begins.
	drain     chan struct{}
	drainOnce sync.Once
	auth      *services.Auth
	todos     *services.Todos
	budget    *services.ClientLimiter
}

// New builds the services of cfg over db and the router over them, with
// Prometheus metrics of the requests, the Go runtime and the pool.
func New(cfg config.Config, db *gorm.DB, log *slog.Logger) (*Server, error) {
	s, err := Wire(cfg, db, log)
	if err != nil {
		return nil, err
	}
	if s.Handler, err = controllers.NewRouter(s.Deps); err != nil {
		return nil, err
	}
	return s, nil
}

// Wire is New without the router: Deps are set and Handler is not, for a
// test that replaces a service before it builds the router itself.
func Wire(cfg config.Config, db *gorm.DB, log *slog.Logger) (*Server, error) {
	// The limits are config's (config.Load checks them too); a Config
	// built or changed by hand is held to the same rules.
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	secret := []byte(cfg.SigningSecret)
	auth, err := services.NewAuth(db, services.AuthOptions{
		Secret:     secret,
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
		Registrations:   services.NewRegistrationLimiter(db, cfg.RegisterLimit, secret),
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
	budget := services.NewClientLimiter(db, cfg.AuthRateLimit, cfg.AuthRateBurst, secret)
	todos := services.NewTodos(db, services.DeriveKey(secret, "todo-api pagination cursors"), cfg.IdempotencyKeyTTL, nil).
		LimitLists(cfg.ListTimeout, cfg.ListConcurrency).
		BudgetCreates(cfg.TodoCreateRate, cfg.TodoCreateBurst, cfg.MaxTodosPerUser)
	deps := controllers.Deps{
		Log:              log,
		Ready:            readiness{db: db, drain: drain},
		Auth:             auth,
		Users:            services.NewUsers(db, auth),
		Todos:            todos,
		Budget:           budget,
		Metrics:          reg,
		APIPrefix:        cfg.APIV1Prefix,
		ProjectName:      cfg.ProjectName,
		AllowedOrigins:   cfg.AllowedOrigins,
		TrustedProxies:   cfg.TrustedProxies,
		MaxBodyBytes:     cfg.MaxBodyBytes,
		RequestTimeout:   cfg.RequestTimeout,
		AuthRateLimit:    cfg.AuthRateLimit,
		AuthRateBurst:    cfg.AuthRateBurst,
		LocalAuth:        cfg.LocalAuth,
		MetricsOnAPIPort: cfg.Env == config.EnvDevelopment && cfg.MetricsAddr == "",
	}
	return &Server{Deps: deps, Metrics: controllers.MetricsHandler(reg), drain: drain, auth: auth, todos: todos, budget: budget}, nil
}

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
		Algorithms:   algs,
		JWKSURL:      cfg.BetterAuthJWKSURL,
		Issuer:       cfg.BetterAuthIssuer,
		Audience:     cfg.BetterAuthAudience,
		Refresh:      cfg.BetterAuthJWKSRefresh,
		MinRefresh:   cfg.BetterAuthJWKSMinRefresh,
		FetchTimeout: cfg.BetterAuthJWKSFetchTimeout,
		Log:          log,
	}
}

// Sweep deletes expired failed-password counters, full request budgets,
// expired Idempotency-Keys and logged-out tokens past their expiry now and
// then. Every instance runs it; the statements are cheap, indexed and
// idempotent, so that costs nothing and needs no leader.
func (s *Server) Sweep(ctx context.Context, every time.Duration, log *slog.Logger) {
	sweeps := []struct {
		what  string
		sweep func(context.Context) (int64, error)
	}{
		{"expired password-attempt counters", s.auth.SweepFailures},
		{"full auth request budgets", s.budget.Sweep},
		{"expired idempotency keys", s.todos.SweepIdempotencyKeys},
		{"expired logged-out tokens", s.auth.SweepRevokedTokens},
	}
	t := time.NewTicker(min(every, 5*time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, sw := range sweeps {
				if _, err := sw.sweep(ctx); err != nil && ctx.Err() == nil {
					log.Warn("sweep "+sw.what, "err", err)
				}
			}
		}
	}
}

// RefreshKeys keeps the Better Auth signing keys fresh until ctx ends (a
// no-op where Better Auth tokens are not accepted).
func (s *Server) RefreshKeys(ctx context.Context) { s.auth.RunBetterAuthKeys(ctx) }

// StartDraining makes /readyz answer 503 so load balancers stop sending
// new requests before the listener closes.
func (s *Server) StartDraining() { s.drainOnce.Do(func() { close(s.drain) }) }
