package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/todo-api/todo-api/internal/testdb"
)

// relCheck503 checks a 503 carries Retry-After and a problem document
// whose status is 503.
func relCheck503(c response) string {
	if c.Header.Get("Retry-After") == "" {
		return "503 without Retry-After"
	}
	if ct := c.Header.Get("Content-Type"); ct != "application/problem+json" {
		return "503 with Content-Type " + ct
	}
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(c.Body, &p); err != nil || p.Status != http.StatusServiceUnavailable || p.Detail == "" {
		return fmt.Sprintf("503 with a bad problem document: %.200s", c.Body)
	}
	return ""
}

// TestPoolExhaustion: with a pool of 2 connections and a 1 s request
// timeout, a todo row locked by another session makes PATCHes of it wait;
// they and everything queued behind them for a connection answer 503 with
// Retry-After within the timeout (never 500, never a hang), and the moment
// the lock goes the service answers 200 again.
func TestPoolExhaustion(t *testing.T) {
	const requestTimeout = time.Second
	dbURL := testdb.Fresh(t)
	s := startServer(t, map[string]string{
		"DATABASE_URL":      dbURL,
		"DB_MAX_OPEN_CONNS": "2",
		"DB_MAX_IDLE_CONNS": "2",
		"REQUEST_TIMEOUT":   requestTimeout.String(),
	})
	c := newClient(s.URL)
	token := register(t, c, "pool_user")
	var locked, other struct {
		ID int64 `json:"id"`
	}
	c.do("POST", "/api/v1/todos", token, map[string]any{"title": "locked"}).expect(t, http.StatusCreated, &locked)
	c.do("POST", "/api/v1/todos", token, map[string]any{"title": "other"}).expect(t, http.StatusCreated, &other)

	// Another session holds the row lock, as a long transaction would.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SELECT id FROM todos WHERE id = $1 FOR UPDATE", locked.ID); err != nil {
		t.Fatal(err)
	}

	type job struct {
		kind          string
		method, path  string
		body          any
		token         string
		mayBeAnswered bool // 200 is possible while the lock is held
	}
	var jobs []job
	for i := range 20 {
		jobs = append(jobs, job{"PATCH locked", "PATCH", fmt.Sprintf("/api/v1/todos/%d", locked.ID), map[string]any{"title": fmt.Sprintf("patch %d", i)}, token, false})
	}
	others := []job{
		{"GET other todo", "GET", fmt.Sprintf("/api/v1/todos/%d", other.ID), nil, token, true},
		{"GET list", "GET", "/api/v1/todos?limit=5", nil, token, true},
		{"GET me", "GET", "/api/v1/users/me", nil, token, true},
		{"GET healthz", "GET", "/healthz", nil, "", true},
	}
	for i := range 20 {
		jobs = append(jobs, others[i%len(others)])
	}
	// Three waves while the lock is held: the queue forms, times out and
	// forms again on a pool whose connections were just given up.
	const waves = 3
	bound := requestTimeout + time.Second
	counts := map[string]map[int]int{}
	var slowest time.Duration
	var bursts []string
	for wave := 1; wave <= waves; wave++ {
		calls := make([]response, len(jobs))
		var wg sync.WaitGroup
		startLine := make(chan struct{})
		for i, j := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-startLine
				calls[i] = c.do(j.method, j.path, j.token, j.body)
			}()
		}
		fired := time.Now()
		close(startLine)
		wg.Wait()
		bursts = append(bursts, time.Since(fired).Round(time.Millisecond).String())

		for i, r := range calls {
			j := jobs[i]
			if counts[j.kind] == nil {
				counts[j.kind] = map[int]int{}
			}
			counts[j.kind][r.Status]++
			slowest = max(slowest, r.Latency)
			switch {
			case r.Err != nil:
				t.Errorf("wave %d, %s: no answer after %v: %v", wave, r.Name, r.Latency.Round(time.Millisecond), r.Err)
				continue
			case r.Latency > bound:
				t.Errorf("wave %d, %s: answered %d after %v, want within %v", wave, r.Name, r.Status, r.Latency.Round(time.Millisecond), bound)
			}
			switch r.Status {
			case http.StatusOK:
				if !j.mayBeAnswered {
					t.Errorf("wave %d, %s answered 200 while another session held the row lock", wave, r.Name)
				}
			case http.StatusServiceUnavailable:
				if why := relCheck503(r); why != "" {
					t.Errorf("wave %d, %s: %s", wave, r.Name, why)
				}
			default:
				t.Errorf("wave %d, %s: status %d, want 200 or 503; body: %.300s", wave, r.Name, r.Status, r.Body)
			}
		}
	}
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var summary strings.Builder
	for _, k := range kinds {
		fmt.Fprintf(&summary, " %s %v;", k, counts[k])
	}
	t.Logf("locked row, pool of 2, REQUEST_TIMEOUT=%v: %d waves of %d requests, each wave answered within %s, slowest request %v; statuses:%s", requestTimeout, waves, len(jobs), strings.Join(bursts, "/"), slowest.Round(time.Millisecond), summary.String())
	if h := counts["GET healthz"]; len(h) != 1 || h[http.StatusOK] == 0 {
		t.Errorf("/healthz needs no database and must answer 200 throughout: %v", counts["GET healthz"])
	}

	// Release the lock: the service is itself again at once.
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	released := time.Now()
	var recovered time.Duration
	for {
		ok := true
		for _, j := range []job{others[0], others[1], others[2], {"PATCH locked", "PATCH", fmt.Sprintf("/api/v1/todos/%d", locked.ID), map[string]any{"priority": 3}, token, true}} {
			r := c.do(j.method, j.path, j.token, j.body)
			if r.Err != nil || r.Status != http.StatusOK {
				ok = false
				if time.Since(released) > time.Second {
					t.Fatalf("%s after the lock was released (%v ago): status %d, err %v; body %.300s", r.Name, time.Since(released).Round(time.Millisecond), r.Status, r.Err, r.Body)
				}
			}
		}
		if ok {
			recovered = time.Since(released)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("after the lock was released: every route 200 within %v", recovered.Round(time.Millisecond))

	// A PATCH told 503 (retry later) must not have been applied: a
	// statement the service gave up on could otherwise still be waiting in
	// PostgreSQL and run the moment the lock went.
	time.Sleep(500 * time.Millisecond)
	var title string
	if err := conn.QueryRow(ctx, "SELECT title FROM todos WHERE id = $1", locked.ID).Scan(&title); err != nil {
		t.Fatal(err)
	}
	if title != "locked" {
		t.Errorf("the locked todo's title is now %q: a PATCH answered 503 was applied after the lock was released", title)
	}
}
