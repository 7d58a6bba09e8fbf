package controllers_test

// Fuzz targets for everything a client controls in a request body or the
// list query. Each runs its seed corpus as a normal test; with
// `go test -run=^$ -fuzz=FuzzCreateTodoBody ./controllers/` it explores.
//
// Invariants, for every input: no panic (a handler panic would surface as a
// 500), never a 5xx, every 4xx is application/problem+json whose "status"
// equals the HTTP status (checkProblem), every exchange matches the OpenAPI
// document (the harness's checkSpec), and nothing is stored unless the
// answer says it was (counted in the database). Each target reuses one
// router, account and todo per process, so one iteration costs a request
// and a count query or two.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/todo-api/todo-api/controllers"
	"github.com/todo-api/todo-api/services"
)

// relFuzz is the per-process state of one fuzz target.
type relFuzz struct {
	a    *api
	acc  account
	todo todo
}

// relFuzzSetup builds a private router (so that pointing it at each
// iteration's *testing.T never races with other tests) and an account with
// one todo.
func relFuzzSetup(f *testing.F) *relFuzz {
	f.Helper()
	a := newAPI(f, nil)
	acc := newAccount(f, a)
	td, _ := createTodo(f, a, acc.Token, map[string]any{"title": "fuzz target", "description": "d", "priority": 2})
	return &relFuzz{a: a, acc: acc, todo: td}
}

// at points the router's failure reporting at this iteration.
func (s *relFuzz) at(t *testing.T) *api {
	s.a.t = t
	return s.a
}

// relAnswer checks the invariants common to every fuzzed exchange: no 5xx,
// a status from allowed, and a complete problem document for every error.
func relAnswer(t *testing.T, what string, r response, allowed ...int) {
	t.Helper()
	if r.Status >= 500 {
		t.Fatalf("%s answered %d; body: %.500s", what, r.Status, r.Body)
	}
	if !slices.Contains(allowed, r.Status) {
		t.Fatalf("%s answered %d, want one of %v; body: %.500s", what, r.Status, allowed, r.Body)
	}
	if r.Status >= 400 {
		checkProblem(t, r)
	}
}

