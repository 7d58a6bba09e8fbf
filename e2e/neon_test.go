package e2e

// The Neon failure modes, proven with real parts on this machine: PgBouncer
// 1.18 in transaction mode plays the -pooler endpoint, private PostgreSQL
// clusters play a compute that suspends (backends terminated), cold-starts,
// restarts and demands TLS + SCRAM, and /etc/hosts gives them Neon-shaped
// names (internal/pgharness). Run: go test -race -count=1 -run TestNeon ./e2e/ -v

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/todo-api/todo-api/database"
	"github.com/todo-api/todo-api/internal/pgharness"
	"github.com/todo-api/todo-api/internal/testdb"
	"github.com/todo-api/todo-api/migrations"
)

// neonMainPort is the machine's main PostgreSQL (127.0.0.1:5432). The pooled
// stand-in listens on the same port at 127.0.0.2, so that removing "-pooler"
// from the host name is all it takes to reach the direct server, as on Neon.
const neonMainPort = 5432

// neonPooledURL is the pooled stand-in URL of a database on the main
// server.
func neonPooledURL(dbname string) string {
	return fmt.Sprintf("postgres://postgres@%s:%d/%s?sslmode=disable", pgharness.PoolerHost, neonMainPort, dbname)
}

// neonDBName returns the database name of a URL.
func neonDBName(t testing.TB, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// neonRequireMainServer fails unless the test databases live on the main
// server at 127.0.0.1:5432, which the pooler stand-in fronts.
func neonRequireMainServer(t testing.TB) {
	t.Helper()
	u, err := url.Parse(testdb.ServerURL())
	if err != nil || u.Hostname() != "127.0.0.1" || (u.Port() != "" && u.Port() != strconv.Itoa(neonMainPort)) {
		t.Fatalf("the Neon pooler stand-in fronts 127.0.0.1:%d; TEST_DATABASE_URL points elsewhere (%s)", neonMainPort, u.Redacted())
	}
}

// neonStartPooler runs PgBouncer as the -pooler endpoint: 127.0.0.2:5432 in
// front of the main server.
func neonStartPooler(t testing.TB) *pgharness.PgBouncer {
	t.Helper()
	pgharness.EnsureHosts(t)
	neonRequireMainServer(t)
	return pgharness.StartPgBouncer(t, pgharness.PoolerIP, neonMainPort, pgharness.DirectIP, neonMainPort)
}

// neonServerEnv is the environment every server here gets on top of
// startServer's: the given database, no unpooled URL from the ambient
// environment, never an embedded server, a short drain on stop.
func neonServerEnv(dbURL string, extra map[string]string) map[string]string {
	env := map[string]string{
		"DATABASE_URL":          dbURL,
		"DATABASE_URL_UNPOOLED": "",
		"EMBEDDED_POSTGRES":     "never",
		"SHUTDOWN_DRAIN_DELAY":  "0s",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// neonCLIResult is one finished todo-api command.
type neonCLIResult struct {
	Stdout, Stderr string
	Code           int
	Elapsed        time.Duration
}

// neonCLI runs `todo-api args...` with env added, bounded by timeout.
func neonCLI(t testing.TB, env map[string]string, timeout time.Duration, args ...string) neonCLIResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "ENV=development", "EMBEDDED_POSTGRES=never", "DATABASE_URL_UNPOOLED=")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := neonCLIResult{Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("todo-api %s did not finish within %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), timeout, res.Stdout, res.Stderr)
	}
	if cmd.ProcessState != nil {
		res.Code = cmd.ProcessState.ExitCode()
	} else if err != nil {
		t.Fatalf("todo-api %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// --- HTTP client and tally -------------------------------------------------

type neonClient struct {
	api string
	hc  *http.Client
}

func neonNewClient(s *server) *neonClient {
	tr := &http.Transport{MaxIdleConns: 100, MaxIdleConnsPerHost: 100, IdleConnTimeout: 30 * time.Second}
	return &neonClient{api: s.URL + "/api/v1", hc: &http.Client{Timeout: 30 * time.Second, Transport: tr}}
}

type neonResp struct {
	Status int
	Header http.Header
	Body   []byte
	Err    error
}

// do sends one request: body nil (none), url.Values (a form) or a value
// sent as JSON; hdr are header name/value pairs.
func (c *neonClient) do(method, path, token string, body any, hdr ...string) neonResp {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return neonResp{Err: err}
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, c.api+path, rd)
	if err != nil {
		return neonResp{Err: err}
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return neonResp{Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return neonResp{Status: resp.StatusCode, Header: resp.Header, Body: b, Err: err}
}

func (r neonResp) json(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("decode %d answer %q: %w", r.Status, neonClip(string(r.Body), 200), err)
	}
	return nil
}

// neonTally counts answers by step and status and keeps a few unexpected
// ones.
type neonTally struct {
	mu     sync.Mutex
	total  int
	bad    int
	counts map[string]int
	// samples are the distinct unexpected answers (the first 10), with
	// how often each came.
	samples []string
	seen    map[string]int
}

func newNeonTally() *neonTally { return &neonTally{counts: map[string]int{}, seen: map[string]int{}} }

// sample keeps an unexpected answer; the caller holds mu.
func (tl *neonTally) sample(s string) {
	if _, ok := tl.seen[s]; !ok {
		if len(tl.samples) >= 10 {
			return
		}
		tl.samples = append(tl.samples, s)
	}
	tl.seen[s]++
}

// check records an answer and reports whether its status is one of want.
func (tl *neonTally) check(step string, r neonResp, want ...int) bool {
	ok := r.Err == nil && slices.Contains(want, r.Status)
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.total++
	key := fmt.Sprintf("%s %d", step, r.Status)
	if r.Err != nil {
		key = step + " transport-error"
	}
	tl.counts[key]++
	if !ok {
		tl.bad++
		detail := neonClip(strings.TrimSpace(string(r.Body)), 300)
		if r.Err != nil {
			detail = r.Err.Error()
		}
		tl.sample(fmt.Sprintf("%s: got %d, want %v: %s", step, r.Status, want, detail))
	}
	return ok
}

// fail records a failed expectation that is not about a status.
func (tl *neonTally) fail(step, detail string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.bad++
	tl.sample(step + ": " + detail)
}

func (tl *neonTally) summary() string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	keys := make([]string, 0, len(tl.counts))
	for k := range tl.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests, %d unexpected\n", tl.total, tl.bad)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-28s %d\n", k, tl.counts[k])
	}
	for _, s := range tl.samples {
		fmt.Fprintf(&b, "  unexpected (×%d): %s\n", tl.seen[s], s)
	}
	return b.String()
}

func neonClip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// neonTodo is the part of a todo answer the tests read.
type neonTodo struct {
	ID       int64  `json:"id"`
	Title    string `json:"title"`
	Priority int    `json:"priority"`
}

type neonPage struct {
	Items      []neonTodo `json:"items"`
	Total      int64      `json:"total"`
	NextCursor *string    `json:"next_cursor"`
}

// neonRegister registers and logs in a user, failing the test on error.
func neonRegister(t testing.TB, c *neonClient, name string) string {
	t.Helper()
	pw := "correct horse " + name
	r := c.do("POST", "/auth/register", "", map[string]any{"email": name + "@example.com", "username": name, "password": pw})
	if r.Err != nil || r.Status != http.StatusCreated {
		t.Fatalf("register %s: %d %v %s", name, r.Status, r.Err, r.Body)
	}
	r = c.do("POST", "/auth/login", "", map[string]any{"username": name, "password": pw})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if r.Err != nil || r.Status != http.StatusOK || r.json(&tok) != nil || tok.AccessToken == "" {
		t.Fatalf("login %s: %d %v %s", name, r.Status, r.Err, r.Body)
	}
	return tok.AccessToken
}

// neonJourney drives every /api/v1 route once for a new user, checking each
// status (and the list totals, which are exact for the user's own todos).
// It stops at the first failure a later step depends on.
func neonJourney(c *neonClient, tl *neonTally, tag string) {
	user, email, pw := "u_"+tag, tag+"@example.com", "correct horse "+tag
	if !tl.check("register", c.do("POST", "/auth/register", "", map[string]any{"email": email, "username": user, "password": pw}), 201) {
		return
	}
	r := c.do("POST", "/auth/login", "", map[string]any{"username": user, "password": pw})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if !tl.check("login json", r, 200) {
		return
	}
	if err := r.json(&tok); err != nil || tok.AccessToken == "" {
		tl.fail("login json", fmt.Sprintf("no token: %v", err))
		return
	}
	token := tok.AccessToken
	tl.check("login form", c.do("POST", "/auth/login", "", url.Values{"username": {email}, "password": {pw}}), 200)
	tl.check("me", c.do("GET", "/users/me", token, nil), 200)
	tl.check("patch me username", c.do("PATCH", "/users/me", token, map[string]any{"username": user + "_x"}), 200)
	tl.check("patch me email", c.do("PATCH", "/users/me", token, map[string]any{"email": "new_" + email, "current_password": pw}), 200)
	// A credential change ends every earlier token: the old one is refused
	// and a login with the new email gives a working one.
	tl.check("old token after the email change", c.do("GET", "/users/me", token, nil), 401)
	r = c.do("POST", "/auth/login", "", map[string]any{"username": "new_" + email, "password": pw})
	if !tl.check("login with the new email", r, 200) {
		return
	}
	if err := r.json(&tok); err != nil || tok.AccessToken == "" {
		tl.fail("login with the new email", fmt.Sprintf("no token: %v", err))
		return
	}
	token = tok.AccessToken

	type created struct {
		id   int64
		etag string
	}
	var todos []created
	for i := range 3 {
		body := map[string]any{"title": fmt.Sprintf("todo %s %d", tag, i), "priority": i + 1, "description": "alpha " + tag}
		if i != 1 {
			body["due_date"] = fmt.Sprintf("2027-01-0%dT12:00:00Z", i+1)
		}
		r := c.do("POST", "/todos", token, body)
		if !tl.check("create", r, 201) {
			return
		}
		var td neonTodo
		if err := r.json(&td); err != nil || r.Header.Get("ETag") == "" {
			tl.fail("create", fmt.Sprintf("no id or ETag: %v", err))
			return
		}
		todos = append(todos, created{td.ID, r.Header.Get("ETag")})
	}
	items := make([]map[string]any, 4)
	for j := range items {
		items[j] = map[string]any{"title": fmt.Sprintf("batch %s %d", tag, j), "priority": j, "completed": j%2 == 0}
	}
	r = c.do("POST", "/todos/batch", token, map[string]any{"items": items})
	var batch struct {
		Items []neonTodo `json:"items"`
	}
	if tl.check("batch", r, 201) && (r.json(&batch) != nil || len(batch.Items) != 4) {
		tl.fail("batch", fmt.Sprintf("want 4 items back, got %s", neonClip(string(r.Body), 200)))
	}

	first := fmt.Sprintf("/todos/%d", todos[0].id)
	r = c.do("GET", first, token, nil)
	if tl.check("get", r, 200) && r.Header.Get("ETag") != todos[0].etag {
		tl.fail("get", fmt.Sprintf("ETag %s, created with %s", r.Header.Get("ETag"), todos[0].etag))
	}
	tl.check("get if-none-match", c.do("GET", first, token, nil, "If-None-Match", todos[0].etag), 304)
	r = c.do("PATCH", first, token, map[string]any{"completed": true, "description": nil}, "If-Match", todos[0].etag)
	if tl.check("patch if-match", r, 200) && (r.Header.Get("ETag") == "" || r.Header.Get("ETag") == todos[0].etag) {
		tl.fail("patch if-match", "the ETag did not change")
	}
	tl.check("patch stale if-match", c.do("PATCH", first, token, map[string]any{"priority": 5}, "If-Match", todos[0].etag), 412)

	// Not completed with priority ≥ 1: todos 1 and 2, batch items 1 and 3.
	seen, total := 0, int64(-1)
	cursor := ""
	for page := 0; page < 5; page++ {
		q := url.Values{"completed": {"false"}, "min_priority": {"1"}, "sort": {"-priority"}, "limit": {"2"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r := c.do("GET", "/todos?"+q.Encode(), token, nil)
		var p neonPage
		if !tl.check("list filter+cursor", r, 200) || r.json(&p) != nil {
			return
		}
		seen += len(p.Items)
		total = p.Total
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	if seen != 4 || total != 4 {
		tl.fail("list filter+cursor", fmt.Sprintf("walked %d items, total %d; want 4 and 4", seen, total))
	}
	r = c.do("GET", "/todos?q=batch&sort=title&limit=3&offset=1", token, nil)
	var p neonPage
	if tl.check("list search+offset", r, 200) && (r.json(&p) != nil || p.Total != 4 || len(p.Items) != 3) {
		tl.fail("list search+offset", fmt.Sprintf("want total 4 and 3 items: %s", neonClip(string(r.Body), 200)))
	}
	r = c.do("GET", "/todos?due_before=2030-01-01T00:00:00Z&due_after=2026-01-01T00:00:00Z&sort=due_date", token, nil)
	if tl.check("list due range", r, 200) && (r.json(&p) != nil || p.Total != 2) {
		tl.fail("list due range", fmt.Sprintf("want total 2: %s", neonClip(string(r.Body), 200)))
	}

	second := fmt.Sprintf("/todos/%d", todos[1].id)
	tl.check("delete if-match", c.do("DELETE", second, token, nil, "If-Match", todos[1].etag), 204)
	tl.check("get deleted", c.do("GET", second, token, nil), 404)
	tl.check("deactivate", c.do("DELETE", "/users/me", token, nil), 204)
	tl.check("me after deactivate", c.do("GET", "/users/me", token, nil), 401)
	tl.check("login after deactivate", c.do("POST", "/auth/login", "", map[string]any{"username": user + "_x", "password": pw}), 401)
}

// neonRunJourneys runs journeys from workers goroutines, rounds each.
func neonRunJourneys(c *neonClient, prefix string, workers, rounds int) *neonTally {
	tl := newNeonTally()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range rounds {
				neonJourney(c, tl, fmt.Sprintf("%s%dr%d", prefix, w, k))
			}
		}()
	}
	wg.Wait()
	return tl
}

// --- 1. transaction pooling ------------------------------------------------

// TestNeonPooledTransactionMode: behind PgBouncer in transaction mode, given
// only the pooled URL, serve migrates over the derived direct host, picks
// the exec query mode, and a concurrent workload of every route sees no
// error.
func TestNeonPooledTransactionMode(t *testing.T) {
	b := neonStartPooler(t)
	dbname := neonDBName(t, testdb.Fresh(t))

	s := startServer(t, neonServerEnv(neonPooledURL(dbname), nil))
	if lines := s.logLines("database connected", "host="+pgharness.PoolerHost, "query_exec_mode=exec"); len(lines) != 1 {
		t.Errorf("want one `database connected host=%s ... query_exec_mode=exec` line, got %q", pgharness.PoolerHost, lines)
	}
	if lines := s.logLines("database connected", "host="+pgharness.DirectHost+" "); len(lines) != 1 {
		t.Errorf("auto-migrate did not connect to the derived direct host %s: %q", pgharness.DirectHost, lines)
	}

	const workers, rounds = 12, 3
	start := time.Now()
	tl := neonRunJourneys(neonNewClient(s), "p", workers, rounds)
	if tl.bad != 0 || tl.total < workers*rounds*20 {
		t.Errorf("want every answer as expected over at least %d requests:\n%s", workers*rounds*20, tl.summary())
	} else {
		t.Logf("%d workers × %d journeys through PgBouncer in %s:\n%s", workers, rounds, time.Since(start).Round(time.Millisecond), tl.summary())
	}
	if lines := s.logLines("level=ERROR"); len(lines) > 0 {
		t.Errorf("%d error lines in the server log, first: %s", len(lines), lines[0])
	}

	// The requests really went through the pooler, multiplexed onto at most
	// default_pool_size server connections.
	if n := b.LoginsTo(dbname); n == 0 {
		t.Errorf("PgBouncer logged no client login to %s", dbname)
	}
	for _, row := range b.Show("POOLS") {
		if row["database"] == dbname {
			t.Logf("PgBouncer pool %s: mode=%s cl_active=%s cl_waiting=%s sv_active=%s sv_idle=%s", dbname, row["pool_mode"], row["cl_active"], row["cl_waiting"], row["sv_active"], row["sv_idle"])
			if row["pool_mode"] != "transaction" {
				t.Errorf("pool_mode = %q", row["pool_mode"])
			}
		}
	}
}

// TestNeonPooledCacheStatementBreaks documents why the default on -pooler
// hosts is exec: pgx's statement cache (named prepared statements, session
// state) through PgBouncer 1.18 in transaction mode makes requests fail. If
// this test starts passing requests cleanly, the pooler or the driver
// changed; if the default mode ever becomes cache_statement on pooled hosts,
// TestNeonPooledTransactionMode fails.
func TestNeonPooledCacheStatementBreaks(t *testing.T) {
	neonStartPooler(t)
	dbname := neonDBName(t, testdb.Fresh(t))

	s := launchServer(t, neonServerEnv(neonPooledURL(dbname), map[string]string{"DB_QUERY_EXEC_MODE": "cache_statement"}))
	// Readiness itself may fail in this mode: wait for the listener only.
	for deadline := time.Now().Add(30 * time.Second); ; {
		if len(s.logLines("msg=listening")) > 0 {
			break
		}
		if err := s.Wait(0); err != context.DeadlineExceeded || time.Now().After(deadline) {
			t.Fatalf("server not listening (exit: %v)\n%s", err, s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lines := s.logLines("database connected", "host="+pgharness.PoolerHost, "query_exec_mode=cache_statement"); len(lines) != 1 {
		t.Fatalf("the server did not use cache_statement on the pooled host: %q", lines)
	}
	tl := neonRunJourneys(neonNewClient(s), "c", 8, 2)
	t.Logf("cache_statement through PgBouncer:\n%s", tl.summary())
	prepared := len(s.logLines("prepared statement"))
	t.Logf("server log lines about prepared statements: %d (42P05: %d, 26000: %d)", prepared, len(s.logLines("42P05")), len(s.logLines("26000")))
	if tl.bad == 0 {
		t.Errorf("cache_statement through a transaction pooler served %d requests without a failure; the reason for exec on -pooler hosts is gone?", tl.total)
	}
	if prepared == 0 {
		t.Errorf("no prepared-statement error in the server log; the failures were something else:\n%s", tl.summary())
	}
}

// --- 2. suspend ------------------------------------------------------------

// TestNeonSuspend: a compute suspending terminates every backend under a
// warm pool; the next reads and writes must still succeed.
func TestNeonSuspend(t *testing.T) {
	c := pgharness.StartCluster(t, pgharness.Options{})
	c.CreateDatabase("neondb", "")
	s := startServer(t, neonServerEnv(c.URLFor("neondb"), map[string]string{"DB_MAX_OPEN_CONNS": "8", "DB_MAX_IDLE_CONNS": "8"}))
	cl := neonNewClient(s)
	token := neonRegister(t, cl, "sleeper")
	r := cl.do("POST", "/todos", token, map[string]any{"title": "before the suspend"})
	var first neonTodo
	if r.Status != 201 || r.json(&first) != nil {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}

	// burst sends n requests at once, alternating reads and writes.
	burst := func(tl *neonTally, round string, n int) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch i % 4 {
				case 0:
					tl.check(round+" list", cl.do("GET", "/todos?limit=5", token, nil), 200)
				case 1:
					tl.check(round+" get", cl.do("GET", fmt.Sprintf("/todos/%d", first.ID), token, nil), 200)
				case 2:
					tl.check(round+" me", cl.do("GET", "/users/me", token, nil), 200)
				default:
					tl.check(round+" create", cl.do("POST", "/todos", token, map[string]any{"title": fmt.Sprintf("%s %d", round, i)}), 201)
				}
			}()
		}
		wg.Wait()
	}
	// sequential sends n requests one after another: each may draw another
	// dead connection from the pool.
	sequential := func(tl *neonTally, round string, n int) {
		for i := range n {
			if i%2 == 0 {
				tl.check(round+" list", cl.do("GET", "/todos?limit=5", token, nil), 200)
			} else {
				tl.check(round+" create", cl.do("POST", "/todos", token, map[string]any{"title": fmt.Sprintf("%s %d", round, i)}), 201)
			}
		}
	}

	// Rounds 0 and 2: a burst at once; 1: one request after another; 3: one
	// after another after 1.5 s idle (the driver pings such connections).
	tl := newNeonTally()
	for round := range 4 {
		warm := newNeonTally()
		burst(warm, "warm", 16)
		if warm.bad != 0 {
			t.Fatalf("warming the pool failed:\n%s", warm.summary())
		}
		killed := c.TerminateBackends("neondb")
		t.Logf("round %d: terminated %d backends of a warm pool", round, killed)
		if killed < 2 {
			t.Errorf("round %d: only %d backends to terminate; the pool was not warm", round, killed)
		}
		// Right away (rounds 0-2): the dead connections were in use well
		// under a second ago, so the driver's idle ping does not screen them
		// out.
		switch round {
		case 0, 2:
			burst(tl, fmt.Sprintf("after-suspend-%d", round), 16)
		case 1:
			sequential(tl, fmt.Sprintf("after-suspend-%d", round), 12)
		default:
			time.Sleep(1500 * time.Millisecond)
			sequential(tl, fmt.Sprintf("after-suspend-idle-%d", round), 12)
		}
	}
	if tl.bad != 0 {
		t.Errorf("after a suspend every read and write must succeed:\n%s", tl.summary())
	} else {
		t.Logf("requests right after the backends were terminated:\n%s", tl.summary())
	}
	if lines := s.logLines("level=ERROR"); len(lines) > 0 {
		t.Errorf("%d error lines in the server log, first: %s", len(lines), lines[0])
	}
}

// --- 3. cold start ---------------------------------------------------------

// TestNeonColdStart: serve started while the compute is down waits for it
// within DB_STARTUP_TIMEOUT and becomes ready without a restart; a database
// that never comes makes it exit non-zero soon after the budget, naming it.
func TestNeonColdStart(t *testing.T) {
	c := pgharness.StartCluster(t, pgharness.Options{})
	c.CreateDatabase("neondb", "")
	c.Stop()

	t.Run("wakes", func(t *testing.T) {
		s := launchServer(t, neonServerEnv(c.URLFor("neondb"), map[string]string{"DB_STARTUP_TIMEOUT": "20s"}))
		time.Sleep(2 * time.Second)
		if err := s.Wait(0); err != context.DeadlineExceeded {
			t.Fatalf("serve exited while the database was down: %v\n%s", err, s.logs.String())
		}
		retries := len(s.logLines("database not ready, retrying"))
		if retries == 0 {
			t.Errorf("no `database not ready, retrying` line while the database was down:\n%s", s.logs.String())
		}
		up := time.Now()
		c.Start()
		if err := s.waitReady(20 * time.Second); err != nil {
			t.Fatalf("not ready after the database came up: %v\n%s", err, s.logs.String())
		}
		t.Logf("database down 2s (%d retries logged); serve ready %s after it came up", retries, time.Since(up).Round(time.Millisecond))
		cl := neonNewClient(s)
		token := neonRegister(t, cl, "coldstart")
		if r := cl.do("POST", "/todos", token, map[string]any{"title": "after a cold start"}); r.Status != 201 {
			t.Errorf("create after a cold start: %d %s", r.Status, r.Body)
		}
		s.Stop(t)
		c.Stop()
	})

	// A database that never answers: connection refused, and a black hole
	// that accepts TCP and never speaks (a proxy waiting for a compute).
	blackhole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var heldMu sync.Mutex
	go func() {
		for {
			conn, err := blackhole.Accept()
			if err != nil {
				return
			}
			heldMu.Lock()
			held = append(held, conn)
			heldMu.Unlock()
		}
	}()
	t.Cleanup(func() {
		blackhole.Close()
		heldMu.Lock()
		defer heldMu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	for _, tc := range []struct{ name, url string }{
		{"refused", c.URLFor("neondb")},
		{"black hole", fmt.Sprintf("postgres://postgres@%s/neondb?sslmode=disable", blackhole.Addr())},
	} {
		t.Run("never "+tc.name, func(t *testing.T) {
			const budget = 3 * time.Second
			start := time.Now()
			s := launchServer(t, neonServerEnv(tc.url, map[string]string{"DB_STARTUP_TIMEOUT": "3s"}))
			err := s.Wait(budget + 7*time.Second)
			elapsed := time.Since(start)
			if err == context.DeadlineExceeded {
				t.Fatalf("serve still running %s after start with DB_STARTUP_TIMEOUT=3s: it hangs\n%s", elapsed.Round(time.Millisecond), s.logs.String())
			}
			code := s.cmd.ProcessState.ExitCode()
			t.Logf("exit %d after %s", code, elapsed.Round(time.Millisecond))
			if code == 0 {
				t.Errorf("exit status 0 without a database")
			}
			if elapsed > budget+3*time.Second {
				t.Errorf("exited after %s, want within the 3s budget plus 3s", elapsed.Round(time.Millisecond))
			}
			if elapsed < budget-200*time.Millisecond {
				t.Errorf("gave up after %s, before the 3s budget", elapsed.Round(time.Millisecond))
			}
			if !strings.Contains(s.logs.String(), "not reachable after") {
				t.Errorf("the error does not say the database was `not reachable after` the budget:\n%s", s.logs.String())
			}
		})
	}
}

// --- 4. restart under load -------------------------------------------------

// TestNeonRestartUnderLoad: `pg_ctl restart -m fast` in the middle of reads
// and creates. No 500s (503 while down is fine); reads recover; every
// created (201) todo exists exactly once and no create was applied twice.
func TestNeonRestartUnderLoad(t *testing.T) {
	c := pgharness.StartCluster(t, pgharness.Options{})
	c.CreateDatabase("neondb", "")
	s := startServer(t, neonServerEnv(c.URLFor("neondb"), nil))
	cl := neonNewClient(s)
	token := neonRegister(t, cl, "loaded")

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
	const workers = 6
	var wg sync.WaitGroup
	loadStart := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load() && i < 2000 && time.Since(loadStart) < 30*time.Second; i++ {
				at := time.Now()
				var res result
				if i%2 == 0 {
					r := cl.do("GET", "/todos?limit=5&sort=-created_at", token, nil)
					res = result{status: r.Status, at: at, read: true}
					if r.Err != nil {
						res.status = -1
					}
				} else {
					title := fmt.Sprintf("load-%d-%d", w, seq.Add(1))
					r := cl.do("POST", "/todos", token, map[string]any{"title": title})
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
	for range 2 {
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
		if r := cl.do("GET", "/todos?limit=5", token, nil); r.Status != 200 {
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

// --- 5. URLs, TLS and SCRAM ------------------------------------------------

// neonSameURL compares URLs by their parts, query parameters as sets.
func neonSameURL(t testing.TB, what, got, want string) {
	t.Helper()
	g, err1 := url.Parse(got)
	w, err2 := url.Parse(want)
	if err1 != nil || err2 != nil {
		t.Errorf("%s: unparseable: %q / %q", what, got, want)
		return
	}
	gp, _ := g.User.Password()
	wp, _ := w.User.Password()
	if g.Scheme != w.Scheme || g.User.Username() != w.User.Username() || gp != wp || g.Host != w.Host || g.Path != w.Path ||
		g.Query().Encode() != w.Query().Encode() {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// TestNeonURL: the URL Neon's console gives resolves to the right direct URL
// and query modes; and sslmode=require&channel_binding=require really
// connects over TLS with SCRAM-SHA-256-PLUS, through database.Open and
// through the binary's `migrate up`.
func TestNeonURL(t *testing.T) {
	const console = "postgresql://neondb_owner:npg_xxx@ep-cool-darkness-a1b2c3d4-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require"
	const direct = "postgresql://neondb_owner:npg_xxx@ep-cool-darkness-a1b2c3d4.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require"

	t.Run("console URL", func(t *testing.T) {
		got, err := database.DirectURL(console, "")
		if err != nil {
			t.Fatal(err)
		}
		neonSameURL(t, "DirectURL(console)", got, direct)
		urls, err := database.ResolveURLs(console, "")
		if err != nil {
			t.Fatalf("ResolveURLs(console URL): %v", err)
		}
		neonSameURL(t, "ResolveURLs(console).Serve", urls.Serve, console)
		neonSameURL(t, "ResolveURLs(console).Direct", urls.Direct, direct)
		// auto query mode: exec on the pooled URL, the statement cache on
		// the direct one (the mapping itself is proven on real connections
		// below).
		if !database.IsPooled(urls.Serve) || database.IsPooled(urls.Direct) {
			t.Errorf("IsPooled(serve)=%v IsPooled(direct)=%v, want true, false", database.IsPooled(urls.Serve), database.IsPooled(urls.Direct))
		}
		urls, err = database.ResolveURLs(console, direct)
		if err != nil {
			t.Fatal(err)
		}
		neonSameURL(t, "ResolveURLs(console, unpooled).Direct", urls.Direct, direct)
		if _, err := database.ResolveURLs(console, console); err == nil {
			t.Error("a -pooler DATABASE_URL_UNPOOLED was accepted")
		}
		noTLS := strings.Replace(console, "sslmode=require", "sslmode=disable", 1)
		if _, err := database.ResolveURLs(noTLS, ""); err == nil {
			t.Error("sslmode=disable on a Neon host was accepted")
		} else if strings.Contains(err.Error(), "npg_xxx") {
			t.Errorf("the error shows the password: %v", err)
		}
		bare := "postgresql://neondb_owner:npg_xxx@ep-cool-darkness-a1b2c3d4-pooler.us-east-2.aws.neon.tech/neondb"
		if urls, err := database.ResolveURLs(bare, ""); err != nil {
			t.Errorf("ResolveURLs without parameters: %v", err)
		} else if u, _ := url.Parse(urls.Serve); u.Query().Get("sslmode") != "require" {
			t.Errorf("a Neon URL without sslmode was not given sslmode=require: %s", urls.Serve)
		}
	})

	// The cluster listens on 127.0.0.1 and 127.0.0.2, so both stand-in
	// names reach it: the pooled name without a pooler in between, to see
	// which mode Open picks by name alone.
	pgharness.EnsureHosts(t)
	const role, password = "neondb_owner", "npg_T3stOnlyPassw0rd"
	c := pgharness.StartCluster(t, pgharness.Options{TLS: true, Role: role, Password: password, ListenAddresses: []string{pgharness.DirectIP, pgharness.PoolerIP}})
	c.CreateDatabase("neondb", role)
	pooled := fmt.Sprintf("postgresql://%s:%s@%s:%d/neondb?sslmode=require&channel_binding=require", role, password, pgharness.PoolerHost, c.Port)

	urls, err := database.ResolveURLs(pooled, "")
	if err != nil {
		t.Fatalf("ResolveURLs: %v", err)
	}
	if u, _ := url.Parse(urls.Direct); u.Hostname() != pgharness.DirectHost {
		t.Errorf("direct host = %q, want %s", u.Hostname(), pgharness.DirectHost)
	}

	for _, tc := range []struct{ name, url, host, mode string }{
		{"pooled name", urls.Serve, pgharness.PoolerHost, "exec"},
		{"direct name", urls.Direct, pgharness.DirectHost, "cache_statement"},
	} {
		t.Run("open "+tc.name, func(t *testing.T) {
			logs := &syncBuffer{}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			db, err := database.Open(ctx, database.Options{
				URL: tc.url, MaxOpenConns: 2, MaxIdleConns: 2, ConnectTimeout: 5 * time.Second, StartupTimeout: 10 * time.Second,
				QueryExecMode: "auto", Logger: slog.New(slog.NewTextHandler(logs, nil)),
			})
			if err != nil {
				t.Fatalf("database.Open over TLS + SCRAM: %v\nlog:\n%s", err, logs.String())
			}
			sqlDB, _ := db.DB()
			defer sqlDB.Close()
			if !strings.Contains(logs.String(), "host="+tc.host) || !strings.Contains(logs.String(), "query_exec_mode="+tc.mode) {
				t.Errorf("want host=%s query_exec_mode=%s in the log:\n%s", tc.host, tc.mode, logs.String())
			}
			var ssl bool
			var user, version string
			if err := db.Raw(`SELECT s.ssl, current_user, s.version FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()`).Row().Scan(&ssl, &user, &version); err != nil {
				t.Fatal(err)
			}
			if !ssl || user != role {
				t.Errorf("session ssl=%v user=%s, want a TLS session as %s", ssl, user, role)
			}
			t.Logf("%s: %s over %s as %s, query_exec_mode=%s", tc.name, tc.host, version, user, tc.mode)
		})
	}

	t.Run("open refuses plain text", func(t *testing.T) {
		plain := strings.Replace(urls.Direct, "sslmode=require", "sslmode=disable", 1)
		plain = strings.Replace(plain, "channel_binding=require", "channel_binding=disable", 1)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		start := time.Now()
		db, err := database.Open(ctx, database.Options{URL: plain, MaxOpenConns: 1, StartupTimeout: 10 * time.Second, ConnectTimeout: 5 * time.Second})
		if err == nil {
			sqlDB, _ := db.DB()
			sqlDB.Close()
			t.Fatal("connected without TLS: the stand-in does not enforce hostssl")
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("the error shows the password: %v", err)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("an authentication refusal was retried for %s; it is not transient", time.Since(start).Round(time.Millisecond))
		}
		t.Logf("without TLS: %v (after %s)", err, time.Since(start).Round(time.Millisecond))
	})

	t.Run("binary migrate up", func(t *testing.T) {
		res := neonCLI(t, map[string]string{"DATABASE_URL": pooled}, 60*time.Second, "migrate", "up")
		if res.Code != 0 {
			t.Fatalf("migrate up exit %d\nstdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
		}
		if n := strings.Count(res.Stdout, "applied "); n != len(migrations.All()) {
			t.Errorf("applied %d migrations, want %d:\n%s", n, len(migrations.All()), res.Stdout)
		}
		if !strings.Contains(res.Stderr, "host="+pgharness.DirectHost) {
			t.Errorf("migrate did not connect to the direct host %s:\n%s", pgharness.DirectHost, res.Stderr)
		}
		if strings.Contains(res.Stdout+res.Stderr, password) {
			t.Errorf("the password appears in the output:\n%s\n%s", res.Stdout, res.Stderr)
		}
		if n := c.QueryInt("neondb", `SELECT count(*) FROM schema_migrations`); n != int64(len(migrations.All())) {
			t.Errorf("schema_migrations has %d rows, want %d", n, len(migrations.All()))
		}
		res = neonCLI(t, map[string]string{"DATABASE_URL": pooled}, 60*time.Second, "migrate", "current")
		if res.Code != 0 || !strings.Contains(res.Stdout, "(head)") {
			t.Errorf("migrate current: exit %d: %s %s", res.Code, res.Stdout, res.Stderr)
		}
		t.Logf("migrate up over TLS + SCRAM (channel binding) in %s:\n%s", res.Elapsed.Round(time.Millisecond), strings.TrimSpace(res.Stdout))
	})
}

// --- 6. migrations never go through the pooler -----------------------------

// TestNeonMigrateThroughPooler: two `migrate up` at once, given only the
// pooled URL of a fresh database: both succeed, each migration is applied
// once, and both ran on the direct host (the pooler saw none of it).
func TestNeonMigrateThroughPooler(t *testing.T) {
	b := neonStartPooler(t)
	dbURL := testdb.Fresh(t)
	dbname := neonDBName(t, dbURL)
	pooled := neonPooledURL(dbname)

	const procs = 2
	results := make([]neonCLIResult, procs)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = neonCLI(t, map[string]string{"DATABASE_URL": pooled}, 90*time.Second, "migrate", "up")
		}()
	}
	wg.Wait()
	t.Logf("%d concurrent `migrate up` in %s", procs, time.Since(start).Round(time.Millisecond))

	applied := map[string]int{}
	for i, res := range results {
		t.Logf("process %d: exit %d in %s\n%s", i, res.Code, res.Elapsed.Round(time.Millisecond), strings.TrimSpace(res.Stdout))
		if res.Code != 0 {
			t.Errorf("process %d: exit %d\nstdout:\n%s\nstderr:\n%s", i, res.Code, res.Stdout, res.Stderr)
		}
		for _, line := range strings.Split(res.Stdout, "\n") {
			if id, ok := strings.CutPrefix(line, "applied "); ok {
				applied[strings.TrimSpace(id)]++
			}
		}
		if !strings.Contains(res.Stderr, "host="+pgharness.DirectHost+" ") {
			t.Errorf("process %d did not connect to the direct host %s:\n%s", i, pgharness.DirectHost, res.Stderr)
		}
		if strings.Contains(res.Stderr, "host="+pgharness.PoolerHost) {
			t.Errorf("process %d connected to the pooler:\n%s", i, res.Stderr)
		}
	}
	waited := 0
	for _, res := range results {
		if strings.Contains(res.Stderr, "waiting for another process") {
			waited++
		}
	}
	t.Logf("processes that waited for the other's migration lock: %d", waited)
	for _, m := range migrations.All() {
		if applied[m.ID] != 1 {
			t.Errorf("migration %s applied %d times across the processes, want 1", m.ID, applied[m.ID])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var rowsN, distinct int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT id) FROM schema_migrations`).Scan(&rowsN, &distinct); err != nil {
		t.Fatal(err)
	}
	if rowsN != len(migrations.All()) || distinct != rowsN {
		t.Errorf("schema_migrations: %d rows, %d distinct; want %d", rowsN, distinct, len(migrations.All()))
	}
	if n := b.LoginsTo(dbname); n != 0 {
		t.Errorf("PgBouncer saw %d logins to %s from migrate; the advisory lock went through the pooler", n, dbname)
	}

	// The pooled name did lead to PgBouncer: a session through it shows up.
	before := b.LoginsTo(dbname)
	pc, err := pgx.Connect(ctx, pooled+"&default_query_exec_mode=exec")
	if err != nil {
		t.Fatalf("connect through the pooler: %v", err)
	}
	var one int
	err = pc.QueryRow(ctx, `SELECT 1`).Scan(&one)
	pc.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := b.LoginsTo(dbname) - before; n != 1 {
		t.Errorf("PgBouncer logged %d logins for a session through the pooled name, want 1:\n%s", n, b.Logs())
	}
}
