package controllers_test

// Hostile requests through the real router, one test each. Only attacks
// no other test covers are here; these are covered elsewhere and not
// repeated:
//
//   - forged, expired, alg=none, wrongly signed tokens: TestTokenAttacks
//     (api_test.go); deactivation on GET /users/me and GET /todos:
//     TestDeactivation
//   - mass assignment of id, user_id, created_at, is_active, ... in every
//     body, case variants included: TestValidationMassAssignment
//   - another user's todo (BOLA), by id and in lists: TestOtherUsersTodosAre404,
//     TestListOwnerIsolation
//   - SQL-shaped text stored and searched literally: TestValidationSQLShapedText
//   - body size limit (with and without Content-Length): TestValidationBodyLimit
//   - NUL in every text field: TestValidationNUL; deep nesting:
//     TestValidationDeepNesting; invalid UTF-8 and malformed JSON:
//     TestValidationBodyFormat
//   - bad, repeated and unknown query parameters: TestListBadQuery; tampered
//     cursors: TestListCursorErrors
//   - malformed X-Request-ID (spaces, 129 characters, non-ASCII):
//     TestAccessLogAndRequestID (ops_test.go)
//
// Arbitrary bytes in every body and in the list query are fuzzed in
// fuzz_test.go.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// relEnv is what the attacks share: one account with one todo.
type relEnv struct {
	acc  account
	todo todo
	tag  string
}

func (e relEnv) todoPath() string { return fmt.Sprintf("/api/v1/todos/%d", e.todo.ID) }

// relUnchanged fails unless the todo is exactly as it was created.
func relUnchanged(t *testing.T, a *api, e relEnv) {
	t.Helper()
	got, tag := valGetTodo(t, a, e.acc.Token, e.todo.ID)
	if !valSameTodo(got, e.todo) || tag != e.tag {
		t.Errorf("todo changed: %+v (ETag %s), want %+v (ETag %s)", got, tag, e.todo, e.tag)
	}
}

// relNoServerError fails on any 5xx and checks an error's problem document.
func relNoServerError(t *testing.T, r response) {
	t.Helper()
	if r.Status >= 500 {
		t.Fatalf("status %d; body: %.300s", r.Status, r.Body)
	}
	if r.Status >= 400 {
		checkProblem(t, r)
	}
}

var relGeneratedID = regexp.MustCompile(`^[0-9a-f]{24}$`)

// relSetup gives an attack the shared router and an account of its own
// with one todo.
func relSetup(t *testing.T) (*api, relEnv) {
	t.Helper()
	a := sharedAPI(t)
	acc := newAccount(t, a)
	td, tag := createTodo(t, a, acc.Token, map[string]any{"title": "attack target", "description": "keep me", "priority": 2})
	return a, relEnv{acc: acc, todo: td, tag: tag}
}