// relTodoCount is how many todos the user has, straight from the database.
func relTodoCount(t *testing.T, userID int64) int64 {
	t.Helper()
	var n int64
	if err := db.Raw("SELECT count(*) FROM todos WHERE user_id = ?", userID).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// relCheckTodo checks a todo the server answered with against the rules it
// enforces on input.
func relCheckTodo(t *testing.T, td todo) {
	t.Helper()
	if td.ID <= 0 {
		t.Errorf("todo id = %d", td.ID)
	}
	if n := utf8.RuneCountInString(td.Title); n < 1 || n > services.MaxTitleLength || strings.TrimSpace(td.Title) != td.Title {
		t.Errorf("stored title %q breaks the rules (1–255 characters, trimmed)", td.Title)
	}
	if td.Priority < services.MinPriority || td.Priority > services.MaxPriority {
		t.Errorf("stored priority %d outside 0–5", td.Priority)
	}
	if td.Description != nil && utf8.RuneCountInString(*td.Description) > services.MaxDescriptionLength {
		t.Errorf("stored description of %d characters", utf8.RuneCountInString(*td.Description))
	}
}

// relTodoSeeds are bodies for the todo routes: valid ones, every boundary,
// and the malformed shapes the validation tests found interesting.
func relTodoSeeds() [][]byte {
	s := []string{
		`{"title":"a"}`,
		`{"title":"Buy milk","description":"2 litres","completed":true,"priority":3,"due_date":"2026-12-01T17:00:00Z"}`,
		`{"title":"  padded  ","description":null,"due_date":null}`,
		`{"title":"` + strings.Repeat("a", 255) + `"}`,
		`{"title":"` + strings.Repeat("a", 256) + `"}`,
		`{"title":"` + strings.Repeat("é", 255) + `"}`,
		`{"title":"x","description":"` + strings.Repeat("d", 10001) + `"}`,
		`{"title":"x","priority":5}`,
		`{"title":"x","priority":6}`,
		`{"title":"x","priority":-1}`,
		`{"title":"x","priority":5.0}`,
		`{"title":"x","priority":-0}`,
		`{"title":"x","priority":1e400}`,
		`{"title":"x","priority":1e2}`,
		`{"title":"x","priority":99999999999999999999999}`,
		`{"title":"x","priority":"3"}`,
		`{"title":"x","priority":null}`,
		`{"title":"x","completed":"true"}`,
		`{"title":"x","due_date":"2026-02-30T00:00:00Z"}`,
		`{"title":"x","due_date":"9999-12-31T23:59:59.999999999-23:59"}`,
		`{"title":"x","due_date":"0001-01-01T00:00:00+23:59"}`,
		`{"title":"x","due_date":"0000-01-01T00:00:00Z"}`,
		`{"title":"x","due_date":1798736400}`,
		`{"title":"a","title":"b"}`,
		`{"title":"x","id":1,"user_id":2,"created_at":"2020-01-01T00:00:00Z"}`,
		`{"title":"x","colour":"red"}`,
		`{"title":"\u0000"}`,
		`{"title":"\ud800"}`,
		"{\"title\":\"\xff\xfe\"}",
		"{\"title\":\"a\x00b\"}",
		`{"title":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`,
		`{"title":"x"} trailing`,
		`{"title":"x"}{}`,
		`[{"title":"x"}]`,
		`null`,
		`""`,
		``,
		`{`,
		`{}`,
		`{"":""}`,
		`{"title":{"$gt":""}}`,
		`{"title":"'); DROP TABLE todos; --"}`,
		`{"__proto__":{"admin":true},"title":"x"}`,
	}
	out := make([][]byte, len(s))
	for i, v := range s {
		out[i] = []byte(v)
	}
	return out
}

func FuzzCreateTodoBody(f *testing.F) {
	st := relFuzzSetup(f)
	for _, b := range relTodoSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a := st.at(t)
		before := relTodoCount(t, st.acc.ID)
		r := a.do(req{Method: "POST", Path: "/api/v1/todos", Token: st.acc.Token, Body: body})
		relAnswer(t, "POST /todos", r, http.StatusCreated, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity)
		after := relTodoCount(t, st.acc.ID)
		if r.Status != http.StatusCreated {
			if after != before {
				t.Fatalf("refused with %d but %d todo(s) stored", r.Status, after-before)
			}
			return
		}
		if after != before+1 {
			t.Fatalf("201 but the user's todos went from %d to %d", before, after)
		}
		var td todo
		r.Decode(t, &td)
		relCheckTodo(t, td)
		if r.Header.Get("Location") != fmt.Sprintf("/api/v1/todos/%d", td.ID) || r.Header.Get("ETag") == "" {
			t.Errorf("201 without Location/ETag: %v", r.Header)
		}
	})
}

func FuzzPatchTodoBody(f *testing.F) {
	st := relFuzzSetup(f)
	for _, b := range relTodoSeeds() {
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"description":null,"due_date":null}`))
	f.Add([]byte(`{"title":null}`))
	f.Add([]byte(`{"completed":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a := st.at(t)
		var before time.Time
		if err := db.Raw("SELECT updated_at FROM todos WHERE id = ?", st.todo.ID).Scan(&before).Error; err != nil {
			t.Fatal(err)
		}
		r := a.do(req{Method: "PATCH", Path: fmt.Sprintf("/api/v1/todos/%d", st.todo.ID), Token: st.acc.Token, Body: body})
		relAnswer(t, "PATCH /todos/{id}", r, http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity)
		var after time.Time
		if err := db.Raw("SELECT updated_at FROM todos WHERE id = ?", st.todo.ID).Scan(&after).Error; err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusOK {
			if !after.Equal(before) {
				t.Fatalf("refused with %d but the todo was written (updated_at %v → %v)", r.Status, before, after)
			}
			return
		}
		var td todo
		r.Decode(t, &td)
		relCheckTodo(t, td)
		if td.ID != st.todo.ID || !td.UpdatedAt.Equal(after) || !after.After(before) {
			t.Errorf("200 answered todo %d updated_at %v; stored %v, before %v", td.ID, td.UpdatedAt, after, before)
		}
	})
}

