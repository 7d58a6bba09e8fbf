package services

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/todo-api/todo-api/database"
)

// Transient failures (a Neon compute waking or suspending, a restart, a
// proxy that cannot reach the compute) are retried here, a few times with
// jittered backoff, but only when repeating is safe: a read can always be
// repeated; a write only when the driver knows nothing reached the server.
// Otherwise the error becomes ErrUnavailable (503 with Retry-After).
const maxAttempts = 3

// firstPause is the mean wait before the second attempt; it doubles, and
// each wait is drawn from half to one and a half times its mean.
const firstPause = 75 * time.Millisecond

// read runs a read-only statement, retrying transient failures.
func read(ctx context.Context, fn func() error) error { return attempt(ctx, true, fn) }

// write runs a statement that changes data, retrying only failures that
// happened before anything was sent.
func write(ctx context.Context, fn func() error) error { return attempt(ctx, false, fn) }

func attempt(ctx context.Context, idempotent bool, fn func() error) error {
	// last is what the caller gets: the statement's own error, also when
	// the context ends during a pause (backoff would answer the context's).
	var last error
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := fn()
		if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			// GORM can flatten the context's error into text when a second
			// error follows it; keep it visible to errors.Is.
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		last = err
		if err != nil && (!retryable(err, idempotent) || ctx.Err() != nil) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	},
		backoff.WithBackOff(&backoff.ExponentialBackOff{
			InitialInterval:     firstPause,
			RandomizationFactor: 0.5,
			Multiplier:          2,
			MaxInterval:         time.Minute,
		}),
		backoff.WithMaxTries(maxAttempts),
		backoff.WithMaxElapsedTime(0),
	)
	if err != nil {
		return last
	}
	return nil
}

func retryable(err error, idempotent bool) bool {
	if !database.IsTransient(err) {
		return false
	}
	return idempotent || neverSent(err)
}

// neverSent reports failures that happened before the statement left the
// client: pgx says so (SafeToRetry), the connection was never made, or
// database/sql says the connection was bad before it sent anything
// (driver.ErrBadConn's contract).
func neverSent(err error) bool {
	var connectErr *pgconn.ConnectError
	return pgconn.SafeToRetry(err) || errors.As(err, &connectErr) || errors.Is(err, driver.ErrBadConn)
}
