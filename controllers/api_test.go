package controllers_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/todo-api/todo-api/database"
	"github.com/todo-api/todo-api/internal/testdb"
	"github.com/todo-api/todo-api/migrations"
	"github.com/todo-api/todo-api/server"
)

// TestJourney walks the frontend's path: register → login → me → create →
// get → patch → list → delete, checking each status and shape.
func TestJourney(t *testing.T) {
	a := sharedAPI(t)
	r := expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]any{"email": "Journey@Example.COM", "username": "Journey_1", "password": "s3cret-pass"}}), http.StatusCreated)
	user := r.JSON(t)
	if user["email"] != "journey@example.com" || user["username"] != "Journey_1" || user["is_active"] != true {
		t.Errorf("registered user = %v", user)
	}
	if _, leaked := user["hashed_password"]; leaked {
		t.Error("response shows hashed_password")
	}
	wantKeys(t, user, "id", "email", "username", "is_active", "created_at", "updated_at")

	r = expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"username": "journey@example.com", "password": "s3cret-pass"}}), http.StatusOK)
	tok := r.JSON(t)
	if tok["token_type"] != "bearer" || tok["expires_in"] != float64(3600) || tok["access_token"] == "" {
		t.Errorf("token = %v", tok)
	}
	token := tok["access_token"].(string)

	me := expect(t, a.do(req{Method: "GET", Path: "/api/v1/users/me", Token: token}), http.StatusOK).JSON(t)
	if me["id"] != user["id"] {
		t.Errorf("me = %v, want user %v", me, user["id"])
	}

	r = expect(t, a.do(req{Method: "POST", Path: "/api/v1/todos", Token: token, Body: map[string]any{"title": "  Write tests  ", "description": "all of them", "priority": 4, "due_date": "2027-01-02T03:04:05+01:00"}}), http.StatusCreated)
	created := r.JSON(t)
	wantKeys(t, created, "id", "title", "description", "completed", "priority", "due_date", "created_at", "updated_at")
	id := int64(created["id"].(float64))
	if loc := r.Header.Get("Location"); loc != fmt.Sprintf("/api/v1/todos/%d", id) {
		t.Errorf("Location = %q", loc)
	}
	if created["title"] != "Write tests" || created["due_date"] != "2027-01-02T02:04:05Z" || created["completed"] != false {
		t.Errorf("created = %v", created)
	}
	for _, k := range []string{"created_at", "updated_at"} {
		if s := created[k].(string); !strings.HasSuffix(s, "Z") {
			t.Errorf("%s = %q, want RFC 3339 UTC", k, s)
		}
	}
	etag := r.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) {
		t.Errorf("ETag = %q, want a strong entity tag", etag)
	}

	r = expect(t, a.do(req{Method: "GET", Path: fmt.Sprintf("/api/v1/todos/%d", id), Token: token}), http.StatusOK)
	if r.Header.Get("ETag") != etag {
		t.Errorf("GET ETag = %q, want %q", r.Header.Get("ETag"), etag)
	}
	expect(t, a.do(req{Method: "GET", Path: fmt.Sprintf("/api/v1/todos/%d", id), Token: token, Header: map[string]string{"If-None-Match": etag}}), http.StatusNotModified)

	r = expect(t, a.do(req{Method: "PATCH", Path: fmt.Sprintf("/api/v1/todos/%d", id), Token: token, Header: map[string]string{"If-Match": etag}, Body: map[string]any{"completed": true, "description": nil}}), http.StatusOK)
	patched := r.JSON(t)
	if patched["completed"] != true || patched["description"] != nil || patched["title"] != "Write tests" || patched["priority"] != float64(4) {
		t.Errorf("patched = %v", patched)
	}
	if patched["updated_at"] == created["updated_at"] {
		t.Error("PATCH did not move updated_at")
	}
	newTag := r.Header.Get("ETag")
	if newTag == etag || newTag == "" {
		t.Errorf("ETag after PATCH = %q (was %q)", newTag, etag)
	}

	page := expect(t, a.do(req{Method: "GET", Path: "/api/v1/todos", Token: token}), http.StatusOK).JSON(t)
	wantKeys(t, page, "items", "total", "limit", "offset", "next_cursor")
	if page["total"] != float64(1) || page["limit"] != float64(20) || page["offset"] != float64(0) || page["next_cursor"] != nil {
		t.Errorf("page = %v", page)
	}

	expect(t, a.do(req{Method: "DELETE", Path: fmt.Sprintf("/api/v1/todos/%d", id), Token: token, Header: map[string]string{"If-Match": etag}}), http.StatusPreconditionFailed)
	r = expect(t, a.do(req{Method: "DELETE", Path: fmt.Sprintf("/api/v1/todos/%d", id), Token: token, Header: map[string]string{"If-Match": newTag}}), http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Errorf("204 with a body: %s", r.Body)
	}
	expect(t, a.do(req{Method: "GET", Path: fmt.Sprintf("/api/v1/todos/%d", id), Token: token}), http.StatusNotFound)
	expect(t, a.do(req{Method: "DELETE", Path: fmt.Sprintf("/api/v1/todos/%d", id), Token: token}), http.StatusNotFound)
}

