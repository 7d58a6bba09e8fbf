package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/todo-api/todo-api/internal/pgharness"
)

// TestNeonRestartUnderLoad: `pg_ctl restart -m fast` in the middle of reads
// and creates by more clients than the pool has connections. No 500s (503 while down is fine); reads recover; every
// created (201) todo exists exactly once and no create was applied twice.
func TestNeonRestartUnderLoad(t *testing.T) {
	c := pgharness.StartCluster(t, pgharness.Options{})
	c.CreateDatabase("neondb", "")
	s := startServer(t, neonServerEnv(c.URLFor("neondb"), nil))
	cl := newClient(s.URL)
	token := register(t, cl, "loaded")

	type result struct {
		title   string
		status  int
		at, end time.Time
		read    bool
	}
	var (
		mu      sync.Mutex
		results []result
		seq     atomic.Int64
		stop    atomic.Bool
	)
	// More workers than the pool has connections (DB_MAX_OPEN_CONNS, 10):
	// with fewer, database/sql's last retry after a dead connection always
	// found a fresh one, and driver.ErrBadConn, which it answers when that
	// retry waits for a connection another request hands back (dead too),
	// never reached the service, which then took it for a 500.
	const workers = 16
	var wg sync.WaitGroup
	loadStart := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load() && i < 4000 && time.Since(loadStart) < 30*time.Second; i++ {
				at := time.Now()
				var res result
				if i%2 == 0 {
					r := cl.do("GET", "/api/v1/todos?limit=5&sort=-created_at", token, nil)
					res = result{status: r.Status, at: at, read: true}
					if r.Err != nil {
						res.status = -1
					}
				} else {
					title := fmt.Sprintf("load-%d-%d", w, seq.Add(1))
					r := cl.do("POST", "/api/v1/todos", token, map[string]any{"title": title})
					res = result{title: title, status: r.Status, at: at}
					if r.Err != nil {
						res.status = -1
					}
				}
				res.end = time.Now()
				mu.Lock()
				results = append(results, res)
				mu.Unlock()
			}
		}()
	}
	// Two restarts, 1.5 s apart; a request may fail only while the server
	// is down and for a second after it is back.
	type window struct{ from, to time.Time }
	var down []window
	// Five restarts: the dead-connection race above showed in about one
	// restart in six.
	for range 5 {
		time.Sleep(1500 * time.Millisecond)
		from := time.Now()
		c.Restart()
		up := time.Now()
		down = append(down, window{from, up.Add(time.Second)})
		t.Logf("restart took %s (pg_ctl restart -m fast -w)", up.Sub(from).Round(time.Millisecond))
	}
	time.Sleep(2500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	// overlapsDown: the request was in flight during a restart (or the
	// second after it).
	overlapsDown := func(at, end time.Time) bool {
		for _, w := range down {
			if at.Before(w.to) && end.After(w.from) {
				return true
			}
		}
		return false
	}
	cut := strings.Count(c.Log(), "terminating connection due to administrator command")
	t.Logf("sessions cut by the restarts (PostgreSQL log): %d", cut)
	if cut == 0 {
		t.Errorf("the restarts cut no session: the load did not reach the database during them")
	}

	byStatus := map[string]int{}
	var bad500, afterRecovery []string
	created := map[string]bool{}
	unavailable := map[string]bool{}
	for _, r := range results {
		kind := "create"
		if r.read {
			kind = "read"
		}
		byStatus[fmt.Sprintf("%s %d", kind, r.status)]++
		switch {
		case r.status == 201 && !r.read:
			created[r.title] = true
		case r.status == 503 && !r.read:
			unavailable[r.title] = true
		}
		if r.status != 200 && r.status != 201 && r.status != 503 {
			bad500 = append(bad500, fmt.Sprintf("%s %q: %d", kind, r.title, r.status))
		}
		// Outside the restarts (and a second after each), everything works.
		if !overlapsDown(r.at, r.end) && r.status != 200 && r.status != 201 {
			afterRecovery = append(afterRecovery, fmt.Sprintf("%s %q at %s: %d", kind, r.title, r.at.Format("15:04:05.000"), r.status))
		}
	}
	t.Logf("%d requests over %s; by status: %v; 503s: %d", len(results), time.Since(loadStart).Round(time.Millisecond), byStatus, byStatus["read 503"]+byStatus["create 503"])
	if len(bad500) > 0 {
		t.Errorf("%d answers other than 200/201/503 (first: %v)", len(bad500), bad500[:min(5, len(bad500))])
	}
	if len(afterRecovery) > 0 {
		t.Errorf("%d failures outside the restarts (first: %v)", len(afterRecovery), afterRecovery[:min(5, len(afterRecovery))])
	}
	if byStatus["read 200"] == 0 || byStatus["create 201"] == 0 {
		t.Errorf("the load did nothing useful: %v", byStatus)
	}

	// Reads recover.
	for i := range 10 {
		if r := cl.do("GET", "/api/v1/todos?limit=5", token, nil); r.Status != 200 {
			t.Errorf("read %d after the restart: %d %s", i, r.Status, r.Body)
		}
	}

	// Every 201 exists exactly once; nothing exists twice.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URLFor("neondb"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT title, count(*) FROM todos WHERE title LIKE 'load-%' GROUP BY title`)
	if err != nil {
		t.Fatal(err)
	}
	inDB := map[string]int{}
	for rows.Next() {
		var title string
		var n int
		if err := rows.Scan(&title, &n); err != nil {
			t.Fatal(err)
		}
		inDB[title] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	missing, dup, stored503 := 0, 0, 0
	for title := range created {
		if inDB[title] != 1 {
			missing++
			if missing <= 5 {
				t.Errorf("created %q (201) is in the database %d times, want 1", title, inDB[title])
			}
		}
	}
	for title, n := range inDB {
		if n > 1 {
			dup++
			if dup <= 5 {
				t.Errorf("%q is stored %d times: a create was applied twice", title, n)
			}
		}
		if unavailable[title] {
			stored503++
		}
	}
	t.Logf("creates: %d answered 201 (all stored once: %v), %d answered 503 (%d of those committed anyway, the ambiguous in-flight commits); duplicates: %d",
		len(created), missing == 0, len(unavailable), stored503, dup)
}
