package controllers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
)

// TestListLimitsOverHTTP: a listing stuck past LIST_TIMEOUT (here behind
// a lock on todos taken elsewhere) is a 503 that says so, not "the
// database is unavailable"; a listing beyond LIST_CONCURRENCY of the same
// account (its one slot held by a listing elsewhere) is a 429 with
// Retry-After, answered at once.
func TestListLimitsOverHTTP(t *testing.T) {
	a := newAPI(t, map[string]string{"LIST_TIMEOUT": "300ms", "LIST_CONCURRENCY": "1"})
	acc := newAccount(t, a)
	createTodo(t, a, acc.Token, map[string]any{"title": "locked away"})

	hold := func(stmt string, args ...any) (release func()) {
		locked, done := make(chan struct{}), make(chan struct{})
		errc := make(chan error, 1)
		go func() {
			errc <- db.Transaction(func(tx *gorm.DB) error {
				if err := tx.Exec(stmt, args...).Error; err != nil {
					return err
				}
				close(locked)
				<-done
				return nil
			})
		}()
		select {
		case <-locked:
		case err := <-errc:
			t.Fatal(err)
		}
		return func() {
			close(done)
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
	}

	// The account's listing slot, as services.Todos.listGate takes it
	// (class 0x746f6400, the user id), held by a listing on another
	// instance.
	release := hold("SELECT pg_advisory_xact_lock(?, ?)", 0x746f6400, acc.ID)
	start := time.Now()
	r := expect(t, a.do(req{Method: "GET", Path: "/api/v1/todos?q=locked", Token: acc.Token}), http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" || time.Since(start) > 2*time.Second {
		t.Errorf("429 after %s, Retry-After %q; want it at once, with Retry-After", time.Since(start), r.Header.Get("Retry-After"))
	}
	release()

	release = hold("LOCK TABLE todos IN ACCESS EXCLUSIVE MODE")
	// While one listing waits on the lock (holding the account's one
	// slot in this instance), a second is refused here, without a
	// statement.
	first := make(chan response, 1)
	go func() { first <- a.do(req{Method: "GET", Path: "/api/v1/todos", Token: acc.Token}) }()
	for waiting := int64(0); waiting == 0; { // until the first waits on the lock
		db.Raw("SELECT count(*) FROM pg_locks WHERE relation = 'todos'::regclass AND NOT granted").Scan(&waiting)
	}
	expect(t, a.do(req{Method: "GET", Path: "/api/v1/todos?limit=5", Token: acc.Token}), http.StatusTooManyRequests)
	r = <-first
	expect(t, r, http.StatusServiceUnavailable)
	if strings.Contains(string(r.Body), "database is unavailable") || !strings.Contains(string(r.Body), "took too long") {
		t.Errorf("503 of a stopped listing: %s", r.Body)
	}
	release()
	expect(t, a.do(req{Method: "GET", Path: "/api/v1/todos", Token: acc.Token}), http.StatusOK)
}

// TestCreateLimitsOverHTTP: past the account's write budget a create is a
// 429 with Retry-After; past MAX_TODOS_PER_USER a 403 that says how many
// the account holds; neither writes anything.
func TestCreateLimitsOverHTTP(t *testing.T) {
	batch := func(n int) map[string]any {
		items := make([]map[string]any, n)
		for i := range items {
			items[i] = map[string]any{"title": "bulk"}
		}
		return map[string]any{"items": items}
	}
	rated := newAPI(t, map[string]string{"TODO_CREATE_RATE": "60", "TODO_CREATE_BURST": "1000"})
	acc := newAccount(t, rated)
	expect(t, rated.do(req{Method: "POST", Path: "/api/v1/todos/batch", Token: acc.Token, Body: batch(1000)}), http.StatusCreated)
	r := expect(t, rated.do(req{Method: "POST", Path: "/api/v1/todos", Token: acc.Token, Body: map[string]any{"title": "one more"}}), http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}

	capped := newAPI(t, map[string]string{"MAX_TODOS_PER_USER": "1000"})
	acc = newAccount(t, capped)
	expect(t, capped.do(req{Method: "POST", Path: "/api/v1/todos/batch", Token: acc.Token, Body: batch(999)}), http.StatusCreated)
	r = expect(t, capped.do(req{Method: "POST", Path: "/api/v1/todos/batch", Token: acc.Token, Body: batch(2)}), http.StatusForbidden)
	if !strings.Contains(string(r.Body), "999") {
		t.Errorf("403 does not say how many the account holds: %s", r.Body)
	}
	var page struct{ Total int }
	expect(t, capped.do(req{Method: "GET", Path: "/api/v1/todos", Token: acc.Token}), http.StatusOK).Decode(t, &page)
	if page.Total != 999 {
		t.Errorf("after the refused batch: %d todos, want 999", page.Total)
	}
	expect(t, capped.do(req{Method: "POST", Path: "/api/v1/todos", Token: acc.Token, Body: map[string]any{"title": "the last one"}}), http.StatusCreated)
}