func wantKeys(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	if len(m) != len(keys) {
		t.Errorf("object has keys %v, want exactly %v", mapKeys(m), keys)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("object lacks %q: %v", k, m)
		}
	}
}

func mapKeys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestLoginForm(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	form := "grant_type=password&username=" + acc.Username + "&password=" + strings.ReplaceAll(acc.Password, " ", "+")
	r := expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: form, Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}), http.StatusOK)
	if r.JSON(t)["token_type"] != "bearer" {
		t.Errorf("form login = %s", r.Body)
	}
	bad := "username=" + acc.Username + "&password=wrong-password"
	expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: bad, Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}), http.StatusUnauthorized)
	p := checkProblem(t, expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: "username=x", Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}), http.StatusUnprocessableEntity))
	if strings.Join(p.fields(), ",") != "password" {
		t.Errorf("missing password fields = %v", p.fields())
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	unknown := a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"username": "nobody_here", "password": "whatever-pass"}})
	wrong := a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"username": acc.Username, "password": "whatever-pass"}})
	expect(t, unknown, http.StatusUnauthorized)
	expect(t, wrong, http.StatusUnauthorized)
	if string(unknown.Body) != string(wrong.Body) {
		t.Errorf("unknown user and wrong password answer differently:\n%s\n%s", unknown.Body, wrong.Body)
	}
	if unknown.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	// Case-insensitive username login.
	login(t, a, strings.ToUpper(acc.Username), acc.Password)
}

