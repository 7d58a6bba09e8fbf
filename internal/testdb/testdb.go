// Package testdb gives tests real, throwaway PostgreSQL databases on the
// server named by TEST_DATABASE_URL (default: the local server). An
// unreachable server fails the tests loudly; nothing is skipped.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/todo-api/todo-api/database"
)

// DefaultServer is used when TEST_DATABASE_URL is not set.
const DefaultServer = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL returns the URL of the server's maintenance database.
func ServerURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultServer
}

// URLFor returns the server URL pointing at database name.
func URLFor(name string) string {
	u, err := database.WithDatabase(ServerURL(), name)
	if err != nil {
		panic("TEST_DATABASE_URL is not a valid URL")
	}
	return u
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// NewName returns a fresh database name with the given prefix.
func NewName(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	p := unsafeChars.ReplaceAllString(strings.ToLower(prefix), "_")
	if len(p) > 30 {
		p = p[:30]
	}
	return fmt.Sprintf("test_%s_%s", p, hex.EncodeToString(b))
}

// Create makes an empty database and returns its URL.
func Create(ctx context.Context, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	u, err := database.CreateDatabase(ctx, ServerURL(), name)
	if err != nil {
		return "", fmt.Errorf("create test database %s on %s: %w", name, redacted(), err)
	}
	return u, nil
}

// Drop removes a database, disconnecting its sessions.
func Drop(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	return database.DropDatabase(ctx, ServerURL(), name)
}

// adminTimeout bounds creating or dropping one database.
const adminTimeout = 30 * time.Second

func redacted() string {
	u, err := url.Parse(ServerURL())
	if err != nil {
		return "(invalid TEST_DATABASE_URL)"
	}
	return u.Redacted()
}

// Main runs a test package against its own database: created before m.Run,
// dropped after. *dbURL receives the database's URL; setup functions run
// before the tests (to migrate, say). It returns the exit status for os.Exit.
func Main(m *testing.M, pkg string, dbURL *string, setup ...func() error) int {
	ctx := context.Background()
	name := NewName(pkg)
	u, err := Create(ctx, name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: no PostgreSQL for the tests: %v\nStart PostgreSQL or set TEST_DATABASE_URL.\n", err)
		return 1
	}
	*dbURL = u
	code := 0
	for _, f := range setup {
		if err := f(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: test setup: %v\n", err)
			code = 1
		}
	}
	if code == 0 {
		code = m.Run()
	}
	if err := Drop(ctx, name); err != nil {
		fmt.Fprintf(os.Stderr, "drop test database %s: %v\n", name, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Fresh creates an empty database for one test and drops it when the test
// ends.
func Fresh(t testing.TB) string {
	t.Helper()
	name := NewName(t.Name())
	u, err := Create(context.Background(), name)
	if err != nil {
		t.Fatalf("no PostgreSQL for the tests: %v", err)
	}
	t.Cleanup(func() {
		if err := Drop(context.Background(), name); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	return u
}
