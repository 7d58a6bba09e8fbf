package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/todo-api/todo-api/controllers"
	"github.com/todo-api/todo-api/models"
	"github.com/todo-api/todo-api/server"
	"github.com/todo-api/todo-api/services"
)

// Operations: the Prometheus exposition, panic recovery, request ids and
// the access log.

// TestMetricsExposition: after some traffic, /metrics has the request
// counters by route pattern, the latency histogram, the in-flight gauge
// and the pool's statistics.
func TestMetricsExposition(t *testing.T) {
	a := newAPI(t, nil) // a private registry: exact counts
	acc := newAccount(t, a)
	td, _ := createTodo(t, a, acc.Token, map[string]any{"title": "measured"})
	byID := fmt.Sprintf("/api/v1/todos/%d", td.ID)
	expect(t, a.do(req{Method: "GET", Path: byID, Token: acc.Token}), http.StatusOK)
	expect(t, a.do(req{Method: "GET", Path: "/api/v1/todos/987654321", Token: acc.Token}), http.StatusNotFound)
	expect(t, a.do(req{Method: "PATCH", Path: byID, Token: acc.Token, Body: map[string]any{"completed": true}}), http.StatusOK)
	expect(t, a.do(req{Method: "GET", Path: "/api/v1/todos?limit=5", Token: acc.Token}), http.StatusOK)
	expect(t, a.do(req{Method: "GET", Path: "/no/such/thing/424242"}), http.StatusNotFound)

	r := expect(t, a.do(req{Method: "GET", Path: "/metrics", Peer: "127.0.0.1:40000"}), http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("/metrics Content-Type = %q, want the text format", ct)
	}
	m := opsParseMetrics(t, string(r.Body))

	// Counters by route pattern, method and status.
	for _, c := range []struct {
		route, method, status string
		want                  float64
	}{
		{"/api/v1/auth/register", "POST", "201", 1},
		{"/api/v1/auth/login", "POST", "200", 1},
		{"/api/v1/todos", "POST", "201", 1},
		{"/api/v1/todos", "GET", "200", 1},
		{"/api/v1/todos/:id", "GET", "200", 1},
		{"/api/v1/todos/:id", "GET", "404", 1},
		{"/api/v1/todos/:id", "PATCH", "200", 1},
		{"unmatched", "GET", "404", 1},
	} {
		got := m.value(t, "http_requests_total", map[string]string{"route": c.route, "method": c.method, "status": c.status})
		if got != c.want {
			t.Errorf("http_requests_total{route=%q,method=%q,status=%q} = %v, want %v", c.route, c.method, c.status, got, c.want)
		}
	}
	// Route labels are patterns, never raw paths: no ids, no client junk.
	rawSegment := regexp.MustCompile(`/\d+(/|$)`)
	for _, name := range []string{"http_requests_total", "http_request_duration_seconds_bucket", "http_request_duration_seconds_count"} {
		for _, s := range m.find(name, nil) {
			route := s.labels["route"]
			if route == "" || rawSegment.MatchString(route) || strings.Contains(route, "no/such") || strings.Contains(route, "?") {
				t.Errorf("%s has a raw route label %q", name, route)
			}
		}
	}

	// The latency histogram: cumulative buckets ending in +Inf = _count.
	sel := map[string]string{"route": "/api/v1/todos/:id", "method": "GET"}
	buckets := m.find("http_request_duration_seconds_bucket", sel)
	if len(buckets) < 5 {
		t.Fatalf("http_request_duration_seconds has %d buckets for GET /api/v1/todos/:id, want the configured set", len(buckets))
	}
	sort.Slice(buckets, func(i, j int) bool { return opsLe(t, buckets[i]) < opsLe(t, buckets[j]) })
	for i := 1; i < len(buckets); i++ {
		if buckets[i].value < buckets[i-1].value {
			t.Errorf("buckets are not cumulative: le=%s has %v < le=%s's %v", buckets[i].labels["le"], buckets[i].value, buckets[i-1].labels["le"], buckets[i-1].value)
		}
	}
	if last := buckets[len(buckets)-1]; last.labels["le"] != "+Inf" || last.value != 2 {
		t.Errorf("last bucket = le=%q %v, want le=\"+Inf\" 2 (one 200, one 404)", last.labels["le"], last.value)
	}
	if n := m.value(t, "http_request_duration_seconds_count", sel); n != 2 {
		t.Errorf("http_request_duration_seconds_count = %v, want 2", n)
	}
	if sum := m.value(t, "http_request_duration_seconds_sum", sel); !(sum > 0) {
		t.Errorf("http_request_duration_seconds_sum = %v, want > 0", sum)
	}

	// In flight: the scrape itself.
	if n := m.value(t, "http_requests_in_flight", nil); n != 1 {
		t.Errorf("http_requests_in_flight = %v during the scrape, want 1 (the scrape itself)", n)
	}

	// The pool, labelled db_name="todo", consistent with itself and with
	// the real pool.
	pool := map[string]string{"db_name": "todo"}
	for _, name := range []string{"go_sql_open_connections", "go_sql_in_use_connections", "go_sql_idle_connections", "go_sql_wait_count_total", "go_sql_wait_duration_seconds_total", "go_sql_max_open_connections"} {
		m.value(t, name, pool) // exactly one sample
	}
	open, inUse, idle := m.value(t, "go_sql_open_connections", pool), m.value(t, "go_sql_in_use_connections", pool), m.value(t, "go_sql_idle_connections", pool)
	if open != inUse+idle || open < 1 {
		t.Errorf("pool: open %v, in use %v, idle %v: want open = in use + idle ≥ 1", open, inUse, idle)
	}
	if wc, wd := m.value(t, "go_sql_wait_count_total", pool), m.value(t, "go_sql_wait_duration_seconds_total", pool); wc < 0 || wd < 0 {
		t.Errorf("pool waits: %v, %v s", wc, wd)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.value(t, "go_sql_max_open_connections", pool), float64(sqlDB.Stats().MaxOpenConnections); got != want {
		t.Errorf("go_sql_max_open_connections = %v, want the pool's %v", got, want)
	}
	for name, typ := range map[string]string{
		"http_requests_total":                "counter",
		"http_request_duration_seconds":      "histogram",
		"http_requests_in_flight":            "gauge",
		"go_sql_open_connections":            "gauge",
		"go_sql_in_use_connections":          "gauge",
		"go_sql_idle_connections":            "gauge",
		"go_sql_wait_count_total":            "counter",
		"go_sql_wait_duration_seconds_total": "counter",
	} {
		if m.types[name] != typ {
			t.Errorf("# TYPE %s = %q, want %s", name, m.types[name], typ)
		}
	}
}

// TestMetricsMethodLabelIsBounded: the method label, like the route label,
// must not take whatever a client sends, or a client can make one series
// per request.
func TestMetricsMethodLabelIsBounded(t *testing.T) {
	a := newAPI(t, nil)
	for i := 0; i < 3; i++ {
		a.do(req{Method: fmt.Sprintf("OPSJUNK%d", i), Path: "/api/v1/todos"})
	}
	r := expect(t, a.do(req{Method: "GET", Path: "/metrics", Peer: "127.0.0.1:40000"}), http.StatusOK)
	m := opsParseMetrics(t, string(r.Body))
	methods := map[string]bool{}
	for _, s := range m.find("http_requests_total", nil) {
		methods[s.labels["method"]] = true
	}
	var junk []string
	for meth := range methods {
		if strings.HasPrefix(meth, "OPSJUNK") {
			junk = append(junk, meth)
		}
	}
	if len(junk) > 0 {
		sort.Strings(junk)
		t.Errorf("http_requests_total has method labels %q: each client-chosen method makes new series (and a histogram's worth in http_request_duration_seconds); all methods: %v", junk, opsKeys(methods))
	}
}

// opsPanickingTodos is a TodoService whose every method panics, to check
// what the middleware makes of a panic.
type opsPanickingTodos struct{}

const opsPanicValue = "ops: boom (SQLSTATE 42P01) secret-internal-detail"

func (opsPanickingTodos) Create(context.Context, services.Caller, services.CreateRequest) (services.Created, error) {
	panic(opsPanicValue)
}
func (opsPanickingTodos) Get(context.Context, services.Caller, int64) (models.Todo, error) {
	panic(opsPanicValue)
}
func (opsPanickingTodos) Update(context.Context, services.Caller, int64, services.TodoInput, *services.Precondition) (models.Todo, error) {
	panic(opsPanicValue)
}
func (opsPanickingTodos) Delete(context.Context, services.Caller, int64, *services.Precondition) error {
	panic(opsPanicValue)
}
func (opsPanickingTodos) List(context.Context, services.Caller, services.ListQuery) (services.Page, error) {
	panic(opsPanicValue)
}
func (opsPanickingTodos) CheckQuery(services.ListQuery) []services.FieldError { return nil }

// opsReady is always ready.
type opsReady struct{}

func (opsReady) Ready(context.Context) error { return nil }

// opsPanicAPI is the real router, real auth and users over the test
// database, and todos that panic.
func opsPanicAPI(t *testing.T) *api {
	t.Helper()
	logs := &logBuffer{}
	s, err := server.Wire(testConfig(t, nil), db, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s.Deps.Ready, s.Deps.Todos = opsReady{}, opsPanickingTodos{}
	router, err := controllers.NewRouter(s.Deps)
	if err != nil {
		t.Fatal(err)
	}
	return &api{t: t, handler: router, logs: logs}
}

// TestPanicRecovery: a panicking handler answers a complete, generic 500
// problem on a connection that stays usable, and logs one ERROR line with
// the request id and the stack.
func TestPanicRecovery(t *testing.T) {
	a := opsPanicAPI(t)
	acc := newAccount(t, a)

	check500 := func(r response, id string) {
		t.Helper()
		var p problem
		expect(t, r, http.StatusInternalServerError).Decode(t, &p) // expect checks the problem document
		for _, leak := range []string{"boom", "42P01", "secret-internal-detail", "panic", "opsPanickingTodos"} {
			if strings.Contains(string(r.Body), leak) {
				t.Errorf("500 body leaks %q: %s", leak, r.Body)
			}
		}
		if p.Detail == "" || len(p.Errors) != 0 {
			t.Errorf("500 problem: %+v", p)
		}
		if got := r.Header.Get("X-Request-ID"); got != id {
			t.Errorf("X-Request-ID = %q, want %q", got, id)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("security headers missing on the 500: %v", r.Header)
		}
	}
	check500(a.do(req{Method: "GET", Path: "/api/v1/todos", Token: acc.Token, Header: map[string]string{"X-Request-ID": "ops-panic-list"}}), "ops-panic-list")
	check500(a.do(req{Method: "POST", Path: "/api/v1/todos", Token: acc.Token, Body: map[string]any{"title": "t"}, Header: map[string]string{"X-Request-ID": "ops-panic-create"}}), "ops-panic-create")
	check500(a.do(req{Method: "PATCH", Path: "/api/v1/todos/1", Token: acc.Token, Body: map[string]any{"title": "t"}, Header: map[string]string{"X-Request-ID": "ops-panic-patch"}}), "ops-panic-patch")

	// Over a real connection: the 500 is complete and the connection is
	// kept for the next request.
	srv := httptest.NewServer(a.handler)
	defer srv.Close()
	client := srv.Client()
	var reused []bool
	send := func(method, path, id string) (*http.Response, []byte) {
		t.Helper()
		hr, err := http.NewRequest(method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		hr.Header.Set("Authorization", "Bearer "+acc.Token)
		hr.Header.Set("X-Request-ID", id)
		hr = hr.WithContext(httptrace.WithClientTrace(hr.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused = append(reused, info.Reused) },
		}))
		resp, err := client.Do(hr)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: reading the %d answer: %v", method, path, resp.StatusCode, err)
		}
		return resp, body
	}
	resp, body := send("GET", "/api/v1/todos", "ops-panic-conn") //nolint:bodyclose // send reads and closes it
	if resp.StatusCode != http.StatusInternalServerError || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("over the wire: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if resp.Close || resp.Header.Get("Connection") == "close" {
		t.Errorf("the 500 closes the connection")
	}
	var p problem
	if err := json.Unmarshal(body, &p); err != nil || p.Status != 500 {
		t.Errorf("over the wire: incomplete problem (%v): %s", err, body)
	}
	resp, _ = send("GET", "/healthz", "ops-panic-after") //nolint:bodyclose // send reads and closes it
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz after the panic = %d", resp.StatusCode)
	}
	if len(reused) != 2 || !reused[1] {
		t.Errorf("connection reuse per request = %v, want [_, true]: the panic dropped the connection", reused)
	}
	// The metrics count the recovered panics as 500s.
	m := opsParseMetrics(t, string(expect(t, a.do(req{Method: "GET", Path: "/metrics", Peer: "127.0.0.1:40000"}), http.StatusOK).Body))
	if n := m.value(t, "http_requests_total", map[string]string{"route": "/api/v1/todos", "method": "GET", "status": "500"}); n != 2 {
		t.Errorf("http_requests_total for the GET /api/v1/todos panics = %v, want 2", n)
	}

	// One ERROR "panic" line per panic, with the request id and the stack;
	// and the access log still records the 500.
	lines := opsLogLines(t, a.logs.String())
	for _, id := range []string{"ops-panic-list", "ops-panic-create", "ops-panic-patch", "ops-panic-conn"} {
		var panics, access []map[string]any
		for _, l := range lines {
			if l["request_id"] != id {
				continue
			}
			switch {
			case l["msg"] == "panic":
				panics = append(panics, l)
			case l["msg"] == "request":
				access = append(access, l)
			}
		}
		if len(panics) != 1 {
			t.Errorf("%s: %d panic lines, want 1", id, len(panics))
			continue
		}
		l := panics[0]
		stack, _ := l["stack"].(string)
		if l["level"] != "ERROR" || !strings.Contains(fmt.Sprint(l["panic"]), "boom") || !strings.Contains(stack, "goroutine") || !strings.Contains(stack, "opsPanickingTodos") {
			t.Errorf("%s: panic line lacks level ERROR, the value or the stack: %.400v", id, l)
		}
		if len(access) != 1 || access[0]["status"] != float64(500) {
			t.Errorf("%s: access log = %v, want one line with status 500", id, access)
		}
	}
	n := 0
	for _, l := range lines {
		if l["msg"] == "panic" {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d panic lines in all, want 4", n)
	}
	for _, l := range lines {
		if l["request_id"] == "ops-panic-after" && l["level"] != "INFO" {
			t.Errorf("the request after the panic logged %v", l)
		}
	}
}