// TestTokenAttacks: every token fault answers 401 with WWW-Authenticate.
func TestTokenAttacks(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	secret := []byte(testSecret)
	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sub := strconv.FormatInt(acc.ID, 10)
	now := time.Now()
	// ours are the claims our tokens carry besides sub and the times.
	ours := func(c jwt.MapClaims) jwt.MapClaims {
		c["iss"], c["aud"], c["ver"] = "todo-api", "todo-api", 0
		return c
	}
	valid := ours(jwt.MapClaims{"sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	if r := a.do(req{Method: "GET", Path: "/api/v1/users/me", Token: sign(jwt.SigningMethodHS256, secret, valid)}); r.Status != http.StatusOK {
		t.Fatalf("the well-formed token the attacks start from is refused: %d %s", r.Status, r.Body)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	noneToken := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64([]byte(fmt.Sprintf(`{"sub":"%s","exp":%d}`, sub, now.Add(time.Hour).Unix()))) + "."

	tests := map[string]string{
		"malformed":            "not-a-jwt",
		"alg none":             noneToken,
		"HS512":                sign(jwt.SigningMethodHS512, secret, valid),
		"wrong secret":         sign(jwt.SigningMethodHS256, []byte("another-secret-of-at-least-32-chars!!"), valid),
		"expired":              sign(jwt.SigningMethodHS256, secret, ours(jwt.MapClaims{"sub": sub, "iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})),
		"no exp":               sign(jwt.SigningMethodHS256, secret, ours(jwt.MapClaims{"sub": sub, "iat": now.Unix()})),
		"not yet valid":        sign(jwt.SigningMethodHS256, secret, ours(jwt.MapClaims{"sub": sub, "iat": now.Unix(), "nbf": now.Add(time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()})),
		"issued in future":     sign(jwt.SigningMethodHS256, secret, ours(jwt.MapClaims{"sub": sub, "iat": now.Add(time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()})),
		"unknown user":         sign(jwt.SigningMethodHS256, secret, ours(jwt.MapClaims{"sub": "999999999", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})),
		"non-numeric sub":      sign(jwt.SigningMethodHS256, secret, ours(jwt.MapClaims{"sub": "admin", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})),
		"signature removed":    strings.Join(strings.Split(sign(jwt.SigningMethodHS256, secret, valid), ".")[:2], ".") + ".",
		"published dev secret": sign(jwt.SigningMethodHS256, []byte("development-only-secret-change-me-0123456789"), valid),
		"another issuer": sign(jwt.SigningMethodHS256, secret, func() jwt.MapClaims {
			c := ours(jwt.MapClaims{"sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
			c["iss"] = "other-service"
			return c
		}()),
		"another audience": sign(jwt.SigningMethodHS256, secret, func() jwt.MapClaims {
			c := ours(jwt.MapClaims{"sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
			c["aud"] = "other-service"
			return c
		}()),
		"no iat": sign(jwt.SigningMethodHS256, secret, ours(jwt.MapClaims{"sub": sub, "exp": now.Add(time.Hour).Unix()})),
		"stale version": sign(jwt.SigningMethodHS256, secret, func() jwt.MapClaims {
			c := ours(jwt.MapClaims{"sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
			c["ver"] = 7
			return c
		}()),
	}
	for name, token := range tests {
		t.Run(name, func(t *testing.T) {
			r := expect(t, a.do(req{Method: "GET", Path: "/api/v1/users/me", Token: token}), http.StatusUnauthorized)
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
			}
		})
	}
	for name, header := range map[string]string{"missing": "", "basic": "Basic dXNlcjpwYXNz", "empty bearer": "Bearer "} {
		t.Run(name, func(t *testing.T) {
			expect(t, a.do(req{Method: "GET", Path: "/api/v1/todos", Header: map[string]string{"Authorization": header}}), http.StatusUnauthorized)
		})
	}
	// The sanity check: a well-formed token of ours works.
	expect(t, a.do(req{Method: "GET", Path: "/api/v1/users/me", Token: sign(jwt.SigningMethodHS256, secret, valid)}), http.StatusOK)
}

func TestDeactivation(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	td, _ := createTodo(t, a, acc.Token, map[string]any{"title": "stays"})
	expect(t, a.do(req{Method: "DELETE", Path: "/api/v1/users/me", Token: acc.Token}), http.StatusNoContent)
	expect(t, a.do(req{Method: "GET", Path: "/api/v1/users/me", Token: acc.Token}), http.StatusUnauthorized)
	expect(t, a.do(req{Method: "GET", Path: "/api/v1/todos", Token: acc.Token}), http.StatusUnauthorized)
	r := expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"username": acc.Username, "password": acc.Password}}), http.StatusUnauthorized)
	unknown := a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"username": "nobody_here", "password": acc.Password}})
	if string(r.Body) != string(unknown.Body) {
		t.Errorf("deactivated login differs from unknown user:\n%s\n%s", r.Body, unknown.Body)
	}
	var active bool
	var todos int64
	db.Raw("SELECT is_active FROM users WHERE id = ?", acc.ID).Scan(&active)
	db.Raw("SELECT count(*) FROM todos WHERE id = ? AND user_id = ?", td.ID, acc.ID).Scan(&todos)
	if active || todos != 1 {
		t.Errorf("after soft delete: is_active=%v, todos kept=%d; want false, 1", active, todos)
	}
	// The address stays taken.
	expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]any{"email": acc.Email, "username": "fresh_name_x", "password": "password123"}}), http.StatusConflict)
}

func TestUpdateMe(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	other := newAccount(t, a)
	path := "/api/v1/users/me"
	r := expect(t, a.do(req{Method: "PATCH", Path: path, Token: acc.Token, Body: map[string]any{"username": acc.Username + "_x"}}), http.StatusOK)
	if r.JSON(t)["username"] != acc.Username+"_x" {
		t.Errorf("username not changed: %s", r.Body)
	}
	p := checkProblem(t, expect(t, a.do(req{Method: "PATCH", Path: path, Token: acc.Token, Body: map[string]any{"email": "new@example.com"}}), http.StatusUnprocessableEntity))
	if strings.Join(p.fields(), ",") != "current_password" {
		t.Errorf("email change without current_password: fields %v", p.fields())
	}
	expect(t, a.do(req{Method: "PATCH", Path: path, Token: acc.Token, Body: map[string]any{"password": "another-pass", "current_password": "wrong-wrong"}}), http.StatusUnprocessableEntity)
	p = checkProblem(t, expect(t, a.do(req{Method: "PATCH", Path: path, Token: acc.Token, Body: map[string]any{"email": strings.ToUpper(other.Email), "current_password": acc.Password}}), http.StatusConflict))
	if strings.Join(p.fields(), ",") != "email" {
		t.Errorf("email conflict fields = %v", p.fields())
	}
	expect(t, a.do(req{Method: "PATCH", Path: path, Token: acc.Token, Body: map[string]any{"password": "another-pass", "email": "Moved-" + acc.Email, "current_password": acc.Password}}), http.StatusOK)
	login(t, a, "moved-"+acc.Email, "another-pass")
	expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"username": acc.Username + "_x", "password": acc.Password}}), http.StatusUnauthorized)
}

