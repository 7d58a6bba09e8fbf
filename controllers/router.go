// Package controllers holds the Gin handlers: each binds a request struct,
// calls a service with the request's context, and renders a response struct
// or hands the error to the one error writer.
package controllers

import (
	"context"
	"log/slog"
	"net/http"

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
}

// NewRouter builds the HTTP handler with every route and middleware.
func NewRouter(d Deps) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/healthz", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	r.GET("/readyz", func(c *gin.Context) {
		if err := d.Ready.Ready(c.Request.Context()); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "reason": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	})
	return r
}
