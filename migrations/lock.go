package migrations

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// lockKey identifies the migration advisory lock: the first 8 bytes of
// sha256("todo-api schema migrations"), fixed so every version agrees.
const lockKey int64 = 0x3a5c_7e1f_9b2d_4c60

// ErrLockTimeout means another process held the migration lock too long.
var ErrLockTimeout = errors.New("timed out waiting for the migration lock")

// errLockHeld is one attempt that found the lock taken: retried until
// LockTimeout.
var errLockHeld = errors.New("migration lock held by another process")

// withLock runs fn while holding the migration advisory lock on one pinned
// connection, after creating the bookkeeping table.
func (r *Runner) withLock(ctx context.Context, fn func() error) error {
	if err := Validate(r.migrations); err != nil {
		return err
	}
	sqlDB, err := r.db.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.Close()

	if err := r.lock(ctx, conn); err != nil {
		return err
	}
	defer func() {
		// A fresh context: the lock must be released even when ctx ended.
		unlockCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(unlockCtx, `SELECT pg_advisory_unlock($1)`, lockKey); err != nil {
			r.log.Warn("release migration lock", "err", err)
		}
	}()
	if err := r.ensureTable(ctx); err != nil {
		return err
	}
	return fn()
}

// lock takes the advisory lock on conn by polling pg_try_advisory_lock
// every LockPoll (jittered) for up to LockTimeout. A blocking
// pg_advisory_lock would be a running statement, which CREATE INDEX
// CONCURRENTLY in the holder's migration waits for: a deadlock.
func (r *Runner) lock(ctx context.Context, conn *sql.Conn) error {
	poll := &backoff.ExponentialBackOff{
		InitialInterval: r.LockPoll,
		MaxInterval:     r.LockPoll,
		Multiplier:      1,
		// Jitter keeps several waiting processes from polling in step.
		RandomizationFactor: 0.5,
	}
	waiting := false
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		var got bool
		if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey).Scan(&got); err != nil {
			return struct{}{}, backoff.Permanent(err)
		}
		if !got {
			return struct{}{}, errLockHeld
		}
		return struct{}{}, nil
	},
		backoff.WithBackOff(poll),
		backoff.WithMaxElapsedTime(r.LockTimeout),
		backoff.WithNotify(func(error, time.Duration) {
			if !waiting {
				waiting = true
				r.log.Info("waiting for another process's migration run to finish")
			}
		}),
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errLockHeld):
		return fmt.Errorf("%w after %s", ErrLockTimeout, r.LockTimeout)
	}
	return fmt.Errorf("migration lock: %w", err)
}