// TestAttackBatchOf10000SmallItems: batch of 10,000 small items is refused naming items.
func TestAttackBatchOf10000SmallItems(t *testing.T) {
	a, e := relSetup(t)
	items := make([]any, 10000)
	for i := range items {
		items[i] = map[string]any{"title": "x"}
	}
	body, _ := json.Marshal(map[string]any{"items": items})
	if len(body) >= valBodyLimit {
		t.Fatalf("body of %d bytes is not under the limit; the case means to reach the handler", len(body))
	}
	before := relTodoCount(t, e.acc.ID)
	start := time.Now()
	r := a.do(req{Method: "POST", Path: valBatchPath, Token: e.acc.Token, Body: body})
	valWantFields(t, r, http.StatusUnprocessableEntity, "items")
	if !strings.Contains(string(r.Body), "10000") {
		t.Errorf("the problem does not say how many items came: %s", r.Body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusing took %v", d)
	}
	if after := relTodoCount(t, e.acc.ID); after != before {
		t.Errorf("%d todos stored by a refused batch", after-before)
	}
}

// TestAttackBatchOverTheBodyLimit: batch of 10,000 items over the body limit is 413.
func TestAttackBatchOverTheBodyLimit(t *testing.T) {
	a, e := relSetup(t)
	items := make([]any, 10000)
	for i := range items {
		items[i] = map[string]any{"title": fmt.Sprintf("item %05d %s", i, strings.Repeat("p", 100))}
	}
	body, _ := json.Marshal(map[string]any{"items": items})
	if len(body) <= valBodyLimit {
		t.Fatalf("body of %d bytes is not over the limit", len(body))
	}
	before := relTodoCount(t, e.acc.ID)
	expect(t, a.do(req{Method: "POST", Path: valBatchPath, Token: e.acc.Token, Body: body}), http.StatusRequestEntityTooLarge)
	if after := relTodoCount(t, e.acc.ID); after != before {
		t.Errorf("%d todos stored by a refused batch", after-before)
	}
}

// TestAttackHugeQueryStrings: 100 KB query strings are 400.
func TestAttackHugeQueryStrings(t *testing.T) {
	_, e := relSetup(t)
	big := strings.Repeat("x", 100<<10)
	for _, tc := range []struct {
		name, raw string
		field     string
	}{
		{"q", "q=" + big, "q"},
		{"unknown name", big + "=1", big},
		{"unknown value", "foo=" + big, "foo"},
		{"cursor", "cursor=" + big, "cursor"},
		{"limit", "limit=" + strings.Repeat("9", 100<<10), "limit"},
		{"25,000 parameters", strings.Repeat("a=1&", 25000), "query"},
		{"escaped bytes", "q=" + strings.Repeat("%41", 100<<10/3), "q"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := sharedAPI(t)
			start := time.Now()
			r := a.do(req{Method: "GET", Path: valTodosPath + "?" + tc.raw, Token: e.acc.Token})
			p := checkProblem(t, expect(t, r, http.StatusBadRequest))
			if !slices.Contains(p.fields(), tc.field) {
				t.Errorf("errors name %.80q, want %.80q", p.fields(), tc.field)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("answering took %v", d)
			}
		})
	}
}

// TestAttackHugeAuthorizationHeader: 1 MiB Authorization header is 401.
func TestAttackHugeAuthorizationHeader(t *testing.T) {
	_, e := relSetup(t)
	seg := strings.Repeat("A", 350<<10)
	for name, value := range map[string]string{
		"opaque":                      "Bearer " + strings.Repeat("a", 1<<20),
		"JWT-shaped":                  "Bearer " + seg + "." + seg + "." + seg,
		"valid token, 1 MiB after it": "Bearer " + e.acc.Token + strings.Repeat("A", 1<<20),
	} {
		t.Run(name, func(t *testing.T) {
			a := sharedAPI(t)
			start := time.Now()
			r := expect(t, a.do(req{Method: "GET", Path: valMePath, Header: map[string]string{"Authorization": value}}), http.StatusUnauthorized)
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refusing took %v", d)
			}
		})
	}
}

// TestAttackTooManyIfMatchTags: 70,000 If-Match tags are 412, not a database error.
func TestAttackTooManyIfMatchTags(t *testing.T) {
	a, e := relSetup(t)
	// 70,000 well-formed tags are about 620 KB, under net/http's
	// 1 MiB header limit; each becomes a bind parameter unless
	// bounded (PostgreSQL allows 65,535 per statement).
	tags := make([]string, 70000)
	for i := range tags {
		tags[i] = fmt.Sprintf(`"%d"`, i+1)
	}
	h := map[string]string{"If-Match": strings.Join(tags, ", ")}
	for _, r := range []req{
		{Method: "PATCH", Path: e.todoPath(), Body: map[string]any{"title": "hijacked"}},
		{Method: "DELETE", Path: e.todoPath()},
	} {
		r.Token, r.Header = e.acc.Token, h
		if got := a.do(r); got.Status != http.StatusPreconditionFailed {
			t.Errorf("%s with 70,000 If-Match tags: status %d, want 412; body: %s", r.Method, got.Status, got.Body)
		}
	}
	relUnchanged(t, a, e)
}