// TestIfMatchRace: many PATCHes with the same ETag at once; exactly one
// wins, the rest get 412.
func TestIfMatchRace(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	for round := range 5 {
		td, tag := createTodo(t, a, acc.Token, map[string]any{"title": "contended"})
		const writers = 8
		statuses := make([]int, writers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r := a.do(req{Method: "PATCH", Path: fmt.Sprintf("/api/v1/todos/%d", td.ID), Token: acc.Token, Header: map[string]string{"If-Match": tag}, Body: map[string]any{"title": fmt.Sprintf("writer %d", i)}})
				statuses[i] = r.Status
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for _, s := range statuses {
			switch s {
			case http.StatusOK:
				won++
			case http.StatusPreconditionFailed:
			default:
				t.Errorf("round %d: unexpected status %d", round, s)
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d writers won with the same ETag (statuses %v), want exactly 1", round, won, statuses)
		}
	}
}

func TestIfMatchForms(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	td, tag := createTodo(t, a, acc.Token, map[string]any{"title": "tags"})
	path := fmt.Sprintf("/api/v1/todos/%d", td.ID)
	patch := func(ifMatch string) response {
		return a.do(req{Method: "PATCH", Path: path, Token: acc.Token, Header: map[string]string{"If-Match": ifMatch}, Body: map[string]any{"priority": 1}})
	}
	expect(t, patch(`"nope"`), http.StatusPreconditionFailed)
	expect(t, patch("W/"+tag), http.StatusPreconditionFailed)
	expect(t, patch("garbage"), http.StatusPreconditionFailed)
	expect(t, patch(`"!!"`), http.StatusPreconditionFailed)
	r := expect(t, patch(`"stale", `+tag), http.StatusOK)
	expect(t, patch("*"), http.StatusOK)
	expect(t, a.do(req{Method: "PATCH", Path: "/api/v1/todos/999999999", Token: acc.Token, Header: map[string]string{"If-Match": r.Header.Get("ETag")}, Body: map[string]any{"priority": 1}}), http.StatusNotFound)
}

// TestOtherUsersTodosAre404 walks every todo route as a second user.
func TestOtherUsersTodosAre404(t *testing.T) {
	a := sharedAPI(t)
	owner := newAccount(t, a)
	intruder := newAccount(t, a)
	td, tag := createTodo(t, a, owner.Token, map[string]any{"title": "private", "description": "secret"})
	path := fmt.Sprintf("/api/v1/todos/%d", td.ID)
	for _, r := range []req{
		{Method: "GET", Path: path},
		{Method: "PATCH", Path: path, Body: map[string]any{"title": "hijacked"}},
		{Method: "PATCH", Path: path, Body: map[string]any{"title": "hijacked"}, Header: map[string]string{"If-Match": tag}},
		{Method: "DELETE", Path: path},
		{Method: "DELETE", Path: path, Header: map[string]string{"If-Match": tag}},
	} {
		r.Token = intruder.Token
		res := expect(t, a.do(r), http.StatusNotFound)
		missing := expect(t, a.do(req{Method: r.Method, Path: "/api/v1/todos/999999999", Token: intruder.Token, Body: r.Body, Header: r.Header}), http.StatusNotFound)
		if string(res.Body) != string(missing.Body) {
			t.Errorf("%s %s: another user's todo answers differently from a missing one", r.Method, r.Path)
		}
	}
	page := expect(t, a.do(req{Method: "GET", Path: "/api/v1/todos?q=secret", Token: intruder.Token}), http.StatusOK).JSON(t)
	if page["total"] != float64(0) {
		t.Errorf("intruder lists %v", page)
	}
	got := expect(t, a.do(req{Method: "GET", Path: path, Token: owner.Token}), http.StatusOK).JSON(t)
	if got["title"] != "private" || got["description"] != "secret" {
		t.Errorf("owner's todo changed: %v", got)
	}
}

// TestRouteTable checks every route's statuses that apidocs/openapi.yaml lists.
func TestRouteTable(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	td, _ := createTodo(t, a, acc.Token, map[string]any{"title": "routes"})
	item := fmt.Sprintf("/api/v1/todos/%d", td.ID)
	tests := []struct {
		name   string
		r      req
		status int
	}{
		{"register", req{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]any{"email": "rt@example.com", "username": "route_table", "password": "password1"}}, 201},
		{"register conflict", req{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]any{"email": "RT@example.com", "username": "other_name", "password": "password1"}}, 409},
		{"register invalid", req{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]any{"email": "x"}}, 422},
		{"register bad json", req{Method: "POST", Path: "/api/v1/auth/register", Body: "{"}, 400},
		{"login", req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"username": acc.Username, "password": acc.Password}}, 200},
		{"login wrong", req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"username": acc.Username, "password": "nope-nope"}}, 401},
		{"login invalid", req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{}}, 422},
		{"me", req{Method: "GET", Path: "/api/v1/users/me", Token: acc.Token}, 200},
		{"me no token", req{Method: "GET", Path: "/api/v1/users/me"}, 401},
		{"patch me", req{Method: "PATCH", Path: "/api/v1/users/me", Token: acc.Token, Body: map[string]any{}}, 200},
		{"patch me invalid", req{Method: "PATCH", Path: "/api/v1/users/me", Token: acc.Token, Body: map[string]any{"username": "x"}}, 422},
		{"list", req{Method: "GET", Path: "/api/v1/todos", Token: acc.Token}, 200},
		{"list bad sort", req{Method: "GET", Path: "/api/v1/todos?sort=nope", Token: acc.Token}, 400},
		{"list no token", req{Method: "GET", Path: "/api/v1/todos"}, 401},
		{"create", req{Method: "POST", Path: "/api/v1/todos", Token: acc.Token, Body: map[string]any{"title": "t"}}, 201},
		{"create invalid", req{Method: "POST", Path: "/api/v1/todos", Token: acc.Token, Body: map[string]any{"title": ""}}, 422},
		{"create wrong content type", req{Method: "POST", Path: "/api/v1/todos", Token: acc.Token, Body: `{"title":"t"}`, Header: map[string]string{"Content-Type": "text/plain"}}, 400},
		{"batch", req{Method: "POST", Path: "/api/v1/todos/batch", Token: acc.Token, Body: map[string]any{"items": []any{map[string]any{"title": "a"}, map[string]any{"title": "b"}}}}, 201},
		{"batch invalid", req{Method: "POST", Path: "/api/v1/todos/batch", Token: acc.Token, Body: map[string]any{"items": []any{}}}, 422},
		{"get", req{Method: "GET", Path: item, Token: acc.Token}, 200},
		{"get missing", req{Method: "GET", Path: "/api/v1/todos/999999999", Token: acc.Token}, 404},
		{"get non-numeric id", req{Method: "GET", Path: "/api/v1/todos/abc", Token: acc.Token}, 404},
		{"patch", req{Method: "PATCH", Path: item, Token: acc.Token, Body: map[string]any{"priority": 2}}, 200},
		{"patch stale", req{Method: "PATCH", Path: item, Token: acc.Token, Body: map[string]any{"priority": 2}, Header: map[string]string{"If-Match": `"0"`}}, 412},
		{"patch invalid", req{Method: "PATCH", Path: item, Token: acc.Token, Body: map[string]any{"priority": 7}}, 422},
		{"delete stale", req{Method: "DELETE", Path: item, Token: acc.Token, Header: map[string]string{"If-Match": `"0"`}}, 412},
		{"delete", req{Method: "DELETE", Path: item, Token: acc.Token}, 204},
		{"unknown route", req{Method: "GET", Path: "/api/v1/nope", Token: acc.Token}, 404},
		{"wrong method", req{Method: "PUT", Path: "/api/v1/todos", Token: acc.Token}, 405},
		{"health", req{Method: "GET", Path: "/healthz"}, 200},
		{"ready", req{Method: "GET", Path: "/readyz"}, 200},
		{"delete me", req{Method: "DELETE", Path: "/api/v1/users/me", Token: acc.Token}, 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, a.do(tt.r), tt.status)
		})
	}
}