// TestAccessLogAndRequestID: every response carries X-Request-ID (echoed
// when well-formed, made otherwise), and each request leaves exactly one
// access log line with its id, method, route pattern, status, latency and,
// when authenticated, the user.
func TestAccessLogAndRequestID(t *testing.T) {
	a := newAPI(t, nil)
	type call struct {
		req
		status int
		route  string
		authed bool // the user_id is logged
	}
	seq := 0
	id := func() string { seq++; return fmt.Sprintf("ops-log-%d", seq) }
	name := fmt.Sprintf("opslog_%d", userSeq.Add(1))
	var calls []call
	var responses []response
	run := func(c call) response {
		t.Helper()
		if c.Header == nil {
			c.Header = map[string]string{}
		}
		if _, ok := c.Header["X-Request-ID"]; !ok {
			c.Header["X-Request-ID"] = id()
		}
		r := a.do(c.req)
		if r.Status != c.status {
			t.Fatalf("%s %s = %d, want %d: %s", c.Method, c.Path, r.Status, c.status, r.Body)
		}
		calls = append(calls, c)
		responses = append(responses, r)
		return r
	}

	run(call{req{Method: "GET", Path: "/healthz"}, 200, "/healthz", false})
	run(call{req{Method: "GET", Path: "/readyz"}, 200, "/readyz", false})
	reg := run(call{req{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]any{"email": name + "@example.com", "username": name, "password": "correct horse battery"}}, 201, "/api/v1/auth/register", false})
	var user struct{ ID int64 }
	reg.Decode(t, &user)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	run(call{req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"username": name, "password": "correct horse battery"}}, 200, "/api/v1/auth/login", false}).Decode(t, &tok)
	token := tok.AccessToken
	var td todo
	created := run(call{req{Method: "POST", Path: "/api/v1/todos", Token: token, Body: map[string]any{"title": "logged"}}, 201, "/api/v1/todos", true})
	created.Decode(t, &td)
	byID := fmt.Sprintf("/api/v1/todos/%d", td.ID)
	run(call{req{Method: "GET", Path: byID, Token: token}, 200, "/api/v1/todos/:id", true})
	run(call{req{Method: "GET", Path: byID, Token: token, Header: map[string]string{"If-None-Match": created.Header.Get("ETag")}}, 304, "/api/v1/todos/:id", true})
	run(call{req{Method: "PATCH", Path: byID, Token: token, Body: map[string]any{"priority": 9}}, 422, "/api/v1/todos/:id", true})
	run(call{req{Method: "POST", Path: "/api/v1/todos", Token: token, Body: "{not json"}, 400, "/api/v1/todos", true})
	run(call{req{Method: "GET", Path: "/api/v1/todos", Token: token}, 200, "/api/v1/todos", true})
	run(call{req{Method: "GET", Path: "/api/v1/users/me", Token: token}, 200, "/api/v1/users/me", true})
	run(call{req{Method: "DELETE", Path: byID, Token: token}, 204, "/api/v1/todos/:id", true})
	run(call{req{Method: "GET", Path: "/api/v1/todos"}, 401, "/api/v1/todos", false})
	run(call{req{Method: "GET", Path: "/api/v1/todos", Token: "not-a-token"}, 401, "/api/v1/todos", false})
	run(call{req{Method: "GET", Path: "/no/such/route"}, 404, "unmatched", false})
	run(call{req{Method: "DELETE", Path: "/healthz"}, 405, "unmatched", false})
	run(call{req{Method: "OPTIONS", Path: "/api/v1/todos", Header: map[string]string{"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}}, 204, "unmatched", false})
	run(call{req{Method: "GET", Path: "/metrics", Peer: "127.0.0.1:40000"}, 200, "/metrics", false})
	run(call{req{Method: "GET", Path: "/openapi.json"}, 200, "/openapi.json", false})
	// No id, or an unusable one: the server makes one.
	generated := map[string]bool{}
	for _, bad := range []string{"", "has spaces", strings.Repeat("x", 129), "semi;colon", "ünïcode"} {
		r := run(call{req{Method: "GET", Path: "/healthz", Header: map[string]string{"X-Request-ID": bad}}, 200, "/healthz", false})
		got := r.Header.Get("X-Request-ID")
		if !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(got) || generated[got] {
			t.Errorf("X-Request-ID for %q = %q, want a fresh generated id", bad, got)
		}
		generated[got] = true
	}

	// Every response carries the id: echoed when the client sent a good one.
	for i, c := range calls {
		sent := c.Header["X-Request-ID"]
		got := responses[i].Header.Get("X-Request-ID")
		if got == "" {
			t.Errorf("%s %s → %d: no X-Request-ID", c.Method, c.Path, c.status)
		} else if strings.HasPrefix(sent, "ops-log-") && got != sent {
			t.Errorf("%s %s: X-Request-ID = %q, want the client's %q", c.Method, c.Path, got, sent)
		}
	}

	// One access line per request, and only those.
	var access []map[string]any
	for _, l := range opsLogLines(t, a.logs.String()) {
		if l["msg"] == "request" {
			access = append(access, l)
		}
	}
	if len(access) != len(calls) {
		t.Errorf("%d access log lines for %d requests", len(access), len(calls))
	}
	for i, c := range calls {
		rid := responses[i].Header.Get("X-Request-ID")
		var mine []map[string]any
		for _, l := range access {
			if l["request_id"] == rid {
				mine = append(mine, l)
			}
		}
		if len(mine) != 1 {
			t.Errorf("%s %s (%s): %d access lines, want 1", c.Method, c.Path, rid, len(mine))
			continue
		}
		l := mine[0]
		what := fmt.Sprintf("%s %s → %d", c.Method, c.Path, c.status)
		if l["level"] != "INFO" || l["method"] != c.Method || l["route"] != c.route || l["status"] != float64(c.status) || l["path"] != strings.SplitN(c.Path, "?", 2)[0] {
			t.Errorf("%s: access line %v, want method %s route %s status %d", what, l, c.Method, c.route, c.status)
		}
		if ms, ok := l["latency_ms"].(float64); !ok || ms < 0 || math.IsNaN(ms) {
			t.Errorf("%s: latency_ms = %v", what, l["latency_ms"])
		}
		uid, has := l["user_id"]
		switch {
		case c.authed && uid != float64(user.ID):
			t.Errorf("%s: user_id = %v, want %d", what, uid, user.ID)
		case !c.authed && has:
			t.Errorf("%s: user_id = %v on an unauthenticated request", what, uid)
		}
		for _, secret := range []string{token, "correct horse battery"} {
			if strings.Contains(fmt.Sprint(l), secret) {
				t.Errorf("%s: the access line holds a secret", what)
			}
		}
	}
}

// opsLogLines parses JSON log lines.
func opsLogLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON (%v): %s", err, line)
		}
		out = append(out, m)
	}
	return out
}

