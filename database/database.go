// Package database opens the GORM connection pool: pgx v5 underneath, the
// pool knobs applied, start-up waiting for a database that is asleep or
// starting, and (in development) the target database created when missing.
package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Options configure Open.
type Options struct {
	URL             string
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	ConnMaxIdleTime time.Duration
	// ConnectTimeout bounds one connection attempt (unless the URL sets
	// connect_timeout).
	ConnectTimeout time.Duration
	// StartupTimeout bounds the wait for the database at start-up.
	StartupTimeout time.Duration
	// QueryExecMode is a pgx mode name, or "auto": exec on pooled hosts,
	// cache_statement on direct ones.
	QueryExecMode string
	// CreateIfMissing creates the target database when it does not exist.
	CreateIfMissing bool
	// Debug logs every SQL statement (parameters elided).
	Debug  bool
	Logger *slog.Logger
}

// Open connects, waiting for the database within StartupTimeout, and returns
// a GORM handle over a configured database/sql pool.
func Open(ctx context.Context, o Options) (*gorm.DB, error) {
	db, wait, err := Connect(o)
	if err != nil {
		return nil, err
	}
	if err := wait(ctx); err != nil {
		return nil, err
	}
	return db, nil
}

// Connect returns the GORM handle at once, without touching the database,
// and wait, which connects, waiting for the database within StartupTimeout
// (creating it first when CreateIfMissing says so). Until wait has returned
// nil the handle must not run queries; the caller may meanwhile build what
// needs only the handle (serve builds the router while the database
// answers). When wait fails it has closed the pool.
func Connect(o Options) (db *gorm.DB, wait func(context.Context) error, err error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	connConfig, mode, err := connConfig(o)
	if err != nil {
		return nil, nil, err
	}
	// Before a pooled connection is reused, pgx pings it when it has been
	// idle for over a second; the peek below also catches connections the
	// server closed moments ago (Neon suspending a compute, a restart), so a
	// write is never sent down a dead connection.
	sqlDB := stdlib.OpenDB(*connConfig, stdlib.OptionResetSession(func(_ context.Context, c *pgx.Conn) error {
		if !idleConnAlive(c.PgConn().Conn()) {
			return driver.ErrBadConn
		}
		return nil
	}))
	sqlDB.SetMaxOpenConns(o.MaxOpenConns)
	sqlDB.SetMaxIdleConns(o.MaxIdleConns)
	sqlDB.SetConnMaxLifetime(o.ConnMaxLifetime)
	sqlDB.SetConnMaxIdleTime(o.ConnMaxIdleTime)

	level := logger.Silent
	if o.Debug {
		level = logger.Info
	}
	db, err = gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), &gorm.Config{
		TranslateError: true,
		// A single INSERT/UPDATE/DELETE is atomic on its own; GORM's default
		// BEGIN/COMMIT around each would cost two round trips per write.
		// Multi-statement writes use an explicit Transaction.
		SkipDefaultTransaction: true,
		DisableAutomaticPing:   true,
		NowFunc:                Now,
		Logger: logger.NewSlogLogger(log, logger.Config{
			SlowThreshold:             200 * time.Millisecond,
			LogLevel:                  level,
			IgnoreRecordNotFoundError: true,
			ParameterizedQueries:      true,
		}),
	})
	if err != nil {
		sqlDB.Close()
		return nil, nil, fmt.Errorf("open gorm: %w", err)
	}
	wait = func(ctx context.Context) error {
		if err := waitReady(ctx, sqlDB, o, log); err != nil {
			sqlDB.Close()
			return err
		}
		log.Info("database connected", "host", connConfig.Host, "database", connConfig.Database, "query_exec_mode", mode)
		return nil
	}
	return db, wait, nil
}

// Now is the clock GORM stamps rows with (StoredTime of the wall clock).
func Now() time.Time { return StoredTime(time.Now()) }

// StoredTime is t as PostgreSQL keeps a timestamptz: UTC, to the
// microsecond, so the value a write answers with is the value later reads
// return. Every time the service writes goes through it.
func StoredTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func connConfig(o Options) (*pgx.ConnConfig, string, error) {
	cfg, err := pgx.ParseConfig(o.URL)
	if err != nil {
		// pgx's message can quote the connection string: say only what is
		// wrong in general terms.
		return nil, "", errors.New("DATABASE_URL cannot be parsed as a PostgreSQL connection URL")
	}
	// When a request's deadline passes mid-query, ask the server to cancel
	// the statement (the default only drops the socket, and a write waiting
	// on a lock would then still run later, after the client was told 503).
	// The socket is dropped too if the server has not answered a second on.
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: time.Second}
	}
	if !strings.Contains(o.URL, "connect_timeout=") && o.ConnectTimeout > 0 {
		cfg.ConnectTimeout = o.ConnectTimeout
	}
	mode := o.QueryExecMode
	if mode == "" || mode == "auto" {
		mode = "cache_statement"
		if IsPooled(o.URL) {
			mode = "exec"
		}
	}
	m, ok := queryExecModes[mode]
	if !ok {
		return nil, "", fmt.Errorf("DB_QUERY_EXEC_MODE %q is not a pgx query mode: use auto, %s", mode, strings.Join(slices.Sorted(maps.Keys(queryExecModes)), ", "))
	}
	cfg.DefaultQueryExecMode = m
	return cfg, mode, nil
}