func FuzzBatchBody(f *testing.F) {
	st := relFuzzSetup(f)
	f.Add([]byte(`{"items":[{"title":"a"}]}`))
	f.Add([]byte(`{"items":[{"title":"a"},{"title":"b","priority":5,"completed":true,"description":null,"due_date":"2030-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"items":[]}`))
	f.Add([]byte(`{"items":null}`))
	f.Add([]byte(`{"items":{}}`))
	f.Add([]byte(`{"items":"a"}`))
	f.Add([]byte(`{"items":[null]}`))
	f.Add([]byte(`{"items":[1,"x",true,[]]}`))
	f.Add([]byte(`{"items":[{"title":"ok"},{"title":""}]}`))
	f.Add([]byte(`{"items":[{"title":"ok"},{"title":"x","id":7}]}`))
	f.Add([]byte(`{"items":[{"title":"ok"}],"items":[{"title":"a"},{"title":"b"}]}`))
	f.Add([]byte(`{"items":[{"title":"a","title":"` + strings.Repeat("b", 300) + `"}]}`))
	f.Add([]byte(`{"items":[{"title":"ok"}],"extra":1}`))
	f.Add([]byte(`{"items":[{"title":"a\u0000"}]}`))
	f.Add([]byte(`{"items":[{"title":"x","priority":1e400}]}`))
	f.Add([]byte(`{"items":[` + strings.Repeat(`{"title":"x"},`, 1000) + `{"title":"x"}]}`))
	f.Add([]byte(`{"items":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`))
	f.Add([]byte(`{"items":[{"title":"x"}]`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a := st.at(t)
		before := relTodoCount(t, st.acc.ID)
		r := a.do(req{Method: "POST", Path: "/api/v1/todos/batch", Token: st.acc.Token, Body: body})
		relAnswer(t, "POST /todos/batch", r, http.StatusCreated, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity)
		after := relTodoCount(t, st.acc.ID)
		if r.Status != http.StatusCreated {
			if after != before {
				t.Fatalf("refused with %d but %d todo(s) stored: a batch is all or nothing", r.Status, after-before)
			}
			return
		}
		var b struct{ Items []todo }
		r.Decode(t, &b)
		if n := len(b.Items); n < 1 || n > services.MaxBatchItems || after != before+int64(n) {
			t.Fatalf("201 with %d items, but the user's todos went from %d to %d", n, before, after)
		}
		for _, td := range b.Items {
			relCheckTodo(t, td)
		}
	})
}

// relRequestTarget makes raw sendable as the query of a request line: the
// bytes no HTTP/1.1 client can put there (controls, space, '#') are
// percent-encoded; everything else, malformed escapes and non-UTF-8 bytes
// included, arrives as sent.
func relRequestTarget(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c <= ' ' || c == 0x7f || c == '#' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// relParse is what GET /todos checks before it looks at a cursor's
// signature: the parser's syntax, then the service's rules that need no key.
func relParse(raw string) (services.ListQuery, []services.FieldError) {
	q, problems := controllers.ParseListQuery(raw)
	return q, append(problems, q.Check()...)
}

// relCheckParsed checks what relParse accepted against the ranges the
// contract promises.
func relCheckParsed(t *testing.T, raw string, q services.ListQuery) {
	t.Helper()
	bad := func(what string, v any) { t.Errorf("the query %q was accepted with %s = %v", raw, what, v) }
	if q.Limit != nil && (*q.Limit < 1 || *q.Limit > services.MaxLimit) {
		bad("limit", *q.Limit)
	}
	if q.Offset < 0 {
		bad("offset", q.Offset)
	}
	if q.MinPriority != nil && (*q.MinPriority < services.MinPriority || *q.MinPriority > services.MaxPriority) {
		bad("min_priority", *q.MinPriority)
	}
	if q.Sort != nil && !slices.Contains(services.SortKeys, *q.Sort) {
		bad("sort", *q.Sort)
	}
	if !utf8.ValidString(q.Q) || strings.IndexByte(q.Q, 0) >= 0 || utf8.RuneCountInString(q.Q) > services.MaxQueryLength {
		bad("q", strconv.Quote(q.Q))
	}
}

// relAsJSON is s as a client reads it back from a JSON document: invalid
// UTF-8 bytes become U+FFFD.
func relAsJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	json.Unmarshal(b, &out)
	return out
}

