// Package controllers holds the Gin handlers: each binds a request struct,
// calls a service with the request's context, and renders a response struct
// or hands the error to the one error writer (writeError).
package controllers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gin-contrib/cors"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/todo-api/todo-api/apidocs"
)

// ReadinessChecker reports whether the service can serve traffic.
type ReadinessChecker interface {
	Ready(ctx context.Context) error
}

// Deps are what the router needs: the services it calls and the settings
// of the HTTP side (see config.Config for what each means).
type Deps struct {
	Log   *slog.Logger
	Ready ReadinessChecker
	Auth  AuthService
	Users UserService
	Todos TodoService
	// Budget is the auth routes' per-client request budget shared by every
	// instance (services.ClientLimiter); required.
	Budget ClientBudget
	// Metrics is where request metrics are registered and what /metrics
	// serves; nil means a private registry.
	Metrics *prometheus.Registry

	APIPrefix      string // API_V1_PREFIX: where the API's routes are
	ProjectName    string // the title of the OpenAPI document
	AllowedOrigins []string
	TrustedProxies []string
	MaxBodyBytes   int64
	RequestTimeout time.Duration
	// AuthRateLimit and AuthRateBurst are the per-address token bucket in
	// front of the auth routes (this process's first filter before Budget).
	AuthRateLimit float64
	AuthRateBurst int
	// LocalAuth serves register and login; false makes them 404.
	LocalAuth bool
	// MetricsOnAPIPort mounts /metrics on the API's port, for peers on this
	// machine only: development without METRICS_ADDR.
	MetricsOnAPIPort bool
}

// MetricsHandler serves reg for Prometheus. The router mounts it on the
// main port only in development; production serves it on METRICS_ADDR.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// docsPolicy is the Content-Security-Policy of the docs page: the page, its
// script and styles all come from this binary, and it talks only to this
// origin.
const docsPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// ClientBudget spends one request of a client's budget, or refuses with a
// *services.RateLimitError.
type ClientBudget interface {
	Take(ctx context.Context, client string) error
}

