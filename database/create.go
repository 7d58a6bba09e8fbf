package database

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// CreateDatabase creates database name on the server of adminURL, over a
// connection to the database adminURL names (the server's "postgres", or
// any other the user may connect to), and returns the new database's URL:
// adminURL naming name instead. Failures are pgx's own errors, for Describe
// and errors.As: a *pgconn.ConnectError when the server cannot be reached,
// a *pgconn.PgError when it refuses.
func CreateDatabase(ctx context.Context, adminURL, name string) (string, error) {
	u, err := WithDatabase(adminURL, name)
	if err != nil {
		return "", err
	}
	if err := admin(ctx, adminURL, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return u, nil
}

// DropDatabase drops database name on the server of adminURL, if it exists,
// disconnecting its sessions first.
func DropDatabase(ctx context.Context, adminURL, name string) error {
	return admin(ctx, adminURL, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// IsDuplicateDatabase reports CREATE DATABASE failing because the database
// exists (SQLSTATE 42P04).
func IsDuplicateDatabase(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P04"
}

// admin runs one statement that cannot run in a transaction (CREATE or DROP
// DATABASE) on its own connection.
func admin(ctx context.Context, adminURL, sql string) error {
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		// pgx's message can quote the connection string.
		return errors.New("the server URL cannot be parsed as a PostgreSQL connection URL")
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}