func FuzzListQuery(f *testing.F) {
	st := relFuzzSetup(f)
	for i := range 3 {
		createTodo(f, st.a, st.acc.Token, map[string]any{"title": fmt.Sprintf("list %d", i), "priority": i, "due_date": "2030-01-01T00:00:00Z"})
	}
	var page todoPage
	expect(f, st.a.do(req{Method: "GET", Path: "/api/v1/todos?limit=1&sort=title", Token: st.acc.Token}), http.StatusOK).Decode(f, &page)
	if page.NextCursor == nil {
		f.Fatal("no next_cursor on a first page of 1 of 4")
	}
	cursor := url.QueryEscape(*page.NextCursor)
	for _, s := range []string{
		"", "limit=1", "limit=100", "limit=101", "limit=0", "limit=+5", "limit=05", "limit=1.5",
		"offset=0", "offset=-1", "offset=9223372036854775807", "offset=9223372036854775808", "offset=99999999999999999999999",
		"completed=true", "completed=TRUE", "min_priority=5", "min_priority=+3", "min_priority=6",
		"q=", "q=" + strings.Repeat("x", 200), "q=" + strings.Repeat("x", 201), "q=%25_%5C", "q=%00", "q=%ff", "q=%E2%82", "q=a+b",
		"due_before=2026-01-01T00:00:00Z", "due_after=0000-01-01T00:00:00%2B23:59", "due_before=9999-12-31T23:59:59.999999999-23:59",
		"due_after=2026-02-30T00:00:00Z", "due_before=yesterday",
		"sort=title", "sort=-due_date", "sort=nope", "sort=",
		"sort=title&limit=1&cursor=" + cursor, "sort=-title&limit=1&cursor=" + cursor, "sort=title&offset=1&cursor=" + cursor,
		"sort=title&cursor=" + cursor + "x", "cursor=", "cursor=a.b", "cursor=%%%.%%%",
		"foo=1", "Sort=title", "limit=5&limit=6", "sort=title&sort=title",
		"%", "%zz", "a=%", ";", "\xcb", "%cb%cb=1", "limit=1;offset=2", "&&&", "=", "==", "?", "limit", "q=#frag", "q=a b", "q=\x00\r\n",
		strings.Repeat("a=1&", 10001),
		"sort=-title&limit=2&offset=0&completed=true&min_priority=1&q=TW&due_before=2030-01-01T00:00:00Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		// The parser on its own, with exactly what was generated.
		q, problems := relParse(raw)
		if len(problems) == 0 {
			relCheckParsed(t, raw, q)
		}
		for _, p := range problems {
			// Field may be "" (the name of a parameter sent as "=x").
			if p.Message == "" {
				t.Errorf("the query %q gave a problem without a message: %+v", raw, p)
			}
		}

		// Through the router, with what a client can send.
		a := st.at(t)
		sent := relRequestTarget(raw)
		r := a.do(req{Method: "GET", Path: "/api/v1/todos?" + sent, Token: st.acc.Token})
		relAnswer(t, "GET /todos?"+sent, r, http.StatusOK, http.StatusBadRequest)
		q, problems = relParse(sent)
		switch {
		case len(problems) > 0:
			if r.Status != http.StatusBadRequest {
				t.Fatalf("the parser and rules found %v but the route answered %d", problems, r.Status)
			}
			fields := checkProblem(t, r).fields()
			for _, p := range problems {
				if !slices.Contains(fields, relAsJSON(p.Field)) {
					t.Errorf("the 400 lists %q, not the parser's %q", fields, p.Field)
				}
			}
		case q.Cursor == nil && r.Status != http.StatusOK:
			t.Fatalf("a query the parser accepts without a cursor answered %d: %.300s", r.Status, r.Body)
		}
		if r.Status == http.StatusOK {
			var p todoPage
			r.Decode(t, &p)
			wantLimit := services.DefaultLimit
			if q.Limit != nil {
				wantLimit = *q.Limit
			}
			if p.Limit != wantLimit || len(p.Items) > p.Limit || p.Total < int64(len(p.Items)) {
				t.Errorf("page limit %d (want %d), %d items, total %d", p.Limit, wantLimit, len(p.Items), p.Total)
			}
		}
	})
}

