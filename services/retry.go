package services

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/todo-api/todo-api/database"
)

// Transient failures (a Neon compute waking or suspending, a restart, a
// proxy that cannot reach the compute) are retried here, a few times with
// jittered backoff, but only when repeating is safe: a read can always be
// repeated; a write only when the driver knows nothing reached the server.
// Otherwise the error becomes ErrUnavailable (503 with Retry-After).
const maxAttempts = 3

// firstPause is the mean wait before the second attempt; it doubles.
const firstPause = 75 * time.Millisecond

// read runs a read-only statement, retrying transient failures.
func read(ctx context.Context, fn func() error) error { return attempt(ctx, true, fn) }

// write runs a statement that changes data, retrying only failures that
// happened before anything was sent.
func write(ctx context.Context, fn func() error) error { return attempt(ctx, false, fn) }

func attempt(ctx context.Context, idempotent bool, fn func() error) error {
	pause := firstPause
	for try := 1; ; try++ {
		err := fn()
		if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			// GORM can flatten the context's error into text when a second
			// error follows it; keep it visible to errors.Is.
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		if err == nil || try == maxAttempts || !retryable(err, idempotent) || ctx.Err() != nil {
			return err
		}
		wait := pause/2 + time.Duration(rand.Int64N(int64(pause)))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		pause *= 2
	}
}

func retryable(err error, idempotent bool) bool {
	if !database.IsTransient(err) {
		return false
	}
	return idempotent || neverSent(err)
}

// neverSent reports failures that happened before the statement left the
// client: pgx says so (SafeToRetry), or the connection was never made.
func neverSent(err error) bool {
	var connectErr *pgconn.ConnectError
	return pgconn.SafeToRetry(err) || errors.As(err, &connectErr)
}