func TestRateLimit(t *testing.T) {
	a := newAPI(t, map[string]string{"AUTH_RATE_LIMIT": "0.5", "AUTH_RATE_BURST": "3"})
	body := map[string]any{"username": "nobody_here", "password": "whatever-pass"}
	for i := range 3 {
		if r := a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: body}); r.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d", i, r.Status)
		}
	}
	r := expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: body}), http.StatusTooManyRequests)
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 2 {
		t.Errorf("Retry-After = %q, want 1–2 seconds", r.Header.Get("Retry-After"))
	}
	expect(t, a.do(req{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]any{}}), http.StatusTooManyRequests)
	// Another client address has its own bucket.
	r = a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: body, Header: map[string]string{"X-Forwarded-For": "10.9.9.9"}})
	if r.Status != http.StatusTooManyRequests {
		t.Errorf("X-Forwarded-For from an untrusted peer changed the bucket: %d", r.Status)
	}
	// Non-auth routes are not limited.
	expect(t, a.do(req{Method: "GET", Path: "/healthz"}), http.StatusOK)
}

// TestRateLimitAcrossInstances: two instances over one database hold a
// client to the configured burst in total, not to the burst each, however
// a balancer alternates its requests between them.
func TestRateLimitAcrossInstances(t *testing.T) {
	limits := map[string]string{"AUTH_RATE_LIMIT": "0.05", "AUTH_RATE_BURST": "4"}
	instances := []*api{newAPI(t, limits), newAPI(t, limits)}
	body := map[string]any{"username": "nobody_here", "password": "whatever-pass"}
	peer := "192.0.2.77:4000"
	statuses := map[int]int{}
	for i := range 12 {
		r := instances[i%2].do(req{Method: "POST", Path: "/api/v1/auth/login", Body: body, Peer: peer})
		statuses[r.Status]++
	}
	if statuses[http.StatusUnauthorized] != 4 || statuses[http.StatusTooManyRequests] != 8 {
		t.Errorf("12 logins alternating over 2 instances, burst 4: %v; want 4 × 401 and 8 × 429", statuses)
	}
}