// NewRouter builds the HTTP handler with every route and middleware; it
// answers HEAD on every GET route (see headAsGet).
func NewRouter(d Deps) (http.Handler, error) {
	if d.Budget == nil {
		return nil, errors.New("controllers: Deps.Budget is required: without it the auth routes would have no limit")
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// Trust no proxy headers unless TRUSTED_PROXIES names the proxies: the
	// client IP (rate limits, logs) is then the peer address, which a
	// client cannot forge. With proxies named, it is the right-most
	// X-Forwarded-For entry that is not one of them.
	if err := r.SetTrustedProxies(d.TrustedProxies); err != nil {
		return nil, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	r.ForwardedByClientIP = len(d.TrustedProxies) > 0
	r.RemoteIPHeaders = []string{"X-Forwarded-For"}

	reg := d.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	r.Use(requestID(d.Log), accessLog(), newHTTPMetrics(reg).middleware(), recoverPanics(), securityHeaders(), corsPolicy(d.AllowedOrigins))
	r.NoRoute(func(c *gin.Context) {
		writeProblem(c, http.StatusNotFound, "No route matches "+c.Request.Method+" "+c.Request.URL.Path+".", nil)
	})
	r.NoMethod(func(c *gin.Context) {
		allow := c.Writer.Header().Get("Allow") // set by Gin from the routes
		if listHas(allow, http.MethodGet) {
			allow += ", " + http.MethodHead // see headAsGet
			c.Header("Allow", allow)
		}
		writeProblem(c, http.StatusMethodNotAllowed, "Method "+c.Request.Method+" is not allowed on "+c.Request.URL.Path+"; allowed: "+allow+".", nil)
	})

	r.GET("/healthz", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	r.GET("/readyz", func(c *gin.Context) {
		if err := d.Ready.Ready(c.Request.Context()); err != nil {
			c.Header(headerRetryAfter, "5")
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "reason": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	})
	if d.MetricsOnAPIPort {
		// Only for a scraper on this machine: ENV
		// defaults to development, and a deployment that forgot to set it
		// must not publish its metrics (and what they say about traffic
		// and users) to anyone. The peer address decides, never
		// X-Forwarded-For. With METRICS_ADDR set, they are there only.
		metrics := gin.WrapH(MetricsHandler(reg))
		r.GET("/metrics", func(c *gin.Context) {
			if !loopbackPeer(c.Request) {
				writeProblem(c, http.StatusNotFound, "Metrics are served to this machine only (or on METRICS_ADDR).", nil)
				return
			}
			metrics(c)
		})
	}

	spec, err := apidocs.Spec(d.APIPrefix, d.ProjectName)
	if err != nil {
		return nil, err
	}
	r.GET("/openapi.json", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json", spec)
	})
	r.GET("/docs", func(c *gin.Context) {
		c.Header("Content-Security-Policy", docsPolicy)
		c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(apidocs.Page))
	})
	assetFS := apidocs.Assets()
	assets := http.FileServer(http.FS(assetFS))
	r.GET("/docs/assets/*file", func(c *gin.Context) {
		name := strings.TrimPrefix(c.Param("file"), "/")
		if info, err := fs.Stat(assetFS, name); err != nil || info.IsDir() {
			writeProblem(c, http.StatusNotFound, "No such file.", nil)
			return
		}
		c.Request.URL.Path = "/" + name
		c.Header("Content-Security-Policy", docsPolicy)
		c.Header("Cache-Control", "public, max-age=86400")
		assets.ServeHTTP(c.Writer, c.Request)
	})

	maxBytes := d.MaxBodyBytes
	api := r.Group(d.APIPrefix, timeout(d.RequestTimeout))

	limiter := newIPLimiter(d.AuthRateLimit, d.AuthRateBurst)
	auth := authHandlers{auth: d.Auth, maxBytes: maxBytes}
	authGroup := api.Group("/auth", cacheControl("no-store"), rateLimit(limiter, d.Budget))
	if d.LocalAuth {
		authGroup.POST("/register", auth.register)
		authGroup.POST("/login", auth.login)
	} else {
		authGroup.POST("/register", localAuthOff)
		authGroup.POST("/login", localAuthOff)
	}
	authGroup.POST("/logout", requireCaller(d.Auth), auth.logout)

	users := userHandlers{users: d.Users, maxBytes: maxBytes}
	me := api.Group("/users/me", requireCaller(d.Auth), cacheControl("no-store"))
	me.GET("", users.me)
	me.PATCH("", users.update)
	me.DELETE("", users.deactivate)

	todos := todoHandlers{todos: d.Todos, maxBytes: maxBytes, prefix: d.APIPrefix}
	// A user's todos may be kept by their own browser, revalidated with
	// the ETag each time, and never by a shared cache.
	todo := api.Group("/todos", requireCaller(d.Auth), cacheControl("private, no-cache"))
	todo.GET("", todos.list)
	todo.POST("", todos.create)
	todo.POST("/batch", todos.createBatch)
	todo.GET("/:id", todos.get)
	todo.PATCH("/:id", todos.update)
	todo.DELETE("/:id", todos.remove)
	return headAsGet{r}, nil
}

// loopbackPeer tells whether the connection comes from this machine.
func loopbackPeer(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// headAsGet answers HEAD on every GET route, as RFC 9110 asks of a
// general-purpose server (the same status and headers as GET, no body),
// which Gin does not do by itself: the request is routed as the GET it
// asks about, and what the handler writes as body is dropped. Logs and
// metrics still name it HEAD (see requestMethod). It is the engine
// otherwise (its Routes, for one).
type headAsGet struct{ *gin.Engine }

func (h headAsGet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		r = r.WithContext(context.WithValue(r.Context(), headRequest{}, true))
		r.Method = http.MethodGet
		w = headWriter{w}
	}
	h.Engine.ServeHTTP(w, r)
}

// headRequest marks, in a request's context, a HEAD routed as GET.
type headRequest struct{}

// requestMethod is the method the client sent.
func requestMethod(c *gin.Context) string {
	if c.Request.Context().Value(headRequest{}) != nil {
		return http.MethodHead
	}
	return c.Request.Method
}

// headWriter drops the body of an answer to HEAD.
type headWriter struct{ http.ResponseWriter }

func (headWriter) Write(b []byte) (int, error)       { return len(b), nil }
func (headWriter) WriteString(s string) (int, error) { return len(s), nil }

// Unwrap lets http.ResponseController reach the connection's writer.
func (w headWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes a flush on, for streaming handlers.
func (w headWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// corsPolicy lets the configured origins call the API from a browser and
// read the headers a frontend needs (ETag for If-Match, Location, the
// request id). Requests from other origins get no CORS headers, and so are
// blocked by the browser, but are otherwise served as usual: a 403 (what
// gin-contrib/cors answers them) would break non-browser clients that
// happen to send Origin. Every answer to a request with an Origin varies
// by it, whether the origin is allowed or not.
func corsPolicy(origins []string) gin.HandlerFunc {
	allowed := make(map[string]bool, len(origins))
	allowAll := false
	for _, o := range origins {
		allowed[strings.TrimSuffix(o, "/")] = true
		allowAll = allowAll || o == "*"
	}
	cfg := cors.Config{
		AllowMethods:  []string{"GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"},
		AllowHeaders:  requestHeaders,
		ExposeHeaders: responseHeaders,
		MaxAge:        600 * time.Second,
	}
	if allowAll {
		cfg.AllowAllOrigins = true
	} else {
		// A function rather than AllowOrigins: the library lower-cases
		// that list, and origins are compared exactly.
		cfg.AllowOriginFunc = func(origin string) bool { return allowed[origin] }
	}
	apply := cors.New(cfg)
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		if origin == "" {
			return
		}
		preflight := c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != ""
		h := c.Writer.Header()
		h.Add("Vary", "Origin")
		if preflight {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
		}
		// The library would take any OPTIONS for a preflight and answer it
		// 204; one without Access-Control-Request-Method goes to the router.
		switch {
		case (allowAll || allowed[origin]) && (preflight || c.Request.Method != http.MethodOptions):
			apply(c)
		case preflight:
			// A preflight from an origin not allowed: answered like one
			// from an allowed origin but without any CORS header, so the
			// browser refuses the request, rather than as the 405 of a
			// method the path does not have.
			c.AbortWithStatus(http.StatusNoContent)
		}
	}
}
