package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// client sends requests to a running server and reads whole answers. Its
// pool is big enough for the tests that send from many goroutines at once.
type client struct {
	base string // the server's URL; paths start below it
	hc   *http.Client
}

func newClient(base string) *client {
	tr := &http.Transport{MaxIdleConns: 100, MaxIdleConnsPerHost: 100, IdleConnTimeout: 30 * time.Second}
	return &client{base: base, hc: &http.Client{Timeout: 30 * time.Second, Transport: tr}}
}

// response is one finished exchange; Err is a transport error.
type response struct {
	Name    string // method and path, for messages
	Status  int
	Header  http.Header
	Body    []byte
	Latency time.Duration
	Err     error
}

// do sends one request: body nil (none), url.Values (a form) or a value
// sent as JSON; hdr are header name/value pairs.
func (c *client) do(method, path, token string, body any, hdr ...string) response {
	r := response{Name: method + " " + path}
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			r.Err = err
			return r
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		r.Err = err
		return r
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
	return c.send(r.Name, req)
}

// send sends a request built by the caller (a streamed body, a trace) and
// reads the whole answer; an answer cut short is an error.
func (c *client) send(name string, req *http.Request) response {
	r := response{Name: name}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		r.Err, r.Latency = err, time.Since(start)
		return r
	}
	defer resp.Body.Close()
	r.Body, r.Err = io.ReadAll(resp.Body)
	r.Status, r.Header, r.Latency = resp.StatusCode, resp.Header, time.Since(start)
	return r
}

func (r response) json(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("decode %d answer %q: %w", r.Status, clip(string(r.Body), 200), err)
	}
	return nil
}

// expect fails the test unless the exchange answered want, and decodes the
// body into v unless v is nil.
func (r response) expect(t testing.TB, want int, v any) {
	t.Helper()
	if r.Err != nil || r.Status != want {
		t.Fatalf("%s: status %d, err %v, want %d; body: %.300s", r.Name, r.Status, r.Err, want, r.Body)
	}
	if v != nil {
		if err := r.json(v); err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
	}
}

// register registers a user called name and logs in, failing the test on
// error, and returns the access token.
func register(t testing.TB, c *client, name string) string {
	t.Helper()
	pw := "correct horse " + name
	r := c.do("POST", "/api/v1/auth/register", "", map[string]any{"email": name + "@example.com", "username": name, "password": pw})
	if r.Err != nil || r.Status != http.StatusCreated {
		t.Fatalf("register %s: %d %v %s", name, r.Status, r.Err, r.Body)
	}
	r = c.do("POST", "/api/v1/auth/login", "", map[string]any{"username": name, "password": pw})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if r.Err != nil || r.Status != http.StatusOK || r.json(&tok) != nil || tok.AccessToken == "" {
		t.Fatalf("login %s: %d %v %s", name, r.Status, r.Err, r.Body)
	}
	return tok.AccessToken
}

// apiTodo is the part of a todo answer the tests read.
type apiTodo struct {
	ID       int64  `json:"id"`
	Title    string `json:"title"`
	Priority int    `json:"priority"`
}

// apiPage is a page of todos.
type apiPage struct {
	Items      []apiTodo `json:"items"`
	Total      int64     `json:"total"`
	NextCursor *string   `json:"next_cursor"`
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// queryCount runs a count query on dbURL, on a connection of its own.
func queryCount(dbURL, query string, args ...any) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var n int64
	err = conn.QueryRow(ctx, query, args...).Scan(&n)
	return n, err
}

// countRows is queryCount, failing the test on error.
func countRows(t testing.TB, dbURL, query string, args ...any) int64 {
	t.Helper()
	n, err := queryCount(dbURL, query, args...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
