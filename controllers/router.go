// Package controllers holds the Gin handlers: each binds a request struct,
// calls a service with the request's context, and renders a response struct
// or hands the error to the one error writer (writeError).
package controllers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-contrib/cors"
	"github.com/gin-gonic/gin"

	"github.com/todo-api/todo-api/config"
)

// ReadinessChecker reports whether the service can serve traffic.
type ReadinessChecker interface {
	Ready(ctx context.Context) error
}

// Deps are what the router needs.
type Deps struct {
	Config config.Config
	Log    *slog.Logger
	Ready  ReadinessChecker
	Auth   AuthService
	Users  UserService
	Todos  TodoService
}

// NewRouter builds the HTTP handler with every route and middleware.
func NewRouter(d Deps) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// Trust no proxy headers by default: the client IP (rate limits, logs)
	// is the peer address.
	r.SetTrustedProxies(nil)
	r.ForwardedByClientIP = false

	r.Use(requestID(d.Log), accessLog(), recoverPanics(), securityHeaders(), corsPolicy(d.Config.AllowedOrigins))
	r.NoRoute(func(c *gin.Context) {
		writeProblem(c, http.StatusNotFound, "No route matches "+c.Request.Method+" "+c.Request.URL.Path+".", nil)
	})
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, http.StatusMethodNotAllowed, "Method "+c.Request.Method+" is not allowed on "+c.Request.URL.Path+".", nil)
	})

	r.GET("/healthz", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	r.GET("/readyz", func(c *gin.Context) {
		if err := d.Ready.Ready(c.Request.Context()); err != nil {
			c.Header("Retry-After", "5")
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "reason": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	})

	maxBytes := d.Config.MaxBodyBytes
	api := r.Group(d.Config.APIV1Prefix, timeout(d.Config.RequestTimeout))

	limiter := newIPLimiter(d.Config.AuthRateLimit, d.Config.AuthRateBurst)
	auth := authHandlers{auth: d.Auth, maxBytes: maxBytes}
	authGroup := api.Group("/auth", rateLimit(limiter))
	authGroup.POST("/register", auth.register)
	authGroup.POST("/login", auth.login)

	private := api.Group("", requireUser(d.Auth))
	users := userHandlers{users: d.Users, maxBytes: maxBytes}
	private.GET("/users/me", users.me)
	private.PATCH("/users/me", users.update)
	private.DELETE("/users/me", users.deactivate)

	todos := todoHandlers{todos: d.Todos, maxBytes: maxBytes, prefix: d.Config.APIV1Prefix}
	private.GET("/todos", todos.list)
	private.POST("/todos", todos.create)
	private.POST("/todos/batch", todos.createBatch)
	private.GET("/todos/:id", todos.get)
	private.PATCH("/todos/:id", todos.update)
	private.DELETE("/todos/:id", todos.remove)
	return r
}

// corsPolicy lets the configured origins call the API from a browser and
// read the headers a frontend needs (ETag for If-Match, Location, the
// request id).
func corsPolicy(origins []string) gin.HandlerFunc {
	cfg := cors.Config{
		AllowMethods:     []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodOptions},
		AllowHeaders:     []string{"Authorization", "Content-Type", "If-Match", "If-None-Match", requestIDHeader},
		ExposeHeaders:    []string{"ETag", "Location", requestIDHeader, "Retry-After"},
		AllowCredentials: false,
		MaxAge:           10 * time.Minute,
	}
	for _, o := range origins {
		if o == "*" {
			cfg.AllowAllOrigins = true
		}
	}
	if !cfg.AllowAllOrigins {
		cfg.AllowOrigins = origins
		if len(origins) == 0 {
			cfg.AllowOriginFunc = func(string) bool { return false }
		}
	}
	return cors.New(cfg)
}
