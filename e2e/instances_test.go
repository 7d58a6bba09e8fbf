package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/todo-api/todo-api/internal/testdb"
	"github.com/todo-api/todo-api/migrations"
)

// TestTwoInstancesShareEverything: two instances on one database, started
// at the same moment (both apply migrations at start: one does, the other
// waits and serves), with the same secret. A token from one works on the
// other; every page of a cursor walk can come from the other instance; an
// Idempotency-Key replays across them; and a deactivation on one is
// refused at once on the other (each statement checks the account).
func TestTwoInstancesShareEverything(t *testing.T) {
	dbURL := testdb.Fresh(t)
	servers := make([]*server, 2)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Go(func() { servers[i] = launchServer(t, map[string]string{"DATABASE_URL": dbURL}) })
	}
	wg.Wait()
	for _, s := range servers {
		if err := s.waitReady(60 * time.Second); err != nil {
			t.Fatalf("instance not ready: %v\n%s", err, s.logs.String())
		}
	}
	a, b := newClient(servers[0].URL), newClient(servers[1].URL)
	// Exactly one instance applied the migrations; the other found the
	// schema at head (it waited for the lock, or came after).
	applied := appliedAtStart(t, servers)
	if len(applied) != 2 || applied[0]+applied[1] != len(migrations.All()) || (applied[0] != 0 && applied[1] != 0) {
		t.Fatalf("migrations applied per instance: %v, want %d by one and 0 by the other", applied, len(migrations.All()))
	}
	t.Logf("migrations applied per instance: %v", applied)

	token := register(t, a, "twoinst")
	items := make([]map[string]any, 45)
	for i := range items {
		items[i] = map[string]any{"title": fmt.Sprintf("item %02d", i)}
	}
	b.do("POST", "/api/v1/todos/batch", token, map[string]any{"items": items}).expect(t, http.StatusCreated, nil)

	// A cursor walk, alternating instances page by page.
	seen := map[int64]bool{}
	path := "/api/v1/todos?limit=10"
	for page := 0; ; page++ {
		c := []*client{a, b}[page%2]
		var p apiPage
		c.do("GET", path, token, nil).expect(t, http.StatusOK, &p)
		for _, it := range p.Items {
			if seen[it.ID] {
				t.Fatalf("page %d repeats todo %d", page, it.ID)
			}
			seen[it.ID] = true
		}
		if p.NextCursor == nil {
			break
		}
		path = "/api/v1/todos?limit=10&cursor=" + *p.NextCursor
	}
	if len(seen) != 45 {
		t.Fatalf("the walk across instances saw %d todos, want 45", len(seen))
	}

	// The same Idempotency-Key on both instances: one todo.
	first := a.do("POST", "/api/v1/todos", token, map[string]any{"title": "once"}, "Idempotency-Key", "across")
	first.expect(t, http.StatusCreated, nil)
	again := b.do("POST", "/api/v1/todos", token, map[string]any{"title": "once"}, "Idempotency-Key", "across")
	again.expect(t, http.StatusCreated, nil)
	if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
		t.Fatalf("replay on the other instance: %v %s", again.Header, again.Body)
	}
	var p apiPage
	a.do("GET", "/api/v1/todos?limit=1", token, nil).expect(t, http.StatusOK, &p)
	if p.Total != 46 {
		t.Fatalf("after a create and its replay on another instance: %d todos, want 46", p.Total)
	}

	// Deactivation on one instance is seen by the other at once.
	b.do("GET", "/api/v1/users/me", token, nil).expect(t, http.StatusOK, nil)
	a.do("DELETE", "/api/v1/users/me", token, nil).expect(t, http.StatusNoContent, nil)
	b.do("GET", "/api/v1/todos", token, nil).expect(t, http.StatusUnauthorized, nil)
}
