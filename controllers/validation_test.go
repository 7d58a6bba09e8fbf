package controllers_test

// Request validation through the real router. The rules are tested where
// they live, in services: the field rules (limits at and just past each
// boundary, required, null) in services/input_test.go; what a create, a
// patch and a batch store, and SQL-shaped text, in rules_todo_test.go; the
// email and username conflicts and the current password in
// rules_account_test.go. Here one case per kind of rule proves the wiring
// and the shape of the 409 or 422, next to what only the wire shows: JSON
// types, absent versus null, unknown and read-only members, every bad
// field listed at once, batch all-or-nothing, and the body format rules
// (400, 413). The contract is apidocs/openapi.yaml.

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// ---------------------------------------------------------------------------
// helpers

const (
	valBodyLimit  = 1 << 20 // MAX_BODY_BYTES default
	valPassword   = "correct horse battery"
	valRegister   = "/api/v1/auth/register"
	valLogin      = "/api/v1/auth/login"
	valMePath     = "/api/v1/users/me"
	valTodosPath  = "/api/v1/todos"
	valBatchPath  = "/api/v1/todos/batch"
	valEmailTail  = "@example.com"
	valSQLishText = "'); DROP TABLE todos; --"
)

// valName returns a fresh name that is a valid username (and email local
// part), starting with prefix.
func valName(prefix string) string {
	return fmt.Sprintf("%s%d_%d", prefix, userSeq.Add(1), time.Now().UnixNano()%1e6)
}

// valPad pads s with fill up to n characters (runes).
func valPad(s string, n int, fill string) string {
	if k := n - utf8.RuneCountInString(s); k > 0 {
		return s + strings.Repeat(fill, k)
	}
	return s
}

// valEmail returns a fresh valid email exactly n bytes long.
func valEmail(n int) string {
	return valPad(valName("e"), n-len(valEmailTail), "a") + valEmailTail
}

// valWantFields checks that r is a problem with status that lists exactly
// the fields want (in any order).
func valWantFields(t testing.TB, r response, status int, want ...string) {
	t.Helper()
	got := checkProblem(t, expect(t, r, status)).fields()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("errors[].field = %q, want %q; body: %s", got, want, r.Body)
	}
}

// valWantClientError checks that r is a 4xx problem (never a 5xx).
func valWantClientError(t testing.TB, r response, allowed ...int) {
	t.Helper()
	if r.Status < 400 || r.Status >= 500 || (len(allowed) > 0 && !slices.Contains(allowed, r.Status)) {
		t.Fatalf("status = %d, want a client error %v; body: %.300s", r.Status, allowed, r.Body)
	}
	checkProblem(t, r)
}