func TestRequestIDAndHeaders(t *testing.T) {
	a := sharedAPI(t)
	r := a.do(req{Method: "GET", Path: "/healthz", Header: map[string]string{"X-Request-ID": "abc-123"}})
	if r.Header.Get("X-Request-ID") != "abc-123" {
		t.Errorf("X-Request-ID not echoed: %q", r.Header.Get("X-Request-ID"))
	}
	r = a.do(req{Method: "GET", Path: "/api/v1/todos"})
	if id := r.Header.Get("X-Request-ID"); len(id) < 16 {
		t.Errorf("generated X-Request-ID = %q", id)
	}
	r = a.do(req{Method: "GET", Path: "/healthz", Header: map[string]string{"X-Request-ID": "bad id\twith spaces"}})
	if strings.Contains(r.Header.Get("X-Request-ID"), " ") {
		t.Errorf("a malformed X-Request-ID was echoed: %q", r.Header.Get("X-Request-ID"))
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("security headers missing: %v", r.Header)
	}
}

func TestCORS(t *testing.T) {
	a := sharedAPI(t)
	r := a.do(req{Method: "OPTIONS", Path: "/api/v1/todos/1", Header: map[string]string{
		"Origin": "http://localhost:3000", "Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "authorization, if-match, content-type",
	}})
	if r.Status/100 != 2 || r.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
		t.Fatalf("preflight: %d %v", r.Status, r.Header)
	}
	if h := strings.ToLower(r.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(h, "if-match") || !strings.Contains(h, "authorization") {
		t.Errorf("Allow-Headers = %q", h)
	}
	acc := newAccount(t, a)
	r = a.do(req{Method: "GET", Path: "/api/v1/todos", Token: acc.Token, Header: map[string]string{"Origin": "http://localhost:3000"}})
	exposed := strings.ToLower(r.Header.Get("Access-Control-Expose-Headers"))
	for _, h := range []string{"etag", "location", "x-request-id"} {
		if !strings.Contains(exposed, h) {
			t.Errorf("Expose-Headers = %q lacks %s", exposed, h)
		}
	}
	r = a.do(req{Method: "GET", Path: "/healthz", Header: map[string]string{"Origin": "https://evil.example.com"}})
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a foreign origin was allowed: %v", r.Header)
	}
}