// queryExecModes are the DB_QUERY_EXEC_MODE values besides "auto", by
// their pgx names.
var queryExecModes = map[string]pgx.QueryExecMode{
	"cache_statement": pgx.QueryExecModeCacheStatement,
	"cache_describe":  pgx.QueryExecModeCacheDescribe,
	"describe_exec":   pgx.QueryExecModeDescribeExec,
	"exec":            pgx.QueryExecModeExec,
	"simple_protocol": pgx.QueryExecModeSimpleProtocol,
}

// waitReady pings until the database answers, retrying transient failures
// with capped exponential backoff and jitter until StartupTimeout.
func waitReady(ctx context.Context, sqlDB *sql.DB, o Options, log *slog.Logger) error {
	budget := o.StartupTimeout
	if budget <= 0 {
		budget = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	start := time.Now()
	attempts, created := 0, false
	ping := func() error {
		attempts++
		return sqlDB.PingContext(ctx)
	}
	var last, stop error // the latest failure; one not worth retrying
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := ping()
		if IsMissingDatabase(err) && o.CreateIfMissing && !created {
			if stop = createDatabase(ctx, o, log); stop != nil {
				return struct{}{}, backoff.Permanent(stop)
			}
			created = true
			err = ping()
		}
		if err == nil {
			return struct{}{}, nil
		}
		last = err
		if !IsTransient(err) && !errors.Is(err, context.DeadlineExceeded) {
			stop = fmt.Errorf("database: %s", Describe(err))
			return struct{}{}, backoff.Permanent(stop)
		}
		return struct{}{}, err
	},
		backoff.WithBackOff(&backoff.ExponentialBackOff{
			InitialInterval:     100 * time.Millisecond,
			RandomizationFactor: 0.5,
			Multiplier:          2,
			MaxInterval:         5 * time.Second,
		}),
		backoff.WithMaxElapsedTime(0), // ctx carries the budget
		backoff.WithNotify(func(err error, wait time.Duration) {
			log.Warn("database not ready, retrying", "attempt", attempts, "retry_in", wait.Round(time.Millisecond), "err", Describe(err))
		}),
	)
	switch {
	case err == nil:
		return nil
	case stop != nil:
		return stop
	}
	return fmt.Errorf("database not reachable after %d attempts in %s: %s", attempts, time.Since(start).Round(time.Millisecond), Describe(last))
}

// createDatabase creates the database named in the URL, connecting to the
// server's "postgres" database to do it.
func createDatabase(ctx context.Context, o Options, log *slog.Logger) error {
	name, err := databaseName(o.URL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	adminURL, err := WithDatabase(o.URL, "postgres")
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	_, err = CreateDatabase(ctx, adminURL, name)
	if IsDuplicateDatabase(err) { // created meanwhile
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %q: %s", name, Describe(err))
	}
	log.Info("created missing database", "database", name)
	return nil
}

// IsMissingDatabase reports a connection refused because the database does
// not exist (SQLSTATE 3D000).
func IsMissingDatabase(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "3D000"
}

// IsTransient reports errors worth retrying: the server is down, starting,
// restarting, out of connection slots, or a proxy could not reach it.
// Authentication, configuration and SQL errors are not transient. It goes by
// SQLSTATE codes and error types, never by message text.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", // admin shutdown (Neon suspend)
			pgErr.Code == "57P02", // crash shutdown
			pgErr.Code == "57P03", // cannot connect now (starting up)
			pgErr.Code == "53300": // too many connections
			return true
		case pgErr.Code == "XX000":
			// Neon's proxy reports a compute it cannot reach (waking, or
			// restarting) as internal_error while the connection is being
			// set up. An internal error there is the proxy's, and worth
			// retrying; one in answer to a query is the server's own and
			// is not.
			var connectErr *pgconn.ConnectError
			return errors.As(err, &connectErr)
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		// A server-side refusal inside a ConnectError was handled above; what
		// remains is the network: refused, reset, DNS, timeouts.
		var netErr net.Error
		return errors.As(err, &netErr) || pgconn.Timeout(err)
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	// database/sql's own "this connection is dead, and the statement was
	// not sent". database/sql retries it on other connections, but when
	// more requests than the pool has connections run through a restart,
	// its last attempt waits for a connection another request hands back,
	// which can be dead too, and the error reaches us.
	if errors.Is(err, driver.ErrBadConn) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, sql.ErrConnDone)
}

// Describe renders a driver error without secrets: PostgreSQL's message and
// code, or the network failure. pgx never includes the password.
func Describe(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Sprintf("%s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	}
	return err.Error()
}
