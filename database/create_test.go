package database_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/todo-api/todo-api/database"
	"github.com/todo-api/todo-api/internal/testdb"
)

// TestCreateAndDropDatabase: CreateDatabase returns the new database's URL
// and reports an existing one as a duplicate; DropDatabase disconnects the
// sessions, and dropping what is gone is no error.
func TestCreateAndDropDatabase(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := testdb.NewName("Create Drop") // upper case and a space: quoted, not folded
	t.Cleanup(func() { testdb.Drop(context.Background(), name) })

	u, err := database.CreateDatabase(ctx, testdb.ServerURL(), name)
	if err != nil {
		t.Fatal(err)
	}
	if want := testdb.URLFor(name); u != want {
		t.Errorf("CreateDatabase URL = %q, want %q", u, want)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var got string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&got); err != nil || got != name {
		t.Errorf("current_database() = %q, %v; want %q", got, err, name)
	}

	_, err = database.CreateDatabase(ctx, testdb.ServerURL(), name)
	if !database.IsDuplicateDatabase(err) {
		t.Errorf("creating it again: %v, want a duplicate-database error", err)
	}
	if database.IsDuplicateDatabase(errors.New("42P04")) || database.IsDuplicateDatabase(nil) {
		t.Error("IsDuplicateDatabase goes by the text, or by nothing")
	}

	// The open session does not stop the drop: it is disconnected.
	if err := database.DropDatabase(ctx, testdb.ServerURL(), name); err != nil {
		t.Fatalf("drop with a session open: %v", err)
	}
	if err := conn.Ping(ctx); err == nil {
		t.Error("the session on the dropped database still works")
	}
	if _, err := pgx.Connect(ctx, u); !database.IsMissingDatabase(err) {
		t.Errorf("connect to the dropped database: %v, want SQLSTATE 3D000", err)
	}
	if err := database.DropDatabase(ctx, testdb.ServerURL(), name); err != nil {
		t.Errorf("dropping a missing database: %v", err)
	}
}

// TestCreateDatabaseFailures: an unreachable server is a ConnectError worth
// retrying; a URL pgx cannot read or url cannot parse is refused without
// quoting it.
func TestCreateDatabaseFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, err := database.CreateDatabase(ctx, "postgres://u:secretpw@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2", "x")
	var connectErr *pgconn.ConnectError
	if !errors.As(err, &connectErr) || !database.IsTransient(err) {
		t.Errorf("unreachable server: %v, want a transient *pgconn.ConnectError", err)
	}
	if err := database.DropDatabase(ctx, "postgres://u:secretpw@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2", "x"); !errors.As(err, &connectErr) {
		t.Errorf("drop on an unreachable server: %v, want a *pgconn.ConnectError", err)
	}

	for _, bad := range []struct{ url, want string }{
		{"postgres://u:secretpw@127.0.0.1:5432/postgres?sslmode=bogus", "cannot be parsed as a PostgreSQL connection URL"},
		{"postgres://u:secretpw@127.0.0.1:5432/postgres%zz", "not a valid URL"},
	} {
		_, err := database.CreateDatabase(ctx, bad.url, "x")
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("CreateDatabase(%s) = %v, want %q", bad.url, err, bad.want)
		}
		if err != nil && strings.Contains(err.Error(), "secretpw") {
			t.Errorf("the error quotes the password: %v", err)
		}
	}
}

// TestOpenCannotCreate: with CreateIfMissing, a user who may not create
// databases gets PostgreSQL's refusal at once, not retries until the
// budget; a URL naming no database cannot say what to create.
func TestOpenCannotCreate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	role := testdb.NewName("nocreatedb")
	admin, err := pgx.Connect(ctx, testdb.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: the role goes before the connection.
	t.Cleanup(func() { admin.Close(context.Background()) })
	if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN NOCREATEDB PASSWORD 'pw'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize()); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	as := func(db string) string {
		u, err := url.Parse(testdb.URLFor(db))
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(role, "pw")
		return u.String()
	}

	missing := testdb.NewName("never_created")
	t.Cleanup(func() { testdb.Drop(context.Background(), missing) })
	start := time.Now()
	_, err = database.Open(ctx, database.Options{URL: as(missing), MaxOpenConns: 1, CreateIfMissing: true, StartupTimeout: 20 * time.Second})
	if want := `create database "` + missing + `": permission denied to create database (SQLSTATE 42501)`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("a refusal took %s: it was retried", elapsed)
	}

	// No database in the URL: the server looks for one named after the
	// user, which does not exist either.
	noDB := strings.Replace(as("x"), "/x", "", 1)
	_, err = database.Open(ctx, database.Options{URL: noDB, MaxOpenConns: 1, CreateIfMissing: true, StartupTimeout: 20 * time.Second})
	if want := "DATABASE_URL: the URL names no database"; err == nil || err.Error() != want {
		t.Errorf("URL without a database: %v, want %q", err, want)
	}
}
