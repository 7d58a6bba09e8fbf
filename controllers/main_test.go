package controllers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/todo-api/todo-api/config"
	"github.com/todo-api/todo-api/database"
	"github.com/todo-api/todo-api/internal/pgharness"
	"github.com/todo-api/todo-api/internal/testdb"
	"github.com/todo-api/todo-api/migrations"
	"github.com/todo-api/todo-api/server"
)

var (
	dbURL string
	db    *gorm.DB
)

func TestMain(m *testing.M) {
	os.Exit(testdb.Main(m, "controllers", &dbURL, func() error {
		var err error
		db, err = database.Open(context.Background(), database.Options{URL: dbURL, MaxOpenConns: 20, MaxIdleConns: 20, StartupTimeout: 10 * time.Second})
		if err != nil {
			return err
		}
		_, err = migrations.NewRunner(db, migrations.All(), nil).Up(context.Background(), "")
		return err
	}))
}

// testSecret signs the HTTP tests' tokens.
const testSecret = "controllers-test-secret-0123456789abcdef"

// testConfig is the configuration the HTTP tests run with: the shipped
// defaults, a cheap bcrypt cost, and rate and failed-password limits tests
// do not hit unless they mean to. env overrides any key.
func testConfig(t testing.TB, env map[string]string) config.Config {
	t.Helper()
	vars := map[string]string{
		"BCRYPT_COST": "4", "DATABASE_URL": dbURL, "BETTER_AUTH_SECRET": testSecret,
		"AUTH_RATE_LIMIT": "10000", "AUTH_RATE_BURST": "10000",
		"AUTH_FAILURE_LIMIT": "10000", "AUTH_FAILURE_CLIENT_LIMIT": "10000",
		"TODO_CREATE_RATE": "1000000", "TODO_CREATE_BURST": "1000000", "REGISTER_LIMIT": "1000000",
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(config.Options{
		ConfigFile: "../config.yaml",
		DotEnvFile: "/nonexistent/.env",
		LookupEnv: func(k string) (string, bool) {
			v, ok := vars[k]
			return v, ok
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// api is the real router over the test database.
type api struct {
	t       testing.TB
	handler http.Handler
	logs    *logBuffer
}

func newAPI(t testing.TB, env map[string]string) *api {
	t.Helper()
	logs := &logBuffer{}
	app, err := server.New(testConfig(t, env), db, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return &api{t: t, handler: app.Handler, logs: logs}
}

var shared *api

// sharedAPI is one router for tests that need no special configuration.
func sharedAPI(t testing.TB) *api {
	if shared == nil {
		shared = newAPI(t, nil)
	}
	shared.t = t
	return shared
}

// response is a recorded answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object (%v): %s", err, r.Body)
	}
	return m
}

// Decode decodes the body into v.
func (r response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, r.Body)
	}
}

// req describes a request. Body is marshalled to JSON unless it is a
// string or []byte, which are sent as they are, or an io.Reader, which is
// streamed as JSON of unknown length (chunked).
type req struct {
	Method, Path string
	Token        string
	Body         any
	Header       map[string]string
	// Peer is the connection's remote address (host:port); empty means
	// httptest's 192.0.2.1:1234.
	Peer string
	// ContentLength, when not 0, is the length declared whatever the
	// body's.
	ContentLength int64
}

func (a *api) do(r req) response {
	a.t.Helper()
	var raw []byte
	var stream io.Reader
	var streamed bytes.Buffer
	contentType := ""
	switch b := r.Body.(type) {
	case nil:
	case io.Reader:
		stream, contentType = b, "application/json"
	case string:
		raw, contentType = []byte(b), "application/json"
	case []byte:
		raw, contentType = b, "application/json"
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			a.t.Fatal(err)
		}
		contentType = "application/json"
	}
	hr := httptest.NewRequest(r.Method, r.Path, bytes.NewReader(raw))
	if stream != nil {
		hr = httptest.NewRequest(r.Method, r.Path, io.NopCloser(io.TeeReader(stream, &streamed)))
		hr.ContentLength = -1
		hr.TransferEncoding = []string{"chunked"}
	}
	if r.ContentLength != 0 {
		hr.ContentLength = r.ContentLength
	}
	if contentType != "" {
		hr.Header.Set("Content-Type", contentType)
	}
	if r.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.Token)
	}
	for k, v := range r.Header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	if r.Peer != "" {
		hr.RemoteAddr = r.Peer
	}
	header := hr.Header.Clone()
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, hr)
	if stream != nil {
		raw = streamed.Bytes()
	}
	checkSpec(a.t, r.Method, r.Path, header, raw, rec)
	return response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// expect checks the status, and that every error is problem+json.