// TestAttackLongIfMatchStillMatches: 10,000 If-Match tags with the current one last still match.
func TestAttackLongIfMatchStillMatches(t *testing.T) {
	a := sharedAPI(t)
	mine := newAccount(t, a)
	td, tag := createTodo(t, a, mine.Token, map[string]any{"title": "many tags"})
	tags := make([]string, 0, 10000)
	for i := range 9999 {
		tags = append(tags, fmt.Sprintf(`"%d"`, i+1))
	}
	tags = append(tags, tag)
	r := expect(t, a.do(req{Method: "PATCH", Path: valTodoPath(td.ID), Token: mine.Token, Body: map[string]any{"priority": 4}, Header: map[string]string{"If-Match": strings.Join(tags, ",")}}), http.StatusOK)
	var got todo
	r.Decode(t, &got)
	if got.Priority != 4 {
		t.Errorf("priority = %d, want 4", got.Priority)
	}
}

// TestAttackIfMatchOutOfRange: If-Match versions outside the time range are 412.
func TestAttackIfMatchOutOfRange(t *testing.T) {
	a, e := relSetup(t)
	// Entity tags are base-36 microsecond counts; a client can send
	// any. Ones PostgreSQL cannot hold as a timestamp match nothing.
	for _, v := range []string{`"-zzzzzzzzzzzz"`, `"-1y2p0ij32e8e8"`, `"1y2p0ij32e8e7"`, `"zzzzzzzzzzzzzzzzzzzz"`, `"-0"`, `""`, `"\u0000"`} {
		t.Run(v, func(t *testing.T) {
			a := sharedAPI(t)
			for _, r := range []req{
				{Method: "PATCH", Path: e.todoPath(), Body: map[string]any{"title": "hijacked"}},
				{Method: "DELETE", Path: e.todoPath()},
			} {
				r.Token, r.Header = e.acc.Token, map[string]string{"If-Match": v}
				if got := a.do(r); got.Status != http.StatusPreconditionFailed {
					t.Errorf("%s with If-Match %s: status %d, want 412; body: %s", r.Method, v, got.Status, got.Body)
				}
			}
		})
	}
	relUnchanged(t, a, e)
}

