package database_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/todo-api/todo-api/database"
	"github.com/todo-api/todo-api/internal/testdb"
)

func TestOpenCreatesMissingDatabase(t *testing.T) {
	name := testdb.NewName("created")
	t.Cleanup(func() { testdb.Drop(context.Background(), name) })
	db, err := database.Open(context.Background(), database.Options{URL: testdb.URLFor(name), MaxOpenConns: 2, CreateIfMissing: true, StartupTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := db.Raw("SELECT current_database()").Scan(&got).Error; err != nil || got != name {
		t.Errorf("current_database() = %q, %v; want %q", got, err, name)
	}
	sqlDB, _ := db.DB()
	sqlDB.Close()
}

func TestOpenMissingDatabaseWithoutCreate(t *testing.T) {
	_, err := database.Open(context.Background(), database.Options{URL: testdb.URLFor(testdb.NewName("absent")), MaxOpenConns: 1, StartupTimeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "3D000") {
		t.Errorf("err = %v, want a clear missing-database error", err)
	}
}

func TestDeadIdleConnectionsAreReplaced(t *testing.T) {
	db, err := database.Open(context.Background(), database.Options{URL: testdb.Fresh(t), MaxOpenConns: 4, MaxIdleConns: 4, StartupTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()
	if err := db.Exec("CREATE TABLE t (n int)").Error; err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		// Warm all four connections at once.
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() { defer wg.Done(); db.Exec("SELECT pg_sleep(0.05)") }()
		}
		wg.Wait()
		if err := db.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()").Error; err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // the FATAL messages arrive
		// Concurrent writes, each holding its connection a moment, so that
		// every pooled connection (the dead ones too) is taken.
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = db.Exec("INSERT INTO t SELECT ? FROM pg_sleep(0.02)", i).Error
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d: write %d after termination failed: %v", round, i, err)
			}
		}
	}
}