// TestInternalErrorsAreOpaque: a failing database query answers a generic
// problem; its cause goes to the log with the request id, once.
func TestInternalErrorsAreOpaque(t *testing.T) {
	url := testdb.Fresh(t)
	fresh, err := database.Open(context.Background(), database.Options{URL: url, MaxOpenConns: 4, MaxIdleConns: 4, StartupTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s, _ := fresh.DB(); s.Close() }()
	if _, err := migrations.NewRunner(fresh, migrations.All(), nil).Up(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	app, err := server.New(testConfig(t, map[string]string{"DATABASE_URL": url}), fresh, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a := &api{t: t, handler: app.Handler, logs: logs}
	acc := newAccount(t, a)
	todo, _ := createTodo(t, a, acc.Token, map[string]any{"title": "before the break"})
	if err := fresh.Exec("ALTER TABLE todos RENAME COLUMN title TO title_gone").Error; err != nil {
		t.Fatal(err)
	}
	// Every kind of write fails the same opaque way.
	for _, rq := range []req{
		{Method: "POST", Path: "/api/v1/todos/batch", Token: acc.Token, Body: map[string]any{"items": []map[string]any{{"title": "a"}}}},
		{Method: "PATCH", Path: fmt.Sprintf("/api/v1/todos/%d", todo.ID), Token: acc.Token, Body: map[string]any{"title": "b"}},
	} {
		r := expect(t, a.do(rq), http.StatusInternalServerError)
		if strings.Contains(string(r.Body), "title_gone") || strings.Contains(string(r.Body), "column") {
			t.Errorf("%s %s: 500 leaks its cause: %s", rq.Method, rq.Path, r.Body)
		}
	}
	r := expect(t, a.do(req{Method: "GET", Path: "/api/v1/todos?sort=title", Token: acc.Token, Header: map[string]string{"X-Request-ID": "trace-me-500"}}), http.StatusInternalServerError)
	if strings.Contains(string(r.Body), "title_gone") || strings.Contains(string(r.Body), "column") {
		t.Errorf("500 leaks its cause: %s", r.Body)
	}
	if n := strings.Count(logs.String(), `"msg":"internal error","request_id":"trace-me-500"`); n != 1 {
		t.Errorf("internal error logged %d times with its request id, want 1:\n%s", n, logs.String())
	}

	// Readiness reports a schema behind the code.
	if err := fresh.Exec("ALTER TABLE todos RENAME COLUMN title_gone TO title").Error; err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.NewRunner(fresh, migrations.All(), nil).Down(context.Background(), migrations.DownTarget{Steps: 1}); err != nil {
		t.Fatal(err)
	}
	r = a.do(req{Method: "GET", Path: "/readyz"})
	if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), "schema behind") {
		t.Errorf("readyz with a pending migration = %d %s", r.Status, r.Body)
	}
}

// TestDatabaseGoneIsA503: with the database unreachable (its connection
// refused), every route that needs it answers 503 with Retry-After, and the
// failure is logged as a warning with the request id; readiness says so.
func TestDatabaseGoneIsA503(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := strings.TrimPrefix(strings.SplitN(strings.TrimPrefix(dbURL, "postgres://"), "/", 2)[0], "postgres@")
	var conns sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				io.Copy(c, up)
			})
		}
	}()
	url := strings.Replace(dbURL, target, ln.Addr().String(), 1)
	gone, err := database.Open(context.Background(), database.Options{URL: url, MaxOpenConns: 2, MaxIdleConns: 0, StartupTimeout: 5 * time.Second, ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s, _ := gone.DB(); s.Close() }()
	logs := &logBuffer{}
	app, err := server.New(testConfig(t, map[string]string{"REQUEST_TIMEOUT": "3s"}), gone, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a := &api{t: t, handler: app.Handler, logs: logs}
	acc := newAccount(t, sharedAPI(t)) // a valid token, signed with the same secret
	ln.Close()                         // the database goes away
	sqlDB, _ := gone.DB()
	sqlDB.SetMaxIdleConns(0)
	r := a.do(req{Method: "GET", Path: "/api/v1/users/me", Token: acc.Token, Header: map[string]string{"X-Request-ID": "db-gone-1"}})
	checkProblem(t, expect(t, r, http.StatusServiceUnavailable))
	if r.Header.Get("Retry-After") == "" || !strings.Contains(logs.String(), `"msg":"database unavailable","request_id":"db-gone-1"`) {
		t.Errorf("503: Retry-After %q; logs:\n%s", r.Header.Get("Retry-After"), logs.String())
	}
	// The shared auth rate limit cannot be read: it fails closed (503),
	// never lets the request through unlimited.
	r = a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"username": acc.Username, "password": acc.Password}})
	checkProblem(t, expect(t, r, http.StatusServiceUnavailable))
	r = a.do(req{Method: "GET", Path: "/api/v1/todos", Token: acc.Token})
	checkProblem(t, expect(t, r, http.StatusServiceUnavailable))
	r = a.do(req{Method: "GET", Path: "/readyz"})
	if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), "database unreachable") {
		t.Errorf("readyz with the database gone = %d %s", r.Status, r.Body)
	}
}

// TestNewRefusesAShortSecret: the wiring fails, not the first request.
func TestNewRefusesAShortSecret(t *testing.T) {
	cfg := testConfig(t, nil)
	cfg.SigningSecret = "short"
	if _, err := server.New(cfg, db, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("server.New accepted a 5-byte signing secret")
	}
}

// TestClientGoneIsNotAServerError: a request whose client has gone away is
// logged at INFO, not as a 500 or 503.
func TestClientGoneIsNotAServerError(t *testing.T) {
	a := newAPI(t, nil)
	acc := newAccount(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, path := range []string{"/api/v1/todos?q=x", "/api/v1/users/me"} {
		r := httptest.NewRequest("GET", path, nil).WithContext(ctx)
		r.Header.Set("Authorization", "Bearer "+acc.Token)
		a.handler.ServeHTTP(httptest.NewRecorder(), r)
	}
	logs := a.logs.String()
	if strings.Contains(logs, `"level":"ERROR"`) || strings.Contains(logs, `"level":"WARN"`) {
		t.Errorf("a canceled request was logged as a server problem:\n%s", logs)
	}
	if !strings.Contains(logs, "request canceled by client") {
		t.Errorf("no INFO line for the canceled request:\n%s", logs)
	}
}