// TestAttackHugeIfNoneMatch: 100,000 If-None-Match tags.
func TestAttackHugeIfNoneMatch(t *testing.T) {
	a, e := relSetup(t)
	tags := make([]string, 100000)
	for i := range tags {
		tags[i] = fmt.Sprintf(`W/"%d"`, i)
	}
	start := time.Now()
	expect(t, a.do(req{Method: "GET", Path: e.todoPath(), Token: e.acc.Token, Header: map[string]string{"If-None-Match": strings.Join(tags, ", ")}}), http.StatusOK)
	r := a.do(req{Method: "GET", Path: e.todoPath(), Token: e.acc.Token, Header: map[string]string{"If-None-Match": strings.Join(tags, ", ") + ", " + e.tag}})
	if r.Status != http.StatusNotModified {
		t.Errorf("current tag last of 100,001: status %d, want 304", r.Status)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestAttackAbsurdRequestID: absurd X-Request-ID is replaced.
func TestAttackAbsurdRequestID(t *testing.T) {
	a, e := relSetup(t)
	for name, id := range map[string]string{
		"1 MiB":            strings.Repeat("a", 1<<20),
		"header injection": "abc\r\nSet-Cookie: session=stolen",
		"newline only":     "\n",
		"log forging":      `x" level=ERROR msg="forged`,
		"path traversal":   "../../etc/passwd",
		"NUL":              "abc\x00def",
		"128 then space":   strings.Repeat("b", 128) + " ",
	} {
		t.Run(name, func(t *testing.T) {
			a := sharedAPI(t)
			r := a.do(req{Method: "GET", Path: valTodosPath, Token: e.acc.Token, Header: map[string]string{"X-Request-ID": id}})
			expect(t, r, http.StatusOK)
			if got := r.Header.Get("X-Request-ID"); !relGeneratedID.MatchString(got) {
				t.Errorf("X-Request-ID = %.80q, want a generated id", got)
			}
			if r.Header.Get("Set-Cookie") != "" {
				t.Errorf("a header was injected: Set-Cookie %q", r.Header.Get("Set-Cookie"))
			}
		})
	}
	if strings.Contains(a.logs.String(), "forged") || strings.Contains(a.logs.String(), "stolen") {
		t.Error("a refused request id reached the logs")
	}
}

// TestAttackRepeatedJSONKeys: repeated JSON keys: the last one wins, consistently.
func TestAttackRepeatedJSONKeys(t *testing.T) {
	a := sharedAPI(t)
	// The contract is silent; whatever the server does, it must be
	// what it stores and what it answers, and the same rule for
	// every field: refused as a whole, or the last value taken.
	mine := newAccount(t, a)
	for _, tc := range []struct {
		name, body string
		title      string
		priority   int
	}{
		{"title", `{"title":"first","title":"second"}`, "second", 0},
		{"priority out of range first", `{"title":"p","priority":9,"priority":1}`, "p", 1},
		{"priority out of range last", `{"title":"p","priority":1,"priority":9}`, "", -1},
		{"null then value", `{"title":null,"title":"after null"}`, "after null", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := sharedAPI(t)
			before := relTodoCount(t, mine.ID)
			r := a.do(req{Method: "POST", Path: valTodosPath, Token: mine.Token, Body: tc.body})
			relNoServerError(t, r)
			after := relTodoCount(t, mine.ID)
			switch {
			case r.Status == http.StatusCreated && tc.priority >= 0:
				var got todo
				r.Decode(t, &got)
				stored, _ := valGetTodo(t, a, mine.Token, got.ID)
				if got.Title != tc.title || got.Priority != tc.priority || !valSameTodo(stored, got) {
					t.Errorf("answered %+v, stored %+v; want title %q priority %d (the last value)", got, stored, tc.title, tc.priority)
				}
			case r.Status == http.StatusCreated:
				t.Errorf("accepted %s although its last priority is invalid: %s", tc.body, r.Body)
			case r.Status == http.StatusBadRequest || r.Status == http.StatusUnprocessableEntity:
				if after != before {
					t.Errorf("refused but %d todo(s) stored", after-before)
				}
			default:
				t.Errorf("status %d", r.Status)
			}
		})
	}
	t.Run("batch items twice", func(t *testing.T) {
		a := sharedAPI(t)
		before := relTodoCount(t, mine.ID)
		r := a.do(req{Method: "POST", Path: valBatchPath, Token: mine.Token, Body: `{"items":[{"title":"a"}],"items":[{"title":"b"},{"title":"c"}]}`})
		relNoServerError(t, r)
		if r.Status == http.StatusCreated {
			var b struct{ Items []todo }
			r.Decode(t, &b)
			if after := relTodoCount(t, mine.ID); len(b.Items) != 2 || after != before+2 {
				t.Errorf("answered %d items, stored %d; want the last items (2) both times", len(b.Items), after-before)
			}
		}
	})
	t.Run("register username twice", func(t *testing.T) {
		a := sharedAPI(t)
		first, last := valName("dupa"), valName("dupb")
		r := a.do(req{Method: "POST", Path: valRegister, Body: fmt.Sprintf(`{"email":%q,"username":%q,"username":%q,"password":%q}`, valEmail(40), first, last, valPassword)})
		relNoServerError(t, r)
		if r.Status == http.StatusCreated {
			var u valUser
			r.Decode(t, &u)
			if u.Username != last {
				t.Errorf("username = %q, want the last one %q", u.Username, last)
			}
			login(t, a, last, valPassword)
		}
	})
}

// TestAttackEscapedKeyNames: escaped key names are the fields they spell.
func TestAttackEscapedKeyNames(t *testing.T) {
	a, e := relSetup(t)
	// "user\u005fid" is "user_id" once decoded: refused as read-only,
	// never applied, however it is spelled on the wire.
	for body, field := range map[string]string{
		`{"title":"x","user\u005fid":1}`:                         "user_id",
		`{"title":"x","\u0069\u0064":424242}`:                    "id",
		`{"title":"x","created\u005Fat":"2000-01-01T00:00:00Z"}`: "created_at",
	} {
		r := a.do(req{Method: "PATCH", Path: e.todoPath(), Token: e.acc.Token, Body: body})
		valWantFields(t, r, http.StatusUnprocessableEntity, field)
	}
	relUnchanged(t, a, e)
}

// TestAttackUnusualJSONNumbers: priority as unusual JSON numbers.
func TestAttackUnusualJSONNumbers(t *testing.T) {
	a, e := relSetup(t)
	// A number is accepted only as the integer it denotes (0–5),
	// otherwise 422 naming priority; never a 5xx, never a wrapped or
	// rounded value.
	mine := newAccount(t, a)
	for _, tc := range []struct {
		raw  string
		want int // the integer the literal denotes; -1 if none in 0–5
	}{
		{"1e400", -1}, {"-1e400", -1}, {"1e-400", -1}, {"-0", 0}, {"-0.0", 0}, {"0.0", 0}, {"5.0", 5},
		{"5e0", 5}, {"0.5e1", 5}, {"5.000000000000000001", -1}, {"4.9999999999999999999", -1},
		{"65541", -1}, {"-65531", -1}, {"4294967301", -1}, {"18446744073709551621", -1}, {"1E0", 1},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			a := sharedAPI(t)
			before := relTodoCount(t, mine.ID)
			r := a.do(req{Method: "POST", Path: valTodosPath, Token: mine.Token, Body: `{"title":"n","priority":` + tc.raw + `}`})
			relNoServerError(t, r)
			switch r.Status {
			case http.StatusCreated:
				var got todo
				r.Decode(t, &got)
				if tc.want < 0 || got.Priority != tc.want {
					t.Errorf("priority %s accepted as %d; want 422, or exactly the integer it denotes", tc.raw, got.Priority)
				}
			case http.StatusUnprocessableEntity:
				valWantFields(t, r, http.StatusUnprocessableEntity, "priority")
				if after := relTodoCount(t, mine.ID); after != before {
					t.Errorf("refused but stored")
				}
			default:
				t.Errorf("status %d, want 201 or 422: %s", r.Status, r.Body)
			}
			pr := a.do(req{Method: "PATCH", Path: e.todoPath(), Token: e.acc.Token, Body: `{"priority":` + tc.raw + `}`, Header: map[string]string{"If-Match": `"0"`}})
			relNoServerError(t, pr)
		})
	}
	relUnchanged(t, a, e)
}

