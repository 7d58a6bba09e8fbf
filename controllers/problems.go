package controllers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/todo-api/todo-api/services"
)

// problemContentType is RFC 9457's media type.
const problemContentType = "application/problem+json"

// Problem is an RFC 9457 problem document. Errors lists the fields at fault,
// when fields are.
type Problem struct {
	Type   string                `json:"type"`
	Title  string                `json:"title"`
	Status int                   `json:"status"`
	Detail string                `json:"detail"`
	Errors []services.FieldError `json:"errors,omitempty"`
}

// httpError is an error found by the HTTP layer itself (a body that is not
// JSON, too large, the wrong content type).
type httpError struct {
	status int
	detail string
	fields []services.FieldError
}

func (e *httpError) Error() string { return e.detail }

func badRequest(detail string) error {
	return &httpError{status: http.StatusBadRequest, detail: detail}
}

// problemTypes gives each status its type URI and title.
var problemTypes = map[int][2]string{
	http.StatusBadRequest:            {"/problems/bad-request", "Bad request"},
	http.StatusUnauthorized:          {"/problems/unauthorized", "Unauthorized"},
	http.StatusForbidden:             {"/problems/todo-limit", "Todo limit reached"},
	http.StatusNotFound:              {"/problems/not-found", "Not found"},
	http.StatusMethodNotAllowed:      {"/problems/method-not-allowed", "Method not allowed"},
	http.StatusConflict:              {"/problems/conflict", "Conflict"},
	http.StatusPreconditionFailed:    {"/problems/precondition-failed", "Precondition failed"},
	http.StatusRequestEntityTooLarge: {"/problems/payload-too-large", "Payload too large"},
	http.StatusUnprocessableEntity:   {"/problems/validation", "Validation failed"},
	http.StatusTooManyRequests:       {"/problems/rate-limited", "Too many requests"},
	http.StatusInternalServerError:   {"/problems/internal", "Internal server error"},
	http.StatusServiceUnavailable:    {"/problems/unavailable", "Service unavailable"},
}

// writeProblem renders a problem document and aborts the chain.
func writeProblem(c *gin.Context, status int, detail string, fields []services.FieldError) {
	t := problemTypes[status]
	if t[0] == "" {
		t = [2]string{"about:blank", http.StatusText(status)}
	}
	c.Header("Content-Type", problemContentType)
	c.Header("Cache-Control", "no-store")
	c.Render(status, problemRender{Problem{Type: t[0], Title: t[1], Status: status, Detail: detail, Errors: fields}})
	c.Abort()
}

// writeError is the one place that turns an error into a response. A 500
// says nothing of its cause to the client; its cause is logged once, here,
// with the request id.
func writeError(c *gin.Context, err error) {
	var (
		he *httpError
		ve *services.ValidationError
		qe *services.QueryError
		ce *services.ConflictError
		re *services.RateLimitError
		le *services.TodoLimitError
	)
	if errors.Is(c.Request.Context().Err(), context.Canceled) {
		// The client went away: whatever failed failed because of that,
		// nobody reads the answer, and it is not a server error.
		logger(c).Info("request canceled by client", "err", err)
		c.Abort()
		return
	}
	switch {
	case errors.As(err, &he):
		writeProblem(c, he.status, he.detail, he.fields)
	case errors.As(err, &ve):
		writeProblem(c, http.StatusUnprocessableEntity, "One or more fields are invalid; see errors.", ve.Fields)
	case errors.As(err, &qe):
		writeProblem(c, http.StatusBadRequest, "One or more query parameters are invalid; see errors.", qe.Fields)
	case errors.As(err, &re):
		// Retry-After is whole seconds, rounded up so a client that waits
		// exactly that long is let through.
		secs := strconv.Itoa(int(max(math.Ceil(re.RetryAfter.Seconds()), 1)))
		c.Header(headerRetryAfter, secs)
		writeProblem(c, http.StatusTooManyRequests, strings.ToUpper(re.Reason[:1])+re.Reason[1:]+"; retry in "+secs+" s.", nil)
	case errors.As(err, &le):
		writeProblem(c, http.StatusForbidden, fmt.Sprintf("This account holds %d todos, the most allowed is %d; delete some to create more.", le.Have, le.Max), nil)
	case errors.As(err, &ce):
		writeProblem(c, http.StatusConflict, "A unique value is already in use; see errors.", ce.Fields)
	case errors.Is(err, services.ErrIdempotencyInFlight):
		c.Header(headerRetryAfter, "1")
		writeProblem(c, http.StatusConflict, "A request with this Idempotency-Key is still in progress; retry it shortly to get its answer.", nil)
	case errors.Is(err, services.ErrUnstorable):
		logger(c).Warn("database refused a value", "err", err)
		writeProblem(c, http.StatusUnprocessableEntity, "A value in the request cannot be stored (bad encoding or out of range).", nil)
	case errors.Is(err, services.ErrNotFound):
		writeProblem(c, http.StatusNotFound, "No such resource.", nil)
	case errors.Is(err, services.ErrPreconditionFailed):
		writeProblem(c, http.StatusPreconditionFailed, "The resource has changed since the ETag in If-Match; fetch it again.", nil)
	case errors.Is(err, services.ErrUnauthorized):
		c.Header(headerWWWAuthenticate, `Bearer realm="api"`)
		writeProblem(c, http.StatusUnauthorized, "Missing, invalid or expired credentials.", nil)
	case errors.Is(err, services.ErrPasswordWorkBusy):
		logger(c).Warn("password work queue full", "err", err)
		c.Header(headerRetryAfter, "1")
		writeProblem(c, http.StatusServiceUnavailable, "Too many password checks are running; retry in a moment.", nil)
	case errors.Is(err, services.ErrTooManyLists):
		c.Header(headerRetryAfter, "1")
		writeProblem(c, http.StatusTooManyRequests, "Too many listings or searches of this account are running at once; retry in 1 s.", nil)
	case errors.Is(err, services.ErrListTooSlow):
		logger(c).Warn("listing stopped at its time limit", "err", err)
		c.Header(headerRetryAfter, strconv.Itoa(retryAfterSeconds))
		writeProblem(c, http.StatusServiceUnavailable, "The listing took too long and was stopped (the database is up): search for something longer or more specific, or narrow the filters.", nil)
	case errors.Is(err, services.ErrKeysUnavailable):
		logger(c).Warn("auth server keys unavailable", "err", err)
		c.Header(headerRetryAfter, "1")
		writeProblem(c, http.StatusServiceUnavailable, "The sign-in service's keys could not be fetched yet, so the token can be neither accepted nor refused; retry shortly.", nil)
	case errors.Is(err, services.ErrUnavailable):
		logger(c).Warn("database unavailable", "err", err)
		c.Header(headerRetryAfter, strconv.Itoa(retryAfterSeconds))
		writeProblem(c, http.StatusServiceUnavailable, "The database is unavailable; retry shortly.", nil)
	default:
		logger(c).Error("internal error", "err", err)
		writeProblem(c, http.StatusInternalServerError, "An unexpected error occurred; it has been logged with the request id.", nil)
	}
}

// retryAfterSeconds is sent with 503s: a Neon compute wakes within seconds.
const retryAfterSeconds = 2

// logger returns the request's logger (with its request id).
func logger(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(loggerKey); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}