// opsSample is one line of the Prometheus text format.
type opsSample struct {
	name   string
	labels map[string]string
	value  float64
}

type opsMetrics struct {
	types   map[string]string
	samples []opsSample
}

// opsParseMetrics reads the Prometheus text exposition format.
func opsParseMetrics(t *testing.T, text string) opsMetrics {
	t.Helper()
	m := opsMetrics{types: map[string]string{}}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "# TYPE ") {
			f := strings.Fields(line)
			if len(f) == 4 {
				m.types[f[2]] = f[3]
			}
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		s := opsSample{labels: map[string]string{}}
		end := strings.IndexAny(line, "{ ")
		if end < 0 {
			t.Fatalf("bad metrics line %q", line)
		}
		s.name, line = line[:end], line[end:]
		if line[0] == '{' {
			line = line[1:]
			for line[0] != '}' {
				eq := strings.Index(line, `="`)
				if eq < 0 {
					t.Fatalf("bad labels in %q", line)
				}
				key := line[:eq]
				line = line[eq+2:]
				var val strings.Builder
				for i := 0; ; i++ {
					if i >= len(line) {
						t.Fatalf("unterminated label value in %q", line)
					}
					if line[i] == '\\' && i+1 < len(line) {
						i++
						if line[i] == 'n' {
							val.WriteByte('\n')
						} else {
							val.WriteByte(line[i])
						}
						continue
					}
					if line[i] == '"' {
						line = line[i+1:]
						break
					}
					val.WriteByte(line[i])
				}
				s.labels[key] = val.String()
				line = strings.TrimPrefix(line, ",")
			}
			line = line[1:]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			t.Fatalf("no value for %s", s.name)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			t.Fatalf("bad value %q for %s", f[0], s.name)
		}
		s.value = v
		m.samples = append(m.samples, s)
	}
	return m
}

// find returns the samples of name whose labels include want.
func (m opsMetrics) find(name string, want map[string]string) []opsSample {
	var out []opsSample
next:
	for _, s := range m.samples {
		if s.name != name {
			continue
		}
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

// value returns the value of the one sample of name with labels want.
func (m opsMetrics) value(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	found := m.find(name, want)
	if len(found) != 1 {
		t.Errorf("%d samples of %s %v, want 1", len(found), name, want)
		return math.NaN()
	}
	return found[0].value
}

func opsLe(t *testing.T, s opsSample) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s.labels["le"], 64)
	if err != nil {
		t.Fatalf("bucket le=%q", s.labels["le"])
	}
	return v
}

func opsKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
