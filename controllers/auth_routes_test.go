package controllers_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestLogout: POST /auth/logout ends the token it is sent with, and only
// it: every route of every instance then answers it 401, and another token
// of the same user keeps working.
func TestLogout(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	other := login(t, a, acc.Username, acc.Password)
	if other == acc.Token {
		t.Fatal("two logins gave the same token")
	}
	todo, _ := createTodo(t, a, acc.Token, map[string]any{"title": "before logout"})

	expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/logout"}), http.StatusUnauthorized)
	expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/logout", Token: "not-a-token"}), http.StatusUnauthorized)
	r := expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/logout", Token: acc.Token}), http.StatusNoContent)
	if len(r.Body) != 0 || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("logout answer: body %q, Cache-Control %q; want none and no-store", r.Body, r.Header.Get("Cache-Control"))
	}
	for _, rq := range []req{
		{Method: "GET", Path: "/api/v1/users/me"},
		{Method: "GET", Path: "/api/v1/todos"},
		{Method: "GET", Path: "/api/v1/todos/" + strconv.FormatInt(todo.ID, 10)},
		{Method: "POST", Path: "/api/v1/todos", Body: map[string]any{"title": "after logout"}},
		{Method: "POST", Path: "/api/v1/auth/logout"},
	} {
		rq.Token = acc.Token
		r := expect(t, a.do(rq), http.StatusUnauthorized)
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s with the logged-out token: 401 without WWW-Authenticate", rq.Method, rq.Path)
		}
	}
	expect(t, a.do(req{Method: "GET", Path: "/api/v1/todos/" + strconv.FormatInt(todo.ID, 10), Token: other}), http.StatusOK)
	expect(t, a.do(req{Method: "GET", Path: "/api/v1/users/me", Token: other}), http.StatusOK)

	// Another instance on the same database refuses the token at once.
	b := newAPI(t, nil)
	expect(t, b.do(req{Method: "GET", Path: "/api/v1/todos", Token: acc.Token}), http.StatusUnauthorized)
	expect(t, b.do(req{Method: "POST", Path: "/api/v1/auth/logout", Token: other}), http.StatusNoContent)
	expect(t, a.do(req{Method: "GET", Path: "/api/v1/todos", Token: other}), http.StatusUnauthorized)
}

// TestLocalAuthOff: with LOCAL_AUTH=false (an auth server's users only),
// register and login answer 404 problems and create nothing; logout and
// the rest are there as before.
func TestLocalAuthOff(t *testing.T) {
	a := newAPI(t, map[string]string{"LOCAL_AUTH": "false", "BETTER_AUTH_URL": "http://127.0.0.1:1"})
	email := "off-" + strconv.FormatInt(time.Now().UnixNano(), 10) + "@example.com"
	r := expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]any{"email": email, "username": "off_" + strconv.FormatInt(time.Now().UnixNano()%1e9, 10), "password": "correct horse battery"}}), http.StatusNotFound)
	if !strings.Contains(string(r.Body), "auth server") {
		t.Errorf("404 does not say where to sign in instead: %s", r.Body)
	}
	expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"username": "anyone", "password": "whatever-pass"}}), http.StatusNotFound)
	var n int64
	db.Raw("SELECT count(*) FROM users WHERE email = ?", email).Scan(&n)
	if n != 0 {
		t.Error("register with local accounts off created a user")
	}
	expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/logout"}), http.StatusUnauthorized)
}

// TestHeadAndMethodNotAllowed: HEAD answers every GET route with its status
// and headers and no body; a method a path does not have is a 405 problem
// whose Allow header lists what it has, HEAD included.
func TestHeadAndMethodNotAllowed(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	todo, etag := createTodo(t, a, acc.Token, map[string]any{"title": "head me"})
	for _, rq := range []req{
		{Method: "HEAD", Path: "/healthz"},
		{Method: "HEAD", Path: "/openapi.json"},
		{Method: "HEAD", Path: "/api/v1/todos", Token: acc.Token},
		{Method: "HEAD", Path: "/api/v1/todos/" + strconv.FormatInt(todo.ID, 10), Token: acc.Token},
	} {
		r := a.do(rq)
		if r.Status != http.StatusOK || len(r.Body) != 0 {
			t.Errorf("HEAD %s: %d with %d body bytes; want 200 and no body", rq.Path, r.Status, len(r.Body))
		}
		if strings.HasPrefix(rq.Path, "/api/v1/todos/") && r.Header.Get("ETag") != etag {
			t.Errorf("HEAD %s: ETag %q, want the GET's %q", rq.Path, r.Header.Get("ETag"), etag)
		}
	}
	if r := a.do(req{Method: "HEAD", Path: "/api/v1/todos"}); r.Status != http.StatusUnauthorized || len(r.Body) != 0 {
		t.Errorf("HEAD without a token: %d with %d body bytes; want 401 and no body", r.Status, len(r.Body))
	}
	if !strings.Contains(a.logs.String(), `"method":"HEAD"`) {
		t.Error("the access log does not name HEAD")
	}

	r := expect(t, a.do(req{Method: "PUT", Path: "/api/v1/todos/" + strconv.FormatInt(todo.ID, 10), Token: acc.Token, Body: map[string]any{"title": "x"}}), http.StatusMethodNotAllowed)
	allow := r.Header.Get("Allow")
	for _, m := range []string{"GET", "HEAD", "PATCH", "DELETE"} {
		if !namesHeader(allow, m) {
			t.Errorf("405 Allow = %q lacks %s", allow, m)
		}
	}
	if r := expect(t, a.do(req{Method: "DELETE", Path: "/healthz"}), http.StatusMethodNotAllowed); !namesHeader(r.Header.Get("Allow"), "HEAD") {
		t.Errorf("405 on /healthz: Allow = %q", r.Header.Get("Allow"))
	}
}

// TestBetterAuthKeysNeverFetched: with the auth server not answering since
// start-up, a Better Auth token that could be good is a 503 with
// Retry-After (the API cannot tell yet, and a 401 would sign the user
// out); a token wrong on its face is still a 401.
func TestBetterAuthKeysNeverFetched(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // nothing answers there
	a := newAPI(t, map[string]string{"BETTER_AUTH_URL": url})
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
		tok.Header["kid"] = "key-1"
		s, err := tok.SignedString(priv)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Now()
	claims := jwt.MapClaims{"sub": "user-1", "email": "u1@example.com", "iss": url, "aud": url, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	r := expect(t, a.do(req{Method: "GET", Path: "/api/v1/todos", Token: sign(claims)}), http.StatusServiceUnavailable)
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After: %v", r.Header)
	}
	if strings.Contains(string(r.Body), "database") {
		t.Errorf("503 blames the database: %s", r.Body)
	}
	claims["exp"] = now.Add(-time.Hour).Unix()
	expect(t, a.do(req{Method: "GET", Path: "/api/v1/todos", Token: sign(claims)}), http.StatusUnauthorized)
}

// TestOversizedTokenRefusedUnread: a bearer token over 8 KiB is a 401
// without being decoded (verifying a 1 MB one cost 86 ms of CPU).
func TestOversizedTokenRefusedUnread(t *testing.T) {
	a := sharedAPI(t)
	huge := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + strings.Repeat("A", 1<<20) + ".sig"
	r := expect(t, a.do(req{Method: "GET", Path: "/api/v1/todos", Token: huge}), http.StatusUnauthorized)
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
}
