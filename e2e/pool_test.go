package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/todo-api/todo-api/internal/testdb"
)

// relCall is one finished HTTP exchange.
type relCall struct {
	name    string
	status  int
	header  http.Header
	body    []byte
	latency time.Duration
	err     error
}

// relDo sends one JSON request and reads the whole answer.
func relDo(client *http.Client, base, token, method, path string, body any) relCall {
	c := relCall{name: method + " " + path}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.err = err
			return c
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		c.err = err
		return c
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		c.err, c.latency = err, time.Since(start)
		return c
	}
	defer resp.Body.Close()
	c.body, c.err = io.ReadAll(resp.Body)
	c.status, c.header, c.latency = resp.StatusCode, resp.Header, time.Since(start)
	return c
}

// relMust fails unless the exchange answered want, and decodes its body.
func relMust(t *testing.T, c relCall, want int, v any) {
	t.Helper()
	if c.err != nil || c.status != want {
		t.Fatalf("%s: status %d, err %v, want %d; body: %.300s", c.name, c.status, c.err, want, c.body)
	}
	if v != nil {
		if err := json.Unmarshal(c.body, v); err != nil {
			t.Fatalf("%s: decode: %v: %s", c.name, err, c.body)
		}
	}
}

// relAccount registers and logs in a user on a running server.
func relAccount(t *testing.T, client *http.Client, base, name string) string {
	t.Helper()
	const password = "correct horse battery"
	relMust(t, relDo(client, base, "", "POST", "/api/v1/auth/register", map[string]any{"email": name + "@example.com", "username": name, "password": password}), http.StatusCreated, nil)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	relMust(t, relDo(client, base, "", "POST", "/api/v1/auth/login", map[string]any{"username": name, "password": password}), http.StatusOK, &tok)
	return tok.AccessToken
}

// relCheck503 checks a 503 carries Retry-After and a problem document
// whose status is 503.
func relCheck503(c relCall) string {
	if c.header.Get("Retry-After") == "" {
		return "503 without Retry-After"
	}
	if ct := c.header.Get("Content-Type"); ct != "application/problem+json" {
		return "503 with Content-Type " + ct
	}
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(c.body, &p); err != nil || p.Status != http.StatusServiceUnavailable || p.Detail == "" {
		return fmt.Sprintf("503 with a bad problem document: %.200s", c.body)
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
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	token := relAccount(t, client, s.URL, "pool_user")
	var locked, other struct {
		ID int64 `json:"id"`
	}
	relMust(t, relDo(client, s.URL, token, "POST", "/api/v1/todos", map[string]any{"title": "locked"}), http.StatusCreated, &locked)
	relMust(t, relDo(client, s.URL, token, "POST", "/api/v1/todos", map[string]any{"title": "other"}), http.StatusCreated, &other)

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
		calls := make([]relCall, len(jobs))
		var wg sync.WaitGroup
		startLine := make(chan struct{})
		for i, j := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-startLine
				calls[i] = relDo(client, s.URL, j.token, j.method, j.path, j.body)
			}()
		}
		fired := time.Now()
		close(startLine)
		wg.Wait()
		bursts = append(bursts, time.Since(fired).Round(time.Millisecond).String())

		for i, c := range calls {
			j := jobs[i]
			if counts[j.kind] == nil {
				counts[j.kind] = map[int]int{}
			}
			counts[j.kind][c.status]++
			slowest = max(slowest, c.latency)
			switch {
			case c.err != nil:
				t.Errorf("wave %d, %s: no answer after %v: %v", wave, c.name, c.latency.Round(time.Millisecond), c.err)
				continue
			case c.latency > bound:
				t.Errorf("wave %d, %s: answered %d after %v, want within %v", wave, c.name, c.status, c.latency.Round(time.Millisecond), bound)
			}
			switch c.status {
			case http.StatusOK:
				if !j.mayBeAnswered {
					t.Errorf("wave %d, %s answered 200 while another session held the row lock", wave, c.name)
				}
			case http.StatusServiceUnavailable:
				if why := relCheck503(c); why != "" {
					t.Errorf("wave %d, %s: %s", wave, c.name, why)
				}
			default:
				t.Errorf("wave %d, %s: status %d, want 200 or 503; body: %.300s", wave, c.name, c.status, c.body)
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
			c := relDo(client, s.URL, j.token, j.method, j.path, j.body)
			if c.err != nil || c.status != http.StatusOK {
				ok = false
				if time.Since(released) > time.Second {
					t.Fatalf("%s after the lock was released (%v ago): status %d, err %v; body %.300s", c.name, time.Since(released).Round(time.Millisecond), c.status, c.err, c.body)
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