// TestAttackDeactivatedUsersToken: a deactivated user's token opens no route.
func TestAttackDeactivatedUsersToken(t *testing.T) {
	a := sharedAPI(t)
	gone := newAccount(t, a)
	td, tag := createTodo(t, a, gone.Token, map[string]any{"title": "frozen"})
	expect(t, a.do(req{Method: "DELETE", Path: valMePath, Token: gone.Token}), http.StatusNoContent)
	path := valTodoPath(td.ID)
	for _, r := range []req{
		{Method: "GET", Path: valMePath},
		{Method: "PATCH", Path: valMePath, Body: map[string]any{"username": valName("back")}},
		{Method: "DELETE", Path: valMePath},
		{Method: "GET", Path: valTodosPath},
		{Method: "POST", Path: valTodosPath, Body: map[string]any{"title": "after death"}},
		{Method: "POST", Path: valBatchPath, Body: map[string]any{"items": []any{map[string]any{"title": "after death"}}}},
		{Method: "GET", Path: path},
		{Method: "PATCH", Path: path, Body: map[string]any{"title": "after death"}, Header: map[string]string{"If-Match": tag}},
		{Method: "DELETE", Path: path, Header: map[string]string{"If-Match": tag}},
	} {
		r.Token = gone.Token
		resp := expect(t, a.do(r), http.StatusUnauthorized)
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s %s: WWW-Authenticate = %q", r.Method, r.Path, resp.Header.Get("WWW-Authenticate"))
		}
	}
	var n int64
	var title string
	var active bool
	db.Raw("SELECT count(*) FROM todos WHERE user_id = ?", gone.ID).Scan(&n)
	db.Raw("SELECT title FROM todos WHERE id = ?", td.ID).Scan(&title)
	db.Raw("SELECT is_active FROM users WHERE id = ?", gone.ID).Scan(&active)
	if n != 1 || title != "frozen" || active {
		t.Errorf("after requests with a deactivated user's token: %d todos, title %q, is_active %v; want 1, frozen, false", n, title, active)
	}
	// A fresh login is refused too, so no new token can be had.
	expect(t, a.do(req{Method: "POST", Path: valLogin, Body: map[string]any{"username": gone.Username, "password": gone.Password}}), http.StatusUnauthorized)
}

