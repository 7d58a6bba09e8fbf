// Package services holds the business rules and the queries. Every method
// takes ctx first and runs its queries through db.WithContext(ctx); errors
// are the sentinels and types below, which controllers map to HTTP.
package services

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/todo-api/todo-api/database"
)

// Sentinel errors returned by the services.
var (
	// ErrNotFound: no such resource for this user.
	ErrNotFound = errors.New("not found")
	// ErrPreconditionFailed: If-Match was given and is stale.
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrUnauthorized: bad credentials or token, or a deactivated user.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrUnavailable: the database could not be reached in time.
	ErrUnavailable = errors.New("database unavailable")
	// ErrUnstorable: the database refused a value as data (SQLSTATE class
	// 22: bad encoding, out of range) that validation let through.
	ErrUnstorable = errors.New("value cannot be stored")
	// ErrKeysUnavailable: a token names a key of the auth server (Better
	// Auth, Neon Auth) whose key set could never be fetched, so the token
	// can be neither accepted nor refused yet (503, not 401: a 401 would
	// sign the user out).
	// ErrPasswordWorkBusy: every bcrypt slot stayed busy while a password
	// check waited (503; retry shortly).
	ErrPasswordWorkBusy = errors.New("too many password checks at once")
	// ErrTooManyLists: the user's listings already running (on any
	// instance) are as many as allowed; retry in a moment (429).
	ErrTooManyLists = errors.New("too many listings of this user at once")
	// ErrListTooSlow: a listing ran past its time limit and was stopped
	// (503, saying so: the database is fine, the query is too costly).
	ErrListTooSlow     = errors.New("the listing took too long and was stopped")
	ErrKeysUnavailable = errors.New("the auth server's signing keys could not be fetched yet")
)

// FieldError names one invalid field and says why.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every invalid field of a request.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string { return describeFields("invalid input", e.Fields) }

// describeFields renders field errors on one line after a label.
func describeFields(label string, fields []FieldError) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = f.Field + " " + f.Message
	}
	return label + ": " + strings.Join(parts, "; ")
}

// Add records a problem with a field.
func (e *ValidationError) Add(field, format string, args ...any) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns e when it holds problems, else nil.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// ConflictError is a unique rule broken: the fields name what is taken.
type ConflictError struct {
	Fields []FieldError
}

func (e *ConflictError) Error() string {
	names := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		names[i] = f.Field
	}
	return "conflict on " + strings.Join(names, ", ")
}

// translate turns driver failures into service errors: an unreachable
// database or a request out of time becomes ErrUnavailable; a record not
// found becomes ErrNotFound. Anything else is returned wrapped as it is.
func translate(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err), isQueryCanceled(err), database.IsTransient(err):
		return fmt.Errorf("%s: %w: %w", what, ErrUnavailable, err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", what, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22") {
		return fmt.Errorf("%s: %w: %w", what, ErrUnstorable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// isQueryCanceled reports SQLSTATE 57014: the statement was canceled, which
// happens when the request's deadline passes while the query runs (pgx
// sends a cancel request) or a statement_timeout fires. Either way the
// database did not answer in time: 503, not 500.
func isQueryCanceled(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "57014"
}

// RateLimitError says a limit was reached and when to try again.
type RateLimitError struct {
	Reason     string
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%s; retry in %s", e.Reason, e.RetryAfter)
}
