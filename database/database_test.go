package database

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

func TestDirectURL(t *testing.T) {
	tests := []struct {
		name, pooled, unpooled, want string
	}{
		{"neon pooled", "postgresql://neondb_owner:pw@ep-cool-darkness-a1b2c3d4-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require", "",
			"postgresql://neondb_owner:pw@ep-cool-darkness-a1b2c3d4.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require"},
		{"port kept", "postgres://u@ep-test-123456-pooler.local:5432/db", "", "postgres://u@ep-test-123456.local:5432/db"},
		{"already direct", "postgres://u@127.0.0.1:5432/todo?sslmode=disable", "", "postgres://u@127.0.0.1:5432/todo?sslmode=disable"},
		{"explicit unpooled wins", "postgres://u@ep-a-pooler.x.neon.tech/db", "postgres://u@other.host/db", "postgres://u@other.host/db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DirectURL(tt.pooled, tt.unpooled)
			if err != nil || got != tt.want {
				t.Errorf("DirectURL() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := DirectURL("postgres://u@h/db", "postgres://u@ep-a-pooler.x.neon.tech/db"); err == nil {
		t.Error("a -pooler DATABASE_URL_UNPOOLED was accepted")
	}
	if !IsPooled("postgres://u@ep-a-1-pooler.x.neon.tech/db") || IsPooled("postgres://u@ep-a-1.x.neon.tech/db") {
		t.Error("IsPooled misjudges Neon hosts")
	}
}

func TestIsTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01"}, true},
		{driver.ErrBadConn, true},
		{fmt.Errorf("create todo: %w", driver.ErrBadConn), true},
		{&pgconn.PgError{Code: "57P03"}, true},
		{&pgconn.PgError{Code: "08006"}, true},
		{&pgconn.PgError{Code: "53300"}, true},
		// In answer to a query, an internal error is the server's own.
		{&pgconn.PgError{Code: "XX000", Message: "Couldn't connect to compute node"}, false},
		{&pgconn.PgError{Code: "28P01"}, false},
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "42601"}, false},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), false}, // text is no evidence
		{errors.New("record not found"), false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := IsTransient(tt.err); got != tt.want {
			t.Errorf("IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestOpenGivesUpAtBudget(t *testing.T) {
	start := time.Now()
	_, err := Open(context.Background(), Options{URL: "postgres://u:secretpw@127.0.0.1:1/db?sslmode=disable", MaxOpenConns: 1, StartupTimeout: 1500 * time.Millisecond, ConnectTimeout: time.Second})
	elapsed := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "not reachable after") {
		t.Fatalf("err = %v, want a not-reachable error", err)
	}
	if strings.Contains(err.Error(), "secretpw") {
		t.Errorf("error leaks the password: %v", err)
	}
	if elapsed > 5*time.Second {
		t.Errorf("gave up after %s, budget was 1.5s", elapsed)
	}
}

func TestQueryExecModeByHost(t *testing.T) {
	tests := []struct{ url, mode, want string }{
		{"postgres://u@ep-a-1-pooler.x.neon.tech/db", "auto", "exec"},
		{"postgres://u@ep-a-1.x.neon.tech/db", "auto", "cache_statement"},
		{"postgres://u@ep-a-1-pooler.x.neon.tech/db", "simple_protocol", "simple_protocol"},
	}
	for _, tt := range tests {
		_, got, err := connConfig(Options{URL: tt.url, QueryExecMode: tt.mode})
		if err != nil || got != tt.want {
			t.Errorf("connConfig(%s, %s) mode = %q, %v; want %q", tt.url, tt.mode, got, err, tt.want)
		}
	}
}

func TestResolveURLs(t *testing.T) {
	const console = "postgresql://neondb_owner:npg_secret@ep-cool-darkness-a1b2c3d4-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require"
	urls, err := ResolveURLs(console, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "postgresql://neondb_owner:npg_secret@ep-cool-darkness-a1b2c3d4.us-east-2.aws.neon.tech/neondb?channel_binding=require&sslmode=require"; urls.Direct != want {
		t.Errorf("direct = %q, want %q", urls.Direct, want)
	}
	if !IsPooled(urls.Serve) {
		t.Errorf("serve URL %q is not the pooled one", urls.Serve)
	}
	if _, mode, err := connConfig(Options{URL: urls.Serve, QueryExecMode: "auto"}); err != nil || mode != "exec" {
		t.Errorf("pooled query mode = %q, %v; want exec", mode, err)
	}
	if _, mode, err := connConfig(Options{URL: urls.Direct, QueryExecMode: "auto"}); err != nil || mode != "cache_statement" {
		t.Errorf("direct query mode = %q, %v; want cache_statement", mode, err)
	}

	urls, err = ResolveURLs("postgres://u:p@ep-a-1.eu-central-1.aws.neon.tech/db", "")
	if err != nil || !strings.Contains(urls.Serve, "sslmode=require") {
		t.Errorf("sslmode not added for a Neon host: %q, %v", urls.Serve, err)
	}
	bad := []struct{ url, want string }{
		{"postgres://u:p@ep-a-1.eu-central-1.aws.neon.tech/db?sslmode=disable", "sslmode=disable is refused"},
		{"postgres://u:p@ep-a-1-pooler.eu-central-1.aws.neon.tech/db?sslmode=prefer", "sslmode=prefer is refused"},
		{"postgres://u:p@ep-a-1-pooler.eu-central-1.aws.neon.tech/db?sslmode=require&options=-c%20search_path%3Dx", "options cannot be set on a pooled"},
		{"postgres://u:p@ep-a-1-pooler.eu-central-1.aws.neon.tech/db?sslmode=require&search_path=app&statement_timeout=5s", "search_path, statement_timeout cannot be set"},
	}
	for _, b := range bad {
		_, err := ResolveURLs(b.url, "")
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("ResolveURLs(%s) = %v, want an error containing %q", b.url, err, b.want)
		}
		if err != nil && strings.Contains(err.Error(), ":p@") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
	// Startup parameters are fine on a direct host; local URLs pass through.
	for _, ok := range []string{
		"postgres://u:p@ep-a-1.eu-central-1.aws.neon.tech/db?sslmode=require&search_path=app",
		"postgres://postgres@127.0.0.1:5432/todo?sslmode=disable",
	} {
		if _, err := ResolveURLs(ok, ""); err != nil {
			t.Errorf("ResolveURLs(%s) = %v", ok, err)
		}
	}
}

// TestDeadIdleConnectionsAreReplaced: after the server terminates every
// backend, the very next statements, writes included, run on fresh
// connections instead of failing on dead ones.

// TestIsTransientProxyInternalError: Neon's proxy answers the startup
// message with XX000 when it cannot reach the compute. A stand-in proxy
// does the same here; the connection error that results is transient
// whatever its message says.
func TestIsTransientProxyInternalError(t *testing.T) {
	for _, msg := range []string{"Couldn't connect to compute node", "something else entirely"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
			be := pgproto3.NewBackend(conn, conn)
			for {
				m, err := be.ReceiveStartupMessage()
				if err != nil {
					return
				}
				if _, ok := m.(*pgproto3.SSLRequest); ok {
					conn.Write([]byte("N"))
					continue
				}
				be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "XX000", Message: msg})
				be.Flush()
				return
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = pgconn.Connect(ctx, "postgres://u@"+ln.Addr().String()+"/db?sslmode=disable")
		cancel()
		ln.Close()
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "XX000" {
			t.Fatalf("%q: want a connect error carrying XX000, got %v", msg, err)
		}
		if !IsTransient(err) {
			t.Errorf("%q: XX000 from the proxy during connect: not transient, want transient (%v)", msg, err)
		}
	}
}