func expect(t testing.TB, r response, status int) response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
	if status >= 400 {
		checkProblem(t, r)
	}
	return r
}

// problem mirrors the problem document.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func checkProblem(t testing.TB, r response) problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problem
	r.Decode(t, &p)
	if p.Status != r.Status || p.Type == "" || p.Title == "" || p.Detail == "" {
		t.Errorf("incomplete problem document: %s", r.Body)
	}
	for _, leak := range []string{"SQLSTATE", "gorm", "pgx", "goroutine", ".go:", "sql:"} {
		if strings.Contains(string(r.Body), leak) {
			t.Errorf("problem leaks %q: %s", leak, r.Body)
		}
	}
	return p
}

// fields returns the field names a problem lists.
func (p problem) fields() []string {
	out := make([]string, len(p.Errors))
	for i, e := range p.Errors {
		out[i] = e.Field
	}
	return out
}

var userSeq atomic.Int64

// account is a registered, logged-in user.
type account struct {
	ID       int64
	Email    string
	Username string
	Password string
	Token    string
}

// newAccount registers and logs in a fresh user.
func newAccount(t testing.TB, a *api) account {
	t.Helper()
	n := userSeq.Add(1)
	acc := account{
		Email:    fmt.Sprintf("user%d-%d@example.com", n, time.Now().UnixNano()%1e6),
		Username: fmt.Sprintf("user_%d_%d", n, time.Now().UnixNano()%1e6),
		Password: "correct horse battery",
	}
	r := expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]any{"email": acc.Email, "username": acc.Username, "password": acc.Password}}), http.StatusCreated)
	var u struct{ ID int64 }
	r.Decode(t, &u)
	acc.ID = u.ID
	acc.Token = login(t, a, acc.Username, acc.Password)
	return acc
}

func login(t testing.TB, a *api, username, password string) string {
	t.Helper()
	r := expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"username": username, "password": password}}), http.StatusOK)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	r.Decode(t, &tok)
	return tok.AccessToken
}

// todo mirrors a todo in responses.
type todo struct {
	ID          int64      `json:"id"`
	Title       string     `json:"title"`
	Description *string    `json:"description"`
	Completed   bool       `json:"completed"`
	Priority    int        `json:"priority"`
	DueDate     *time.Time `json:"due_date"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

type todoPage struct {
	Items      []todo  `json:"items"`
	Total      int64   `json:"total"`
	Limit      int     `json:"limit"`
	Offset     int     `json:"offset"`
	NextCursor *string `json:"next_cursor"`
}

// ptr returns a pointer to a copy of v.
func ptr[T any](v T) *T { return &v }

// createTodo creates a todo and returns it with its ETag.
func createTodo(t testing.TB, a *api, token string, body map[string]any) (todo, string) {
	t.Helper()
	r := expect(t, a.do(req{Method: "POST", Path: "/api/v1/todos", Token: token, Body: body}), http.StatusCreated)
	var td todo
	r.Decode(t, &td)
	return td, r.Header.Get("ETag")
}

// logBuffer collects log lines from concurrent requests.
type logBuffer = pgharness.LogBuffer