func FuzzRegisterBody(f *testing.F) {
	st := relFuzzSetup(f)
	for _, s := range []string{
		`{"email":"fuzz-seed@example.com","username":"fuzz_seed","password":"correct horse"}`,
		`{"email":"` + st.acc.Email + `","username":"` + st.acc.Username + `","password":"correct horse"}`,
		`{"email":"FUZZ-UP@EXAMPLE.COM","username":"FuzzUp","password":"12345678"}`,
		`{"email":" spaced@example.com ","username":"spaced","password":"12345678"}`,
		`{"email":"a@b","username":"ab","password":"1234567"}`,
		`{"email":"x@example.com","username":"` + strings.Repeat("u", 51) + `","password":"` + strings.Repeat("p", 73) + `"}`,
		`{"email":"Name <n@example.com>","username":"n n","password":"12345678"}`,
		`{"email":"n@example.com","username":"n\u0000n","password":"1234\u00005678"}`,
		`{"email":"n@example.com","username":"user","password":"12345678","is_active":false,"id":1}`,
		`{"email":"n@example.com","username":"user","password":"12345678","hashed_password":"$2a$04$x"}`,
		`{"email":null,"username":null,"password":null}`,
		`{"email":1,"username":true,"password":[]}`,
		`{"username":"a","username":"b"}`,
		"{\"email\":\"\xff@example.com\"}",
		`{}`, `[]`, `null`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a := st.at(t)
		r := a.do(req{Method: "POST", Path: "/api/v1/auth/register", Body: body})
		relAnswer(t, "POST /auth/register", r, http.StatusCreated, http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity)
		if r.Status != http.StatusCreated {
			return
		}
		if strings.Contains(string(r.Body), "hashed_password") || strings.Contains(string(r.Body), "$2a$") {
			t.Fatalf("the password hash leaked: %s", r.Body)
		}
		var u valUser
		r.Decode(t, &u)
		if u.ID <= 0 || !u.IsActive || u.Email != strings.ToLower(u.Email) || len(u.Username) < services.MinUsernameLength || len(u.Username) > services.MaxUsernameLength {
			t.Errorf("registered user breaks the rules: %s", r.Body)
		}
	})
}

// relLoginOracle says what POST /auth/login must answer for a form body,
// from the contract alone: 0 when it cannot tell.
func relLoginOracle(body []byte, acc account) int {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return http.StatusBadRequest
	}
	if gt := form.Get("grant_type"); gt != "" && gt != "password" {
		return http.StatusUnprocessableEntity
	}
	user, pass := form.Get("username"), form.Get("password")
	for _, v := range []string{user, pass} {
		if v == "" || strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) {
			return http.StatusUnprocessableEntity
		}
	}
	id := strings.TrimSpace(user)
	for i := 0; i < len(id); i++ {
		if id[i] >= utf8.RuneSelf {
			return 0 // Unicode case folding: PostgreSQL's lower() and Go's may differ
		}
	}
	if (strings.EqualFold(id, acc.Username) || strings.ToLower(id) == acc.Email) && pass == acc.Password {
		return http.StatusOK
	}
	return http.StatusUnauthorized
}

func FuzzLoginForm(f *testing.F) {
	st := relFuzzSetup(f)
	enc := func(v url.Values) []byte { return []byte(v.Encode()) }
	f.Add(enc(url.Values{"username": {st.acc.Username}, "password": {st.acc.Password}}))
	f.Add(enc(url.Values{"username": {strings.ToUpper(st.acc.Username)}, "password": {st.acc.Password}, "grant_type": {"password"}}))
	f.Add(enc(url.Values{"username": {"  " + st.acc.Email + " "}, "password": {st.acc.Password}}))
	f.Add(enc(url.Values{"username": {st.acc.Username}, "password": {st.acc.Password}, "grant_type": {"client_credentials"}}))
	f.Add(enc(url.Values{"username": {st.acc.Username}, "password": {"wrong password"}}))
	f.Add(enc(url.Values{"username": {"nobody"}, "password": {"whatever1"}}))
	f.Add(enc(url.Values{"username": {st.acc.Username, "other"}, "password": {st.acc.Password}}))
	f.Add(enc(url.Values{"username": {"' OR '1'='1"}, "password": {"' OR '1'='1"}}))
	f.Add([]byte("username=nul%00user&password=whatever1"))
	f.Add([]byte("username=%ff&password=%fe"))
	f.Add([]byte("username=a&password=b;c"))
	f.Add([]byte("username=%zz&password=x"))
	f.Add([]byte("username=&password="))
	f.Add([]byte("username"))
	f.Add([]byte("&&&=&="))
	f.Add([]byte(`{"username":"a","password":"b"}`))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, body []byte) {
		a := st.at(t)
		r := a.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: body, Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
		relAnswer(t, "POST /auth/login (form)", r, http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity)
		if want := relLoginOracle(body, st.acc); want != 0 && r.Status != want {
			t.Fatalf("login form %q answered %d, want %d: %.300s", body, r.Status, want, r.Body)
		}
		if r.Status == http.StatusOK {
			var tok struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
			}
			r.Decode(t, &tok)
			if tok.AccessToken == "" || tok.TokenType != "bearer" || r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("200 login answer: %s, Cache-Control %q", r.Body, r.Header.Get("Cache-Control"))
			}
		}
	})
}