// TestAttackRevokedBehindTheServicesBack: a token whose account was
// deactivated, deleted, or moved to a new credential version by someone
// else (another instance behind the balancer, or an operator) is 401 on the
// very next request on every route, even with AUTH_CACHE_TTL set: no
// instance serves from a copy that could be stale. A valid token still gets
// 404 for a todo that is not there and 200 for an empty list.
func TestAttackRevokedBehindTheServicesBack(t *testing.T) {
	a := newAPI(t, map[string]string{"AUTH_CACHE_TTL": "1h"})
	revocations := []struct{ name, sql string }{
		{"deactivated", "UPDATE users SET is_active = false WHERE id = ?"},
		{"new credential version", "UPDATE users SET token_version = token_version + 1 WHERE id = ?"},
		{"deleted", "DELETE FROM users WHERE id = ?"},
	}
	for _, rv := range revocations {
		t.Run(rv.name, func(t *testing.T) {
			acc := newAccount(t, a)
			var todo struct{ ID int64 }
			expect(t, a.do(req{Method: "POST", Path: valTodosPath, Token: acc.Token, Body: map[string]any{"title": "kept"}}), http.StatusCreated).Decode(t, &todo)
			item := fmt.Sprintf("%s/%d", valTodosPath, todo.ID)
			keyed := map[string]string{"Idempotency-Key": "revoked-" + strings.ReplaceAll(rv.name, " ", "-")}
			expect(t, a.do(req{Method: "POST", Path: valTodosPath, Token: acc.Token, Body: map[string]any{"title": "keyed"}, Header: keyed}), http.StatusCreated)
			// Every route served once, so whatever can be remembered is.
			expect(t, a.do(req{Method: "GET", Path: valMePath, Token: acc.Token}), http.StatusOK)
			expect(t, a.do(req{Method: "GET", Path: valTodosPath, Token: acc.Token}), http.StatusOK)
			expect(t, a.do(req{Method: "GET", Path: item, Token: acc.Token}), http.StatusOK)
			expect(t, a.do(req{Method: "GET", Path: valTodosPath + "/999999999", Token: acc.Token}), http.StatusNotFound)
			expect(t, a.do(req{Method: "GET", Path: valTodosPath + "?q=nothing-matches-this", Token: acc.Token}), http.StatusOK)

			if err := db.Exec(rv.sql, acc.ID).Error; err != nil {
				t.Fatal(err)
			}
			for _, r := range []req{
				{Method: "GET", Path: valMePath},
				{Method: "GET", Path: valTodosPath},
				{Method: "GET", Path: valTodosPath + "?q=kept"},
				{Method: "GET", Path: item},
				{Method: "GET", Path: valTodosPath + "/999999999"},
				{Method: "PATCH", Path: item, Body: map[string]any{"title": "changed"}},
				{Method: "DELETE", Path: item},
				{Method: "POST", Path: valTodosPath, Body: map[string]any{"title": "after"}},
				{Method: "POST", Path: valTodosPath + "/batch", Body: map[string]any{"items": []map[string]any{{"title": "after"}}}},
				// The stored answer of a key is not replayed to a revoked token.
				{Method: "POST", Path: valTodosPath, Body: map[string]any{"title": "keyed"}, Header: keyed},
			} {
				r.Token = acc.Token
				checkProblem(t, expect(t, a.do(r), http.StatusUnauthorized))
			}
			var n int64
			db.Raw("SELECT count(*) FROM todos WHERE user_id = ?", acc.ID).Scan(&n)
			var title string
			db.Raw("SELECT coalesce(max(title), '') FROM todos WHERE id = ?", todo.ID).Scan(&title)
			want := int64(2)
			if rv.name == "deleted" {
				want, title = 0, "kept" // the cascade took them
			}
			if n != want || title != "kept" {
				t.Errorf("after the revoked token's requests: %d todos, title %q; want %d and unchanged", n, title, want)
			}
		})
	}
	// A new user never inherits a deleted user's id (and so its tokens).
	fresh := newAccount(t, a)
	var maxGone int64
	db.Raw("SELECT coalesce(max(id), 0) FROM users WHERE id < ?", fresh.ID).Scan(&maxGone)
	if fresh.ID <= maxGone {
		t.Errorf("a new user got id %d, not above the ids before it (%d)", fresh.ID, maxGone)
	}
}