// valUser mirrors a user in responses.
type valUser struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Username  string    `json:"username"`
	IsActive  bool      `json:"is_active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func valMe(t testing.TB, a *api, token string) valUser {
	t.Helper()
	var u valUser
	expect(t, a.do(req{Method: "GET", Path: valMePath, Token: token}), http.StatusOK).Decode(t, &u)
	return u
}

func valRegisterBody(email, username, password any) map[string]any {
	return map[string]any{"email": email, "username": username, "password": password}
}

// valTotal is the number of todos the user has.
func valTotal(t testing.TB, a *api, token string) int64 {
	t.Helper()
	var p todoPage
	expect(t, a.do(req{Method: "GET", Path: valTodosPath + "?limit=1", Token: token}), http.StatusOK).Decode(t, &p)
	return p.Total
}

// valGetTodo reads a todo back, with its ETag.
func valGetTodo(t testing.TB, a *api, token string, id int64) (todo, string) {
	t.Helper()
	r := expect(t, a.do(req{Method: "GET", Path: valTodoPath(id), Token: token}), http.StatusOK)
	var td todo
	r.Decode(t, &td)
	return td, r.Header.Get("ETag")
}

func valTodoPath(id int64) string { return valTodosPath + "/" + strconv.FormatInt(id, 10) }

// valSameTodo reports whether two todos are equal field by field.
func valSameTodo(a, b todo) bool {
	sameStr := func(x, y *string) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	sameTime := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	return a.ID == b.ID && a.Title == b.Title && sameStr(a.Description, b.Description) &&
		a.Completed == b.Completed && a.Priority == b.Priority && sameTime(a.DueDate, b.DueDate) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func valDesc(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return strconv.Quote(*p)
}

// valNested returns a JSON array nested depth levels deep.
func valNested(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

// valNestedObject returns a JSON object nested depth levels deep.
func valNestedObject(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

// valRawTodo decodes a todo response into a generic map, to look at the
// JSON as written (null vs value, the time zone suffix).
func valRawTodo(t testing.TB, r response) map[string]any {
	t.Helper()
	return r.JSON(t)
}

// What a member of the wrong JSON type is told, by the type of its field.
const (
	valMustString  = "must be a string"
	valMustInteger = "must be an integer"
	valMustBool    = "must be true or false"
	valMustTime    = "must be an RFC 3339 date-time like 2026-12-31T17:00:00Z, or null"
	valMustArray   = "must be an array"
)

// valWantErrors checks that r is a 422 problem that lists exactly the
// fields of want, each with its message.
func valWantErrors(t testing.TB, r response, want map[string]string) {
	t.Helper()
	p := checkProblem(t, expect(t, r, http.StatusUnprocessableEntity))
	got := make(map[string]string, len(p.Errors))
	for _, e := range p.Errors {
		got[e.Field] = e.Message
	}
	if !maps.Equal(got, want) || len(p.Errors) != len(want) {
		t.Errorf("errors = %v, want %v", got, want)
	}
}

// ---------------------------------------------------------------------------
// register

// The email, username and password rules are tabled in services
// (TestRegisterInputValidate), what a registration stores in
// TestRegisterStoresNormalised. Here: that answer and the login through
// the router, one rule, and the JSON types.

func TestValidationRegister(t *testing.T) {
	t.Run("stored as normalised", func(t *testing.T) {
		// The email is stored lower-cased and logs in as typed; the
		// username keeps its case; a 72-byte password of four-byte
		// characters counts every byte.
		a := sharedAPI(t)
		email := "MiXeD." + strings.ToUpper(valName("u")) + "@Example.COM"
		username := "MiXeD_" + strings.ToUpper(valName("c"))
		pw := strings.Repeat("😀", 18)
		var u valUser
		expect(t, a.do(req{Method: "POST", Path: valRegister, Body: valRegisterBody(email, username, pw)}), http.StatusCreated).Decode(t, &u)
		if want := strings.ToLower(email); u.Email != want || u.Username != username {
			t.Errorf("email, username = %q, %q; want %q (lower-cased), %q (as sent)", u.Email, u.Username, want, username)
		}
		token := login(t, a, email, pw)
		if got := valMe(t, a, token); got != u {
			t.Errorf("GET /users/me = %+v, want the register response %+v", got, u)
		}
		login(t, a, username, pw)
		// Change the last character for as many ASCII bytes (the same
		// length, still valid UTF-8) and the login fails.
		_, size := utf8.DecodeLastRuneInString(pw)
		wrong := pw[:len(pw)-size] + strings.Repeat("#", size)
		expect(t, a.do(req{Method: "POST", Path: valLogin, Body: map[string]any{"username": username, "password": wrong}}), http.StatusUnauthorized)
	})
	t.Run("a rule", func(t *testing.T) {
		a := sharedAPI(t)
		body := valRegisterBody(valEmail(40), "ab", valPassword)
		valWantFields(t, a.do(req{Method: "POST", Path: valRegister, Body: body}), 422, "username")
		// Nothing was created: the same email registers.
		body["username"] = valName("ok")
		expect(t, a.do(req{Method: "POST", Path: valRegister, Body: body}), http.StatusCreated)
	})
	t.Run("JSON types", func(t *testing.T) {
		a := sharedAPI(t)
		r := a.do(req{Method: "POST", Path: valRegister, Body: valRegisterBody(42, 12345, 12345678)})
		valWantErrors(t, r, map[string]string{"email": valMustString, "username": valMustString, "password": valMustString})
	})
}

// TestValidationRegisterConflicts: a taken email and username answer one
// 409 naming both. Which are taken (case, spaces, one user or two) is
// tabled in services (TestRegisterConflicts).
func TestValidationRegisterConflicts(t *testing.T) {
	a := sharedAPI(t)
	x := newAccount(t, a)
	y := newAccount(t, a)
	r := a.do(req{Method: "POST", Path: valRegister, Body: valRegisterBody(x.Email, strings.ToUpper(y.Username), valPassword)})
	valWantFields(t, r, http.StatusConflict, "email", "username")
	t.Run("existing accounts untouched", func(t *testing.T) {
		a := sharedAPI(t)
		login(t, a, x.Username, x.Password)
		login(t, a, y.Email, y.Password)
	})
}

// ---------------------------------------------------------------------------
// todo create

func valWantTitle(want string) func(*testing.T, todo, map[string]any) {
	return func(t *testing.T, got todo, _ map[string]any) {
		if got.Title != want {
			t.Errorf("title = %q (%d characters), want %q (%d characters)", got.Title, utf8.RuneCountInString(got.Title), want, utf8.RuneCountInString(want))
		}
	}
}

func valWantDescription(want *string) func(*testing.T, todo, map[string]any) {
	return func(t *testing.T, got todo, raw map[string]any) {
		if v, ok := raw["description"]; !ok || (want == nil && v != nil) {
			t.Errorf("description in JSON = %#v (present %v), want null", v, ok)
		}
		if valDesc(got.Description) != valDesc(want) {
			t.Errorf("description = %.40s, want %.40s", valDesc(got.Description), valDesc(want))
		}
	}
}

func valWantPriority(want int) func(*testing.T, todo, map[string]any) {
	return func(t *testing.T, got todo, _ map[string]any) {
		if got.Priority != want {
			t.Errorf("priority = %d, want %d", got.Priority, want)
		}
	}
}

func valWantCompleted(want bool) func(*testing.T, todo, map[string]any) {
	return func(t *testing.T, got todo, _ map[string]any) {
		if got.Completed != want {
			t.Errorf("completed = %v, want %v", got.Completed, want)
		}
	}
}

// valWantDue checks due_date: "" means null; else an RFC 3339 instant, which
// must come back in UTC ("Z").
func valWantDue(want string) func(*testing.T, todo, map[string]any) {
	return func(t *testing.T, got todo, raw map[string]any) {
		if want == "" {
			if v, ok := raw["due_date"]; !ok || v != nil || got.DueDate != nil {
				t.Errorf("due_date = %#v (present %v), want null", v, ok)
			}
			return
		}
		w, err := time.Parse(time.RFC3339Nano, want)
		if err != nil {
			t.Fatal(err)
		}
		if got.DueDate == nil || !got.DueDate.Equal(w) {
			t.Errorf("due_date = %v, want %v", got.DueDate, w)
		}
		if s, _ := raw["due_date"].(string); !strings.HasSuffix(s, "Z") {
			t.Errorf("due_date = %q, want UTC with a Z suffix", s)
		}
	}
}

func valAll(checks ...func(*testing.T, todo, map[string]any)) func(*testing.T, todo, map[string]any) {
	return func(t *testing.T, got todo, raw map[string]any) {
		for _, c := range checks {
			c(t, got, raw)
		}
	}
}

// TestValidationTodoCreate: what a create stores and answers. The title,
// description, priority, completed and due_date rules are tabled in
// services (TestTodoInputValidate); one of them goes through the router
// here, with the cases only a real request and database show: defaults,
// null versus absent, normalisation, the longest values the rules allow.
func TestValidationTodoCreate(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	title, desc := strings.Repeat("😀", 255), strings.Repeat("😀", 10000)
	cases := []struct {
		name   string
		body   any      // a map, or a raw JSON string
		fields []string // nil: the todo is created; else the 422 fields
		check  func(t *testing.T, got todo, raw map[string]any)
	}{
		{name: "defaults", body: map[string]any{"title": "d"},
			check: valAll(valWantDescription(nil), valWantPriority(0), valWantCompleted(false), valWantDue(""))},
		{name: "description and due_date null", body: `{"title":"n","description":null,"due_date":null}`,
			check: valAll(valWantDescription(nil), valWantDue(""))},
		{name: "all fields, normalised", body: map[string]any{"title": " \tAll  fields\n", "description": "line 1\nline 2", "completed": true, "priority": 5, "due_date": "2026-12-31T19:30:00.123456+02:30"},
			check: valAll(valWantTitle("All  fields"), valWantDescription(ptr("line 1\nline 2")), valWantCompleted(true), valWantPriority(5),
				valWantDue("2026-12-31T17:00:00.123456Z"))},
		{name: "longest title and description, four-byte characters", body: map[string]any{"title": title, "description": desc},
			check: valAll(valWantTitle(title), valWantDescription(&desc))},
		{name: "a rule", body: `{"title":"p","priority":6}`, fields: []string{"priority"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := sharedAPI(t)
			before := valTotal(t, a, acc.Token)
			r := a.do(req{Method: "POST", Path: valTodosPath, Token: acc.Token, Body: tc.body})
			if tc.fields != nil {
				valWantFields(t, r, 422, tc.fields...)
				if after := valTotal(t, a, acc.Token); after != before {
					t.Errorf("total = %d after a refused create, want %d", after, before)
				}
				return
			}
			expect(t, r, http.StatusCreated)
			var got todo
			r.Decode(t, &got)
			if loc, want := r.Header.Get("Location"), valTodoPath(got.ID); loc != want {
				t.Errorf("Location = %q, want %q", loc, want)
			}
			tc.check(t, got, valRawTodo(t, r))
			// What was stored is what was answered.
			gr := expect(t, a.do(req{Method: "GET", Path: valTodoPath(got.ID), Token: acc.Token}), http.StatusOK)
			var stored todo
			gr.Decode(t, &stored)
			if !valSameTodo(stored, got) {
				t.Errorf("GET = %+v, want the create response %+v", stored, got)
			}
			tc.check(t, stored, valRawTodo(t, gr))
		})
	}
}

// TestValidationTodoJSONTypes: a member of the wrong JSON type is named
// with what it must be, whatever its field. The items of one batch carry
// one wrong member each; every item is listed in one answer.
func TestValidationTodoJSONTypes(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	items := []struct {
		field, value, message string
	}{
		{"title", `42`, valMustString},
		{"title", `true`, valMustString},
		{"title", `["a"]`, valMustString},
		{"title", `{"a":1}`, valMustString},
		{"description", `5`, valMustString},
		{"description", `["x"]`, valMustString},
		{"priority", `2.5`, valMustInteger},
		{"priority", `"3"`, valMustInteger},
		{"priority", `true`, valMustInteger},
		{"priority", `99999999999999999999999`, valMustInteger},
		{"completed", `"true"`, valMustBool},
		{"completed", `1`, valMustBool},
		{"completed", `0`, valMustBool},
		{"due_date", `"2026-12-31"`, valMustTime},
		{"due_date", `"2026-12-31T17:00:00"`, valMustTime},
		{"due_date", `"tomorrow"`, valMustTime},
		{"due_date", `"31/12/2026"`, valMustTime},
		{"due_date", `""`, valMustTime},
		{"due_date", `"2026-13-01T00:00:00Z"`, valMustTime},
		{"due_date", `"2026-02-30T00:00:00Z"`, valMustTime},
		{"due_date", `"2026-12-31T25:00:00Z"`, valMustTime},
		{"due_date", `1798736400`, valMustTime},
	}
	var raw []string
	want := map[string]string{}
	for i, it := range items {
		if it.field == "title" {
			raw = append(raw, fmt.Sprintf(`{"title":%s}`, it.value))
		} else {
			raw = append(raw, fmt.Sprintf(`{"title":"t","%s":%s}`, it.field, it.value))
		}
		want[fmt.Sprintf("items[%d].%s", i, it.field)] = it.message
	}
	r := a.do(req{Method: "POST", Path: valBatchPath, Token: acc.Token, Body: `{"items":[` + strings.Join(raw, ",") + `]}`})
	valWantErrors(t, r, want)
	valWantErrors(t, a.do(req{Method: "POST", Path: valBatchPath, Token: acc.Token, Body: `{"items":{"title":"a"}}`}), map[string]string{"items": valMustArray})
	// One create and one patch, for their own wiring.
	valWantErrors(t, a.do(req{Method: "POST", Path: valTodosPath, Token: acc.Token, Body: `{"title":"p","priority":"3"}`}), map[string]string{"priority": valMustInteger})
	td, _ := createTodo(t, a, acc.Token, map[string]any{"title": "typed"})
	valWantErrors(t, a.do(req{Method: "PATCH", Path: valTodoPath(td.ID), Token: acc.Token, Body: `{"completed":"yes","due_date":"next week"}`}),
		map[string]string{"completed": valMustBool, "due_date": valMustTime})
	if n := valTotal(t, a, acc.Token); n != 1 {
		t.Errorf("total = %d, want 1: nothing may be created", n)
	}
	if got, _ := valGetTodo(t, a, acc.Token, td.ID); !valSameTodo(got, td) {
		t.Errorf("todo = %+v, want unchanged %+v", got, td)
	}
}

// TestValidationTodoCreateEchoesStoredValues: the 201 body of a create is
// the todo as stored, so a client that caches it holds what GET answers. A
// due_date finer than PostgreSQL's microsecond must not come back with
// more precision than was stored. The same of a batch, and of Create's
// answer, is checked in services (TestCreateStoresWhatItAnswers).
func TestValidationTodoCreateEchoesStoredValues(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	const due = "2026-12-31T17:00:00.1234567Z"
	t.Run("create", func(t *testing.T) {
		a := sharedAPI(t)
		created, _ := createTodo(t, a, acc.Token, map[string]any{"title": "precise", "due_date": due})
		stored, _ := valGetTodo(t, a, acc.Token, created.ID)
		if !valSameTodo(created, stored) {
			t.Errorf("create answered due_date %v, GET answers %v", created.DueDate, stored.DueDate)
		}
	})
}

// ---------------------------------------------------------------------------
// todo patch

func TestValidationTodoPatch(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	seed := map[string]any{"title": "original", "description": "original description", "completed": false, "priority": 2, "due_date": "2027-01-01T00:00:00Z"}
	unchangedExcept := func(fields ...string) func(t *testing.T, before, after todo) {
		return func(t *testing.T, before, after todo) {
			if !slices.Contains(fields, "title") && after.Title != before.Title {
				t.Errorf("title = %q, want unchanged %q", after.Title, before.Title)
			}
			if !slices.Contains(fields, "description") && valDesc(after.Description) != valDesc(before.Description) {
				t.Errorf("description = %s, want unchanged %s", valDesc(after.Description), valDesc(before.Description))
			}
			if !slices.Contains(fields, "completed") && after.Completed != before.Completed {
				t.Errorf("completed = %v, want unchanged", after.Completed)
			}
			if !slices.Contains(fields, "priority") && after.Priority != before.Priority {
				t.Errorf("priority = %d, want unchanged %d", after.Priority, before.Priority)
			}
			if !slices.Contains(fields, "due_date") && (after.DueDate == nil || !after.DueDate.Equal(*before.DueDate)) {
				t.Errorf("due_date = %v, want unchanged %v", after.DueDate, before.DueDate)
			}
		}
	}
	// The rules a patch must meet are tabled in services, what each field
	// changes and leaves alone in TestUpdatePatch; here what the wire
	// decides (an empty object, a zero, null against absent), one change,
	// one refusal, and the ETag.
	cases := []struct {
		name   string
		body   any
		fields []string // the 422 fields; nil: 200
		check  func(t *testing.T, got todo, raw map[string]any)
		same   func(t *testing.T, before, after todo)
	}{
		{name: "empty object", body: `{}`, same: unchangedExcept()},
		{name: "title only", body: `{"title":"  renamed  "}`, check: valWantTitle("renamed"), same: unchangedExcept("title")},
		{name: "priority 0", body: `{"priority":0}`, check: valWantPriority(0), same: unchangedExcept("priority")},
		{name: "description null clears it", body: `{"description":null}`, check: valWantDescription(nil), same: unchangedExcept("description")},
		{name: "due_date null clears it", body: `{"due_date":null}`, check: valWantDue(""), same: unchangedExcept("due_date")},
		{name: "good and bad field together", body: `{"title":"fine","priority":9}`, fields: []string{"priority"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := sharedAPI(t)
			before, beforeTag := createTodo(t, a, acc.Token, seed)
			r := a.do(req{Method: "PATCH", Path: valTodoPath(before.ID), Token: acc.Token, Body: tc.body})
			if tc.fields != nil {
				valWantFields(t, r, 422, tc.fields...)
				after, afterTag := valGetTodo(t, a, acc.Token, before.ID)
				if !valSameTodo(after, before) || afterTag != beforeTag {
					t.Errorf("after a refused PATCH: %+v (ETag %s), want unchanged %+v (ETag %s)", after, afterTag, before, beforeTag)
				}
				return
			}
			expect(t, r, http.StatusOK)
			var got todo
			r.Decode(t, &got)
			if tc.check != nil {
				tc.check(t, got, valRawTodo(t, r))
			}
			tc.same(t, before, got)
			if !got.UpdatedAt.After(before.UpdatedAt) {
				t.Errorf("updated_at = %v, want after %v", got.UpdatedAt, before.UpdatedAt)
			}
			if !got.CreatedAt.Equal(before.CreatedAt) {
				t.Errorf("created_at = %v, want unchanged %v", got.CreatedAt, before.CreatedAt)
			}
			if tag := r.Header.Get("ETag"); tag == "" || tag == beforeTag {
				t.Errorf("ETag = %q, want a new one (was %q)", tag, beforeTag)
			}
			stored, _ := valGetTodo(t, a, acc.Token, before.ID)
			if !valSameTodo(stored, got) {
				t.Errorf("GET = %+v, want the PATCH response %+v", stored, got)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// users PATCH

// TestValidationUserPatch: a change to the current user through the
// router. The email, username, password and current_password rules are
// tabled in services (TestUpdateUserInputValidate), what a change stores
// and the current password check in TestUpdateUserCredentials, the user's
// own username in TestUpdateUserConflicts. Here one rule, one wrong
// current_password (its 422 comes from another path than the rules'), a
// username change, and an email change that ends the earlier tokens.
func TestValidationUserPatch(t *testing.T) {
	type ctx struct {
		a   *api
		acc account
	}
	cases := []struct {
		name   string
		body   func(c ctx) map[string]any
		status int
		fields []string
		check  func(t *testing.T, c ctx, sent map[string]any, got valUser)
	}{
		{
			name:   "username without current_password",
			body:   func(c ctx) map[string]any { return map[string]any{"username": valName("New_")} },
			status: 200,
			check: func(t *testing.T, c ctx, sent map[string]any, got valUser) {
				if got.Username != sent["username"] {
					t.Errorf("username = %q, want %q", got.Username, sent["username"])
				}
				login(t, c.a, sent["username"].(string), c.acc.Password)
			},
		},
		{name: "username 2 characters", body: func(ctx) map[string]any { return map[string]any{"username": "ab"} }, status: 422, fields: []string{"username"}},
		{name: "email with wrong current_password", body: func(ctx) map[string]any {
			return map[string]any{"email": valEmail(40), "current_password": "wrong password"}
		}, status: 422, fields: []string{"current_password"}},
		{
			name: "email with current_password, stored lower-cased",
			body: func(c ctx) map[string]any {
				return map[string]any{"email": "New." + strings.ToUpper(valName("m")) + "@Example.ORG", "current_password": c.acc.Password}
			},
			status: 200,
			check: func(t *testing.T, c ctx, sent map[string]any, got valUser) {
				want := strings.ToLower(sent["email"].(string))
				if got.Email != want {
					t.Errorf("email = %q, want %q", got.Email, want)
				}
				login(t, c.a, sent["email"].(string), c.acc.Password)
			},
		},
	}
	// A refused PATCH changes nothing (each case checks), so those share one
	// account; a successful one gets its own.
	shared := newAccount(t, sharedAPI(t))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := sharedAPI(t)
			c := ctx{a: a, acc: shared}
			if tc.status == 200 {
				c.acc = newAccount(t, a)
			}
			before := valMe(t, a, c.acc.Token)
			body := tc.body(c)
			r := a.do(req{Method: "PATCH", Path: valMePath, Token: c.acc.Token, Body: body})
			if tc.status != 200 {
				valWantFields(t, r, tc.status, tc.fields...)
				if after := valMe(t, a, c.acc.Token); after != before {
					t.Errorf("after a refused PATCH: %+v, want unchanged %+v", after, before)
				}
				login(t, a, c.acc.Username, c.acc.Password)
				return
			}
			var got valUser
			expect(t, r, http.StatusOK).Decode(t, &got)
			if tc.check != nil {
				tc.check(t, c, body, got)
			}
			for _, f := range []string{"username", "email"} {
				if s, ok := body[f].(string); ok {
					have := map[string]string{"username": got.Username, "email": got.Email}[f]
					want := s
					if f == "email" {
						want = strings.ToLower(s)
					}
					if have != want {
						t.Errorf("%s = %q, want %q", f, have, want)
					}
				}
			}
			token := c.acc.Token
			if _, changed := body["email"]; changed || body["password"] != nil {
				// A credential change ends every earlier token.
				expect(t, a.do(req{Method: "GET", Path: valMePath, Token: token}), http.StatusUnauthorized)
				pw, _ := body["password"].(string)
				if pw == "" {
					pw = c.acc.Password
				}
				token = login(t, a, got.Username, pw)
			}
			if after := valMe(t, a, token); after != got {
				t.Errorf("GET /users/me = %+v, want the PATCH response %+v", after, got)
			}
		})
	}
}

// TestValidationUserPatchConflicts: an email and a username taken by two
// other users answer one 409 naming both, and change nothing. Which are
// taken is tabled in services (TestUpdateUserConflicts).
func TestValidationUserPatchConflicts(t *testing.T) {
	a := sharedAPI(t)
	other := newAccount(t, a)
	third := newAccount(t, a)
	me := newAccount(t, a)
	before := valMe(t, a, me.Token)
	body := map[string]any{"email": strings.ToUpper(other.Email), "username": strings.ToUpper(third.Username), "current_password": me.Password}
	valWantFields(t, a.do(req{Method: "PATCH", Path: valMePath, Token: me.Token, Body: body}), http.StatusConflict, "email", "username")
	if after := valMe(t, a, me.Token); after != before {
		t.Errorf("after a conflict: %+v, want unchanged %+v", after, before)
	}
}

// ---------------------------------------------------------------------------
// every bad field listed

func TestValidationEveryBadFieldListed(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	td, _ := createTodo(t, a, acc.Token, map[string]any{"title": "target"})
	long := strings.Repeat("d", 10001)
	cases := []struct {
		name, method, path string
		token              string
		body               any
		want               []string
	}{
		{"register, all three invalid", "POST", valRegister, "", map[string]any{"email": "nope", "username": "a!", "password": "short"}, []string{"email", "username", "password"}},
		{"register, all three missing", "POST", valRegister, "", `{}`, []string{"email", "username", "password"}},
		{"register, invalid plus unknown plus read-only", "POST", valRegister, "", map[string]any{"email": "x@", "username": "ok_name_1", "password": "1", "is_active": false, "nickname": "n"}, []string{"email", "password", "is_active", "nickname"}},
		{"todo create, everything wrong", "POST", valTodosPath, acc.Token,
			map[string]any{"title": "   ", "description": long, "priority": 9, "completed": "yes", "due_date": "soon", "id": 7, "tags": []string{"x"}},
			[]string{"title", "description", "priority", "completed", "due_date", "id", "tags"}},
		{"todo create, title missing and type errors", "POST", valTodosPath, acc.Token, `{"priority":"high","completed":null}`, []string{"title", "priority", "completed"}},
		{"todo patch, everything wrong", "PATCH", valTodoPath(td.ID), acc.Token,
			map[string]any{"title": nil, "priority": nil, "completed": nil, "due_date": "x", "description": long, "user_id": 1},
			[]string{"title", "priority", "completed", "due_date", "description", "user_id"}},
		{"users patch, everything wrong", "PATCH", valMePath, acc.Token,
			map[string]any{"email": "bad", "username": "a", "password": "short", "is_active": false},
			[]string{"email", "username", "password", "current_password", "is_active"}},
		{"batch, several bad items", "POST", valBatchPath, acc.Token,
			`{"items":[{"title":""},{"title":"ok"},{"title":"ok","priority":7,"completed":1},5,{"id":1},{"title":"ok","due_date":"never"}]}`,
			[]string{"items[0].title", "items[2].priority", "items[2].completed", "items[3]", "items[4].id", "items[4].title", "items[5].due_date"}},
		{"batch, bad top-level field and empty items", "POST", valBatchPath, acc.Token, `{"items":[],"extra":1}`, []string{"items", "extra"}},
		{"batch, bad top-level field and a bad item", "POST", valBatchPath, acc.Token, `{"items":[{"title":""}],"user_id":1}`, []string{"items[0].title", "user_id"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := sharedAPI(t)
			r := a.do(req{Method: tc.method, Path: tc.path, Token: tc.token, Body: tc.body})
			valWantFields(t, r, 422, tc.want...)
		})
	}
	t.Run("nothing applied", func(t *testing.T) {
		a := sharedAPI(t)
		got, _ := valGetTodo(t, a, acc.Token, td.ID)
		if !valSameTodo(got, td) {
			t.Errorf("todo = %+v, want unchanged %+v", got, td)
		}
		if n := valTotal(t, a, acc.Token); n != 1 {
			t.Errorf("total = %d, want 1", n)
		}
	})
}

// ---------------------------------------------------------------------------
// mass assignment

func TestValidationMassAssignment(t *testing.T) {
	a := sharedAPI(t)
	victim := newAccount(t, a)
	// Refused requests change nothing, so one account serves every case;
	// each case checks its own before/after.
	me := newAccount(t, a)
	mine, _ := createTodo(t, a, me.Token, map[string]any{"title": "mine"})
	forbidden := []struct {
		field string
		value any
	}{
		{"id", 999999},
		{"user_id", victim.ID},
		{"created_at", "2000-01-01T00:00:00Z"},
		{"updated_at", "2000-01-01T00:00:00Z"},
		{"is_active", false},
		{"hashed_password", "$2a$04$abcdefghijklmnopqrstuuLhTN9LPq4kJz2i1pKnyxb3y8C6RGk5a"},
		// Keys differing only in case must not reach the fields either.
		{"ID", 999999},
		{"User_ID", victim.ID},
		{"Is_Active", false},
		{"owner", "someone"},
	}
	for _, f := range forbidden {
		t.Run(f.field, func(t *testing.T) {
			t.Run("register", func(t *testing.T) {
				a := sharedAPI(t)
				body := valRegisterBody(valEmail(40), valName("ma"), valPassword)
				body[f.field] = f.value
				valWantFields(t, a.do(req{Method: "POST", Path: valRegister, Body: body}), 422, f.field)
				// Nothing was created: the same registration without the
				// field succeeds, with server-chosen values.
				delete(body, f.field)
				var u valUser
				expect(t, a.do(req{Method: "POST", Path: valRegister, Body: body}), http.StatusCreated).Decode(t, &u)
				if u.ID == 999999 || !u.IsActive || u.CreatedAt.Year() == 2000 || u.UpdatedAt.Year() == 2000 {
					t.Errorf("registered user %+v carries a client-chosen value", u)
				}
				login(t, a, body["username"].(string), valPassword)
			})
			t.Run("users patch", func(t *testing.T) {
				a := sharedAPI(t)
				before := valMe(t, a, me.Token)
				body := map[string]any{"username": valName("changed"), f.field: f.value}
				valWantFields(t, a.do(req{Method: "PATCH", Path: valMePath, Token: me.Token, Body: body}), 422, f.field)
				if after := valMe(t, a, me.Token); after != before {
					t.Errorf("after a refused PATCH: %+v, want unchanged %+v", after, before)
				}
				login(t, a, me.Username, me.Password)
			})
			t.Run("todo create", func(t *testing.T) {
				a := sharedAPI(t)
				body := map[string]any{"title": "mass", f.field: f.value}
				valWantFields(t, a.do(req{Method: "POST", Path: valTodosPath, Token: me.Token, Body: body}), 422, f.field)
				if n := valTotal(t, a, me.Token); n != 1 {
					t.Errorf("total = %d after a refused create, want 1", n)
				}
				if n := valTotal(t, a, victim.Token); n != 0 {
					t.Errorf("victim's total = %d, want 0", n)
				}
			})
			t.Run("todo patch", func(t *testing.T) {
				a := sharedAPI(t)
				before, beforeTag := valGetTodo(t, a, me.Token, mine.ID)
				body := map[string]any{"title": "changed", f.field: f.value}
				valWantFields(t, a.do(req{Method: "PATCH", Path: valTodoPath(before.ID), Token: me.Token, Body: body}), 422, f.field)
				after, afterTag := valGetTodo(t, a, me.Token, before.ID)
				if !valSameTodo(after, before) || afterTag != beforeTag {
					t.Errorf("after a refused PATCH: %+v, want unchanged %+v", after, before)
				}
			})
			t.Run("batch item", func(t *testing.T) {
				a := sharedAPI(t)
				body := map[string]any{"items": []any{
					map[string]any{"title": "good"},
					map[string]any{"title": "mass", f.field: f.value},
				}}
				valWantFields(t, a.do(req{Method: "POST", Path: valBatchPath, Token: me.Token, Body: body}), 422, "items[1]."+f.field)
				if n := valTotal(t, a, me.Token); n != 1 {
					t.Errorf("total = %d after a refused batch, want 1", n)
				}
			})
		})
	}
}

// ---------------------------------------------------------------------------
// batch

func TestValidationBatch(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	good := func(n int) []any {
		items := make([]any, n)
		for i := range items {
			items[i] = map[string]any{"title": fmt.Sprintf("item %04d", i)}
		}
		return items
	}
	withBad := func(n, at int, bad any) []any {
		items := good(n)
		items[at] = bad
		return items
	}
	// The size and item rules are tabled in services (TestValidateBatch),
	// the order and storage of the most items a batch holds in
	// TestCreateBatchKeepsOrder; here one rule, what the wire decides
	// (items absent, null, not objects; not an array is in
	// TestValidationTodoJSONTypes), that a refused batch creates nothing,
	// and a batch answered in request order.
	cases := []struct {
		name string
		body any
		want []string
	}{
		{"items missing", `{}`, []string{"items"}},
		{"items null", `{"items":null}`, []string{"items"}},
		{"a rule, named by index", map[string]any{"items": withBad(5, 3, map[string]any{"title": "   "})}, []string{"items[3].title"}},
		{"items that are not objects", map[string]any{"items": []any{map[string]any{"title": "ok"}, nil, 42, "title", true, []any{map[string]any{"title": "x"}}}},
			[]string{"items[1]", "items[2]", "items[3]", "items[4]", "items[5]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := sharedAPI(t)
			before := valTotal(t, a, acc.Token)
			r := a.do(req{Method: "POST", Path: valBatchPath, Token: acc.Token, Body: tc.body})
			valWantFields(t, r, 422, tc.want...)
			if after := valTotal(t, a, acc.Token); after != before {
				t.Errorf("total = %d after a refused batch, want %d: nothing may be created", after, before)
			}
		})
	}
	t.Run("items in request order", func(t *testing.T) {
		a := sharedAPI(t)
		before := valTotal(t, a, acc.Token)
		items := make([]any, 3)
		for i := range items {
			items[i] = map[string]any{"title": fmt.Sprintf(" batch %04d ", i), "priority": i + 3, "completed": i%2 == 1}
		}
		r := expect(t, a.do(req{Method: "POST", Path: valBatchPath, Token: acc.Token, Body: map[string]any{"items": items}}), http.StatusCreated)
		var b struct{ Items []todo }
		r.Decode(t, &b)
		if len(b.Items) != len(items) {
			t.Fatalf("items = %d, want %d", len(b.Items), len(items))
		}
		for i, td := range b.Items {
			if want := fmt.Sprintf("batch %04d", i); td.Title != want || td.Priority != i+3 || td.Completed != (i%2 == 1) {
				t.Errorf("items[%d] = %q priority %d completed %v, want %q priority %d completed %v", i, td.Title, td.Priority, td.Completed, want, i+3, i%2 == 1)
			}
			if stored, _ := valGetTodo(t, a, acc.Token, td.ID); !valSameTodo(stored, td) {
				t.Errorf("GET items[%d] = %+v, want %+v", i, stored, td)
			}
		}
		if after := valTotal(t, a, acc.Token); after != before+int64(len(items)) {
			t.Errorf("total = %d, want %d", after, before+int64(len(items)))
		}
	})
}

// ---------------------------------------------------------------------------
// body format

// valEndpoint is a route that takes a JSON body.
type valEndpoint struct {
	name, method, path, token string
}

func valEndpoints(t testing.TB, a *api) []valEndpoint {
	t.Helper()
	acc := newAccount(t, a)
	td, _ := createTodo(t, a, acc.Token, map[string]any{"title": "format"})
	return []valEndpoint{
		{"register", "POST", valRegister, ""},
		{"login", "POST", valLogin, ""},
		{"users patch", "PATCH", valMePath, acc.Token},
		{"todo create", "POST", valTodosPath, acc.Token},
		{"batch", "POST", valBatchPath, acc.Token},
		{"todo patch", "PATCH", valTodoPath(td.ID), acc.Token},
	}
}

func TestValidationBodyFormat(t *testing.T) {
	a := sharedAPI(t)
	endpoints := valEndpoints(t, a)
	cases := []struct {
		name        string
		body        []byte
		contentType string // "" keeps application/json; "-" removes the header
		skipLogin   bool   // login accepts this content type
	}{
		{name: "trailing comma", body: []byte(`{"title":"a",}`)},
		{name: "unquoted key", body: []byte(`{title:"a"}`)},
		{name: "single quotes", body: []byte(`{'title':'a'}`)},
		{name: "truncated", body: []byte(`{"title":"a"`)},
		{name: "not JSON", body: []byte(`title=a`)},
		{name: "trailing garbage", body: []byte(`{"title":"a"} x`)},
		{name: "second object", body: []byte(`{"title":"a"}{}`)},
		{name: "trailing bracket", body: []byte(`{"title":"a"}]`)},
		{name: "array", body: []byte(`[{"title":"a"}]`)},
		{name: "string", body: []byte(`"title"`)},
		{name: "number", body: []byte(`42`)},
		{name: "boolean", body: []byte(`true`)},
		{name: "null", body: []byte(`null`)},
		{name: "empty body", body: []byte(``)},
		{name: "whitespace body", body: []byte(" \n\t ")},
		{name: "raw NUL byte in a string", body: []byte("{\"title\":\"a\x00b\"}")},
		{name: "raw newline in a string", body: []byte("{\"title\":\"a\nb\"}")},
		{name: "invalid UTF-8 in a string", body: []byte("{\"title\":\"\xff\xfe\"}")},
		{name: "overlong UTF-8", body: []byte("{\"title\":\"\xc0\xaf\"}")},
		{name: "UTF-8 encoded surrogate", body: []byte("{\"title\":\"\xed\xa0\x80\"}")},
		{name: "invalid UTF-8 in a key", body: []byte("{\"ti\xfftle\":\"a\"}")},
		{name: "UTF-16 body", body: []byte("\xff\xfe{\x00}\x00")},
		{name: "text/plain", body: []byte(`{"title":"a"}`), contentType: "text/plain"},
		{name: "no Content-Type", body: []byte(`{"title":"a"}`), contentType: "-"},
		{name: "application/xml", body: []byte(`{"title":"a"}`), contentType: "application/xml"},
		{name: "malformed Content-Type", body: []byte(`{"title":"a"}`), contentType: "application/json; ;="},
		{name: "form on a JSON route", body: []byte(`title=a`), contentType: "application/x-www-form-urlencoded", skipLogin: true},
	}
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			for _, tc := range cases {
				if tc.skipLogin && ep.name == "login" {
					continue
				}
				t.Run(tc.name, func(t *testing.T) {
					a := sharedAPI(t)
					h := map[string]string{}
					switch tc.contentType {
					case "":
					case "-":
						h["Content-Type"] = ""
					default:
						h["Content-Type"] = tc.contentType
					}
					r := a.do(req{Method: ep.method, Path: ep.path, Token: ep.token, Body: tc.body, Header: h})
					expect(t, r, http.StatusBadRequest)
				})
			}
		})
	}
	t.Run("accepted variants", func(t *testing.T) {
		a := sharedAPI(t)
		acc := newAccount(t, a)
		for _, tc := range []struct {
			name, body, contentType string
		}{
			{"trailing whitespace", "{\"title\":\"a\"} \r\n\t", "application/json"},
			{"leading whitespace", "\n  {\"title\":\"a\"}", "application/json"},
			{"charset parameter", `{"title":"a"}`, "application/json; charset=utf-8"},
			{"upper-case media type", `{"title":"a"}`, "Application/JSON"},
			{"escaped non-ASCII", `{"title":"caf\u00e9 \ud83d\ude00"}`, "application/json"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := sharedAPI(t)
				r := a.do(req{Method: "POST", Path: valTodosPath, Token: acc.Token, Body: tc.body, Header: map[string]string{"Content-Type": tc.contentType}})
				expect(t, r, http.StatusCreated)
			})
		}
	})
}

// valStream is a request body of unknown length: prefix, then fill bytes,
// then suffix, size bytes in all. It counts what the server reads.
type valStream struct {
	prefix, suffix []byte
	fill           byte
	size, off      int
}

func (s *valStream) Read(p []byte) (int, error) {
	if s.off >= s.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && s.off < s.size {
		switch {
		case s.off < len(s.prefix):
			p[n] = s.prefix[s.off]
		case s.off >= s.size-len(s.suffix):
			p[n] = s.suffix[s.off-(s.size-len(s.suffix))]
		default:
			p[n] = s.fill
		}
		n++
		s.off++
	}
	return n, nil
}

// valPadded is {"title":"x"} padded with spaces to exactly size bytes.
func valPadded(size int) []byte {
	const head, tail = `{"title":"x"`, `}`
	return []byte(head + strings.Repeat(" ", size-len(head)-len(tail)) + tail)
}

func TestValidationBodyLimit(t *testing.T) {
	a := sharedAPI(t)
	endpoints := valEndpoints(t, a)
	big := []byte(`{"title":"` + strings.Repeat("a", valBodyLimit) + `"}`)
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			t.Run("with Content-Length", func(t *testing.T) {
				a := sharedAPI(t)
				expect(t, a.do(req{Method: ep.method, Path: ep.path, Token: ep.token, Body: big}), http.StatusRequestEntityTooLarge)
			})
			t.Run("unknown length", func(t *testing.T) {
				a := sharedAPI(t)
				s := &valStream{prefix: []byte(`{"title":"`), suffix: []byte(`"}`), fill: 'a', size: 8 << 20}
				expect(t, a.do(req{Method: ep.method, Path: ep.path, Token: ep.token, Body: s}), http.StatusRequestEntityTooLarge)
				if s.off > 2*valBodyLimit {
					t.Errorf("server read %d bytes of an 8 MiB body, want it to stop near the %d-byte limit", s.off, valBodyLimit)
				}
			})
		})
	}
	t.Run("boundary", func(t *testing.T) {
		acc := newAccount(t, a)
		for _, tc := range []struct {
			name   string
			size   int
			status int
		}{
			{"exactly the limit", valBodyLimit, http.StatusCreated},
			{"one byte over", valBodyLimit + 1, http.StatusRequestEntityTooLarge},
		} {
			t.Run(tc.name+", with Content-Length", func(t *testing.T) {
				a := sharedAPI(t)
				expect(t, a.do(req{Method: "POST", Path: valTodosPath, Token: acc.Token, Body: valPadded(tc.size)}), tc.status)
			})
			t.Run(tc.name+", unknown length", func(t *testing.T) {
				a := sharedAPI(t)
				s := &valStream{prefix: []byte(`{"title":"x"`), suffix: []byte(`}`), fill: ' ', size: tc.size}
				expect(t, a.do(req{Method: "POST", Path: valTodosPath, Token: acc.Token, Body: s}), tc.status)
			})
		}
	})
	t.Run("Content-Length larger than the body sent", func(t *testing.T) {
		// The declared length alone answers 413, before any reading.
		acc := newAccount(t, a)
		r := a.do(req{Method: "POST", Path: valTodosPath, Token: acc.Token, Body: `{"title":"a"}`, ContentLength: valBodyLimit + 1})
		expect(t, r, http.StatusRequestEntityTooLarge)
	})
}

// ---------------------------------------------------------------------------
// NUL, nesting, SQL-shaped text

func TestValidationNUL(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	td, _ := createTodo(t, a, acc.Token, map[string]any{"title": "nul target"})
	// PostgreSQL cannot store a NUL in text; the rules refuse one in every
	// text field (services: TestTodoInputValidate, TestRegisterInputValidate,
	// TestUpdateUserInputValidate, TestValidateLogin). Here a todo and a
	// user each, through the router, and nothing reaches the database.
	cases := []struct {
		name, method, path, token string
		body                      map[string]any
		want                      []string
	}{
		{"todo patch title and description", "PATCH", valTodoPath(td.ID), acc.Token, map[string]any{"title": "a\x00", "description": "\x00"}, []string{"title", "description"}},
		{"users patch username", "PATCH", valMePath, acc.Token, map[string]any{"username": "ab\x00cd"}, []string{"username"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := sharedAPI(t)
			r := a.do(req{Method: tc.method, Path: tc.path, Token: tc.token, Body: tc.body})
			valWantFields(t, r, 422, tc.want...)
		})
	}
	t.Run("nothing stored", func(t *testing.T) {
		a := sharedAPI(t)
		if n := valTotal(t, a, acc.Token); n != 1 {
			t.Errorf("total = %d, want 1", n)
		}
		got, _ := valGetTodo(t, a, acc.Token, td.ID)
		if !valSameTodo(got, td) {
			t.Errorf("todo = %+v, want unchanged %+v", got, td)
		}
		if me := valMe(t, a, acc.Token); me.Username != acc.Username || me.Email != acc.Email {
			t.Errorf("user = %+v, want unchanged", me)
		}
	})
	// A NUL in login credentials is a client error (401 or 422), never a
	// 500, from a JSON body and from a form.
	for _, tc := range []struct {
		name string
		body any
		ct   string
	}{
		{"login JSON password", map[string]any{"username": acc.Username, "password": "pass\x00word"}, ""},
		{"login form username", "username=nul%00user&password=whatever1", "application/x-www-form-urlencoded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := sharedAPI(t)
			h := map[string]string{}
			if tc.ct != "" {
				h["Content-Type"] = tc.ct
			}
			valWantClientError(t, a.do(req{Method: "POST", Path: valLogin, Body: tc.body, Header: h}), http.StatusUnauthorized, http.StatusUnprocessableEntity)
		})
	}
}

func TestValidationDeepNesting(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	td, _ := createTodo(t, a, acc.Token, map[string]any{"title": "nest target"})
	for _, depth := range []int{64, 5000, 10001, 100000} {
		for _, kind := range []struct {
			name  string
			value func(int) string
		}{{"arrays", valNested}, {"objects", valNestedObject}} {
			v := kind.value(depth)
			cases := []struct{ name, method, path, token, body string }{
				{"todo title", "POST", valTodosPath, acc.Token, `{"title":` + v + `}`},
				{"todo description", "POST", valTodosPath, acc.Token, `{"title":"ok","description":` + v + `}`},
				{"todo priority", "POST", valTodosPath, acc.Token, `{"title":"ok","priority":` + v + `}`},
				{"todo unknown field", "POST", valTodosPath, acc.Token, `{"title":"ok","meta":` + v + `}`},
				{"todo patch due_date", "PATCH", valTodoPath(td.ID), acc.Token, `{"due_date":` + v + `}`},
				{"batch items", "POST", valBatchPath, acc.Token, `{"items":` + v + `}`},
				{"batch item", "POST", valBatchPath, acc.Token, `{"items":[{"title":"ok"},` + v + `]}`},
				{"batch item title", "POST", valBatchPath, acc.Token, `{"items":[{"title":` + v + `}]}`},
				{"register username", "POST", valRegister, "", `{"email":"n@example.com","username":` + v + `,"password":"12345678"}`},
				{"users patch email", "PATCH", valMePath, acc.Token, `{"email":` + v + `}`},
				{"whole body", "POST", valTodosPath, acc.Token, v},
			}
			for _, tc := range cases {
				t.Run(fmt.Sprintf("%s %d deep in %s", kind.name, depth, tc.name), func(t *testing.T) {
					a := sharedAPI(t)
					r := a.do(req{Method: tc.method, Path: tc.path, Token: tc.token, Body: tc.body})
					valWantClientError(t, r, http.StatusBadRequest, http.StatusUnprocessableEntity)
				})
			}
		}
	}
	t.Run("nothing stored", func(t *testing.T) {
		a := sharedAPI(t)
		if n := valTotal(t, a, acc.Token); n != 1 {
			t.Errorf("total = %d, want 1", n)
		}
		got, _ := valGetTodo(t, a, acc.Token, td.ID)
		if !valSameTodo(got, td) {
			t.Errorf("todo = %+v, want unchanged %+v", got, td)
		}
	})
}

// TestValidationSQLShapedText: SQL-shaped text sent as JSON and in the
// query string is stored and searched for as text.
func TestValidationSQLShapedText(t *testing.T) {
	a := sharedAPI(t)
	acc := newAccount(t, a)
	// One text through create, GET, PATCH and q=; the others (quotes,
	// comments, placeholders, LIKE and escape syntax) are in services
	// (TestSQLShapedTextIsData).
	texts := []string{valSQLishText}
	for i, s := range texts {
		t.Run(s, func(t *testing.T) {
			a := sharedAPI(t)
			created, _ := createTodo(t, a, acc.Token, map[string]any{"title": s, "description": s})
			if created.Title != s || valDesc(created.Description) != strconv.Quote(s) {
				t.Errorf("created title %q description %s, want both %q", created.Title, valDesc(created.Description), s)
			}
			got, _ := valGetTodo(t, a, acc.Token, created.ID)
			if got.Title != s || valDesc(got.Description) != strconv.Quote(s) {
				t.Errorf("stored title %q description %s, want both %q", got.Title, valDesc(got.Description), s)
			}
			// A PATCH stores it literally too.
			patched := s + " (patched)"
			r := expect(t, a.do(req{Method: "PATCH", Path: valTodoPath(created.ID), Token: acc.Token, Body: map[string]any{"title": patched}}), http.StatusOK)
			var p todo
			r.Decode(t, &p)
			if p.Title != patched {
				t.Errorf("patched title = %q, want %q", p.Title, patched)
			}
			// And it can be searched for as text.
			var page todoPage
			expect(t, a.do(req{Method: "GET", Path: valTodosPath + "?limit=100&q=" + url.QueryEscape(s), Token: acc.Token}), http.StatusOK).Decode(t, &page)
			found := false
			for _, it := range page.Items {
				found = found || it.ID == created.ID
			}
			if !found {
				t.Errorf("q=%q did not find the todo holding it (total %d)", s, page.Total)
			}
			if n := valTotal(t, a, acc.Token); n != int64(i+1) {
				t.Errorf("total = %d, want %d", n, i+1)
			}
		})
	}
	t.Run("tables intact", func(t *testing.T) {
		a := sharedAPI(t)
		login(t, a, acc.Username, acc.Password)
		if n := valTotal(t, a, acc.Token); n != int64(len(texts)) {
			t.Errorf("total = %d, want %d", n, len(texts))
		}
	})
}
