package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/todo-api/todo-api/migrations"
)

// readiness answers /readyz: "shutting down" from the moment shutdown
// begins; otherwise the database answers within a second on one pooled
// connection, and the schema is at the newest migration of this build.
type readiness struct {
	db *gorm.DB
	// drain is closed when shutdown begins.
	drain <-chan struct{}
}

// Ready answers "shutting down" as soon as draining starts, also to a probe
// still waiting on the database. Checking the flag only before the check
// let a probe that began just before the signal answer 200 most of a second
// into the drain; a load balancer that probes one request at a time then
// learned of the shutdown that much later, or, on an overloaded machine,
// not before the listener had closed.
func (r readiness) Ready(ctx context.Context) error {
	shuttingDown := errors.New("shutting down")
	select {
	case <-r.drain:
		return shuttingDown
	default:
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.checkDatabase(ctx) }()
	select {
	case <-r.drain:
		return shuttingDown
	case err := <-done:
		select {
		case <-r.drain:
			return shuttingDown
		default:
			return err
		}
	}
}

// checkDatabase reads the schema state on one pooled connection and gives
// the database a second to answer once that connection is in hand. Waiting
// for the connection is queueing behind the requests being served, not the
// database failing: when the ping and the state's two queries each queued
// for a connection of their own within the one second, a saturated pool on
// an overloaded machine made readiness report "database unreachable" while
// every request succeeded. The wait is bounded by the prober's own timeout
// and by readyPoolWait.
func (r readiness) checkDatabase(ctx context.Context) error {
	sqlDB, err := r.db.DB()
	if err != nil {
		return err
	}
	waitCtx, cancelWait := context.WithTimeout(ctx, readyPoolWait)
	defer cancelWait()
	held := false
	var st migrations.State
	err = r.db.WithContext(waitCtx).Connection(func(tx *gorm.DB) error {
		held = true
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		var err error
		st, err = migrations.NewRunner(tx, migrations.All(), nil).State(ctx)
		return err
	})
	pool := sqlDB.Stats()
	switch {
	case err == nil:
	case !held && waitCtx.Err() != nil && pool.MaxOpenConnections > 0 && pool.InUse >= pool.MaxOpenConnections:
		return fmt.Errorf("database busy: no pooled connection came free within %s", readyPoolWait)
	default:
		return errors.New("database unreachable")
	}
	if !st.AtHead() {
		return fmt.Errorf("schema behind: %d migration(s) pending, %d unknown; run `migrate up`", len(st.Pending), len(st.Unknown))
	}
	return nil
}

// readyPoolWait bounds how long a readiness probe waits for a pooled
// connection while every one is in use.
const readyPoolWait = 5 * time.Second