// TestAttackMethodOverride: method override headers are ignored.
func TestAttackMethodOverride(t *testing.T) {
	a, e := relSetup(t)
	headers := []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"}
	for _, h := range headers {
		t.Run(h, func(t *testing.T) {
			a := sharedAPI(t)
			// GET stays a read.
			r := expect(t, a.do(req{Method: "GET", Path: e.todoPath(), Token: e.acc.Token, Header: map[string]string{h: "DELETE"}}), http.StatusOK)
			if r.Header.Get("ETag") != e.tag {
				t.Errorf("ETag = %q, want %q", r.Header.Get("ETag"), e.tag)
			}
			// POST to an item is no route, whatever it claims to be.
			expect(t, a.do(req{Method: "POST", Path: e.todoPath(), Token: e.acc.Token, Body: map[string]any{"title": "hijacked"}, Header: map[string]string{h: "PATCH"}}), http.StatusMethodNotAllowed)
			expect(t, a.do(req{Method: "POST", Path: e.todoPath(), Token: e.acc.Token, Header: map[string]string{h: "DELETE"}}), http.StatusMethodNotAllowed)
			// POST to the collection creates, and deletes nothing.
			before := relTodoCount(t, e.acc.ID)
			created, _ := createTodo(t, a, e.acc.Token, map[string]any{"title": "override " + h})
			if after := relTodoCount(t, e.acc.ID); after != before+1 {
				t.Errorf("todos %d → %d, want one more", before, after)
			}
			expect(t, a.do(req{Method: "DELETE", Path: valTodoPath(created.ID), Token: e.acc.Token}), http.StatusNoContent)
		})
	}
	t.Run("_method query parameter", func(t *testing.T) {
		a := sharedAPI(t)
		expect(t, a.do(req{Method: "GET", Path: e.todoPath() + "?_method=DELETE", Token: e.acc.Token}), http.StatusOK)
		expect(t, a.do(req{Method: "GET", Path: valTodosPath + "?_method=DELETE", Token: e.acc.Token}), http.StatusBadRequest)
	})
	relUnchanged(t, a, e)
}
