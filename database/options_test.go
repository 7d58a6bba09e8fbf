package database

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestNow(t *testing.T) {
	before := time.Now()
	got := Now()
	if got.Location() != time.UTC {
		t.Errorf("Now() is in %v, want UTC", got.Location())
	}
	if got.Nanosecond()%1000 != 0 {
		t.Errorf("Now() = %v keeps nanoseconds PostgreSQL would drop", got)
	}
	if d := got.Sub(before); d < -time.Microsecond || d > time.Second {
		t.Errorf("Now() is %s away from the clock", d)
	}
}

// TestConnConfigModes: every pgx mode name maps to its mode, others are
// refused; ConnectTimeout applies unless the URL sets connect_timeout; an
// unparseable URL is refused without quoting it.
func TestConnConfigModes(t *testing.T) {
	const direct = "postgres://u:secretpw@127.0.0.1:5432/db"
	for name, want := range map[string]pgx.QueryExecMode{
		"cache_statement": pgx.QueryExecModeCacheStatement,
		"cache_describe":  pgx.QueryExecModeCacheDescribe,
		"describe_exec":   pgx.QueryExecModeDescribeExec,
		"exec":            pgx.QueryExecModeExec,
		"simple_protocol": pgx.QueryExecModeSimpleProtocol,
		"":                pgx.QueryExecModeCacheStatement,
	} {
		cfg, mode, err := connConfig(Options{URL: direct, QueryExecMode: name})
		if err != nil || cfg.DefaultQueryExecMode != want || (name != "" && mode != name) {
			t.Errorf("mode %q: %v, %q, %v; want %v", name, cfg.DefaultQueryExecMode, mode, err, want)
		}
	}
	if _, _, err := connConfig(Options{URL: direct, QueryExecMode: "prepared"}); err == nil || !strings.Contains(err.Error(), `DB_QUERY_EXEC_MODE "prepared" is not a pgx query mode`) {
		t.Errorf("unknown mode: %v", err)
	}

	cfg, _, err := connConfig(Options{URL: direct, ConnectTimeout: 3 * time.Second})
	if err != nil || cfg.ConnectTimeout != 3*time.Second {
		t.Errorf("ConnectTimeout option: %v, %v; want 3s", cfg.ConnectTimeout, err)
	}
	cfg, _, err = connConfig(Options{URL: direct + "?connect_timeout=7", ConnectTimeout: 3 * time.Second})
	if err != nil || cfg.ConnectTimeout != 7*time.Second {
		t.Errorf("connect_timeout in the URL: %v, %v; want the URL's 7s", cfg.ConnectTimeout, err)
	}

	_, err = Open(context.Background(), Options{URL: direct + "?sslmode=bogus"})
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL cannot be parsed") || strings.Contains(err.Error(), "secretpw") {
		t.Errorf("Open with an unparseable URL: %v, want a refusal without the password", err)
	}
}
