package database_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/todo-api/todo-api/database"
	"github.com/todo-api/todo-api/internal/pgharness"
	"github.com/todo-api/todo-api/internal/testdb"
)

// TestOpenDebugLogsStatements: Debug logs each statement, with parameters
// elided; without it nothing is logged per statement. StartupTimeout 0
// means the default budget, not none.
func TestOpenDebugLogsStatements(t *testing.T) {
	u := testdb.Fresh(t)
	for _, debug := range []bool{true, false} {
		var logs pgharness.LogBuffer
		db, err := database.Open(context.Background(), database.Options{URL: u, MaxOpenConns: 1, Debug: debug, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		if err != nil {
			t.Fatal(err)
		}
		// Exec and Find go through GORM's parameter filter. (Raw(...).Scan
		// does not: GORM 1.31's Scan logs through a recorder that inlines
		// the parameters whatever ParameterizedQueries says.)
		if err := db.Exec("SELECT length(?::text)", "hidden-parameter").Error; err != nil {
			t.Errorf("exec: %v", err)
		}
		var names []string
		if err := db.Table("pg_database").Where("datname = ?", "hidden-parameter").Pluck("datname", &names).Error; err != nil || len(names) != 0 {
			t.Errorf("query: %v, %v", names, err)
		}
		sqlDB, _ := db.DB()
		sqlDB.Close()
		out := logs.String()
		if !strings.Contains(out, "database connected") || !strings.Contains(out, "query_exec_mode=cache_statement") {
			t.Errorf("debug=%v: the connection was not logged:\n%s", debug, out)
		}
		for _, sql := range []string{"SELECT length($1$::text)", `SELECT \"datname\" FROM \"pg_database\" WHERE datname = $1$`} {
			if logged := strings.Contains(out, sql); logged != debug {
				t.Errorf("debug=%v: %s logged = %v:\n%s", debug, sql, logged, out)
			}
		}
		if strings.Contains(out, "hidden-parameter") {
			t.Errorf("debug=%v: a parameter was logged:\n%s", debug, out)
		}
	}
}
