package controllers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/todo-api/todo-api/services"
)

const (
	loggerKey = "logger"
	callerKey = "caller"
)

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestID accepts a well-formed X-Request-ID or makes one, returns it on
// the response, and gives the request a logger that carries it.
func requestID(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(headerRequestID)
		if !validRequestID.MatchString(id) {
			b := make([]byte, 12)
			rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Header(headerRequestID, id)
		c.Set(loggerKey, log.With("request_id", id))
		c.Next()
	}
}

// accessLog writes one line per request once it is answered.
func accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		attrs := []any{
			"method", requestMethod(c),
			"route", route,
			"path", c.Request.URL.Path,
			"status", c.Writer.Status(),
			"latency_ms", float64(time.Since(start).Microseconds()) / 1000,
			"bytes", c.Writer.Size(),
			"client_ip", c.ClientIP(),
		}
		if caller, ok := c.Get(callerKey); ok {
			attrs = append(attrs, "user_id", caller.(services.Caller).ID)
		}
		logger(c).Info("request", attrs...)
	}
}

// recoverPanics turns a panic into a logged 500 problem instead of a
// dropped connection.
func recoverPanics() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler { //nolint:errorlint // a value from recover, never a wrapped error
				panic(rec)
			}
			logger(c).Error("panic", "panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
			if !c.Writer.Written() {
				writeProblem(c, http.StatusInternalServerError, "An unexpected error occurred; it has been logged with the request id.", nil)
			}
			c.Abort()
		}()
		c.Next()
	}
}

// securityHeaders are sent on every response.
func securityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		// The API answers JSON: nothing in it may load or frame anything.
		// The docs page sets its own policy.
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		c.Next()
	}
}

// cacheControl sets Cache-Control on every response of a route group.
func cacheControl(value string) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", value)
		c.Next()
	}
}

// timeout bounds the database work of one request.
func timeout(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// Authenticator verifies bearer tokens.
type Authenticator interface {
	// Caller verifies a bearer token and names the account it acts for.
	Caller(ctx context.Context, token string) (services.Caller, error)
}

// bearer is the request's bearer token, or "" (then the answer is 401).
// A token longer than maxTokenBytes is refused unread: ours are about 300
// bytes and Better Auth's well under 2 KiB, while decoding and verifying a
// 1 MB one cost 86 ms of CPU.
func bearer(c *gin.Context) string {
	scheme, token, ok := strings.Cut(c.GetHeader(headerAuthorization), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || len(token) > maxTokenBytes {
		return ""
	}
	return token
}

// maxTokenBytes bounds a bearer token (see bearer).
const maxTokenBytes = 8 << 10

// requireCaller lets only requests with a valid token through and stores
// the account it names in the context. Whether that account is active and
// the token current is checked by the service's statements (a revoked
// token is 401 there), on every instance at once.
func requireCaller(auth Authenticator) gin.HandlerFunc {
	return func(c *gin.Context) {
		token := bearer(c)
		if token == "" {
			writeError(c, services.ErrUnauthorized)
			return
		}
		caller, err := auth.Caller(c.Request.Context(), token)
		if err != nil {
			writeError(c, err)
			return
		}
		c.Set(callerKey, caller)
		c.Next()
	}
}

// currentCaller is the account requireCaller stored.
func currentCaller(c *gin.Context) services.Caller {
	return c.MustGet(callerKey).(services.Caller)
}

// ipLimiter is a token bucket per client IP. Buckets unused for a while are
// forgotten, so memory stays bounded by the number of recent clients.
type ipLimiter struct {
	mu        sync.Mutex
	rate      rate.Limit
	burst     int
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	limiter  *rate.Limiter
	lastSeen time.Time
}

func newIPLimiter(perSecond float64, burst int) *ipLimiter {
	return &ipLimiter{rate: rate.Limit(perSecond), burst: burst, buckets: map[string]*bucket{}, lastSweep: time.Now()}
}

// allow takes a token for ip, or says how long until one is free.
func (l *ipLimiter) allow(ip string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.lastSeen) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b, ok := l.buckets[ip]
	if !ok {
		b = &bucket{limiter: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[ip] = b
	}
	b.lastSeen = now
	r := b.limiter.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// clientKey names the client for rate limits: its address, or for IPv6
// its /64, since one subscriber is routinely handed a whole /64 and could
// otherwise take a fresh address for every request. c.ClientIP() is the
// peer, or the X-Forwarded-For entry set by a trusted proxy.
func clientKey(c *gin.Context) string {
	ip := c.ClientIP()
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// rateLimit holds each client to AUTH_RATE_LIMIT per second with bursts of
// AUTH_RATE_BURST, in total across every instance: budget is the shared
// bucket in PostgreSQL. The instance's own bucket, with the same limits,
// is a first filter that costs no query: a client over the limit here is
// over it in total, and a flood from one address stops without reaching
// the database.
func rateLimit(l *ipLimiter, budget ClientBudget) gin.HandlerFunc {
	return func(c *gin.Context) {
		client := clientKey(c)
		ok, wait := l.allow(client, time.Now())
		if !ok {
			writeError(c, &services.RateLimitError{Reason: "too many requests from this address", RetryAfter: wait})
			return
		}
		if err := budget.Take(c.Request.Context(), client); err != nil {
			writeError(c, err)
			return
		}
		c.Next()
	}
}
